package engine

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A copy taken in steps while the engine trades is, once finished, the
// state at FinishCopy: pool for pool, element for element, and so in its
// encoding — across sweeps that span hundreds of commands, pools that
// grow during the sweep, copies finished before their sweep is done, and
// one StateCopy reused copy after copy.
func TestSteppedCopyIsTheStateAtFinish(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		e, _ := NewEngine(randomConfig(), discard{}) // pools of 1024: they grow during copies
		g := commandGen{rng: rand.New(rand.NewSource(seed))}
		rng := rand.New(rand.NewSource(seed + 100))
		apply := func(n int) {
			for range n {
				cmd := g.next()
				cmd.CancelOrders = false // the books must grow past the pools' first size: no halt clears them
				switch r := rng.Intn(6000); {
				case r == 0: // now and then the books shrink
					cmd = Command{Seq: cmd.Seq, Timestamp: cmd.Timestamp, Type: CmdMassCancel, Account: uint32(1 + rng.Intn(4))}
				case r < 2000: // and they grow: bids far below the touch
					cmd = Command{Seq: cmd.Seq, Timestamp: cmd.Timestamp, Type: CmdNewOrder, Account: uint32(1 + 3*rng.Intn(2)),
						Instrument: 3, Side: Buy, OrderType: Limit, TIF: GTC, Price: int64(1 + rng.Intn(300)), Quantity: 1}
				}
				e.Apply(&cmd)
			}
		}
		var c StateCopy
		swept, unswept := 0, 0
		for copies := 0; copies < 12; copies++ {
			apply(rng.Intn(3000))
			e.BeginCopy(&c)
			budget := 64 << rng.Intn(8) // 64 bytes to 8 KiB a step
			steps := rng.Intn(400)
			done := false
			reserving := copies%2 == 0 // as a node's driver does between steps
			for s := 0; s < steps && !done; s++ {
				apply(rng.Intn(4))
				if reserving {
					c.Reserve(e.Sizes())
				}
				done = e.CopyMore(budget)
			}
			if done {
				swept++
				apply(rng.Intn(200))
			} else {
				unswept++
			}
			e.FinishCopy()
			if e.Copying() {
				t.Fatal("a copy is still open after FinishCopy")
			}
			if !slices.Equal(c.orders, e.orders) || !slices.Equal(c.levels, e.levels) {
				t.Fatalf("seed %d copy %d (budget %d, %d steps): the copied pools differ from the engine's", seed, copies, budget, steps)
			}
			want := e.AppendSnapshot(nil)
			if got := c.AppendSnapshot(nil); !bytes.Equal(got, want) {
				t.Fatalf("seed %d copy %d: the copy encodes %d bytes, the engine %d, not the same", seed, copies, len(got), len(want))
			}
			apply(500) // the engine goes on; the finished copy does not move
			if got := c.AppendSnapshot(nil); !bytes.Equal(got, want) {
				t.Fatalf("seed %d copy %d: the copy changed after FinishCopy", seed, copies)
			}
		}
		if swept == 0 || unswept == 0 {
			t.Fatalf("seed %d: %d copies finished after their sweep, %d before: not both kinds", seed, swept, unswept)
		}
		if orders, _ := e.Sizes(); orders <= 1024 {
			t.Fatalf("seed %d: the order pool never grew (%d)", seed, orders)
		}
	}
}

// With the copy reserved, a stepped copy allocates nothing on the
// engine's goroutine.
func TestSteppedCopyReservedAllocatesNothing(t *testing.T) {
	e := randomlyTraded(3)
	var unreserved StateCopy
	if !e.BeginCopy(&unreserved) {
		t.Fatal("BeginCopy into an empty copy reports it did not grow it")
	}
	e.DropCopy()
	var c StateCopy
	c.Reserve(e.Sizes())
	if e.BeginCopy(&c) { // allocates the changed-marks' memory only
		t.Fatal("BeginCopy into a reserved copy reports it grew it")
	}
	for !e.CopyMore(4096) {
	}
	e.FinishCopy()
	allocs := testing.AllocsPerRun(20, func() {
		e.BeginCopy(&c)
		for !e.CopyMore(4096) {
		}
		e.FinishCopy()
	})
	if allocs != 0 && !raceEnabled {
		t.Fatalf("%.1f allocations per stepped copy, want 0", allocs)
	}
}

// A book that grows during a stepped copy — here to five times its size,
// past the reservation's quarter to spare and past the changed-marks'
// reach — grows the copy only where the copy is Reserved between steps:
// FinishCopy then has nothing to allocate, and the copy is still the
// state at finish. Without those reservations FinishCopy grows it (and
// says so).
func TestSteppedCopyFollowsGrowingPools(t *testing.T) {
	for _, reserveBetweenSteps := range []bool{true, false} {
		e, _ := NewEngine(randomConfig(), discard{})
		seq := int64(0)
		rest := func(n int) {
			for range n {
				seq++
				cmd := Command{Seq: seq, Timestamp: seq, Type: CmdNewOrder, Account: 1, Instrument: 3,
					Side: Buy, OrderType: Limit, TIF: GTC, Price: 1 + seq%5000, Quantity: 1}
				e.Apply(&cmd)
			}
		}
		rest(2000)
		before, _ := e.Sizes()
		var c StateCopy
		c.Reserve(e.Sizes())
		if e.BeginCopy(&c) {
			t.Fatal("BeginCopy into a reserved copy reports it grew it")
		}
		for done := false; !done; {
			if reserveBetweenSteps {
				c.Reserve(e.Sizes()) // the driving goroutine's part
			}
			if orders, _ := e.Sizes(); orders < 5*before {
				rest(100)
			}
			done = e.CopyMore(2048)
		}
		if orders := len(e.orders); reserveBetweenSteps && c.orderSweep.done < min(orders, c.orderSweep.marked) {
			t.Errorf("the sweep stopped at order %d of %d (marks reach %d): FinishCopy copies the growth in one go",
				c.orderSweep.done, orders, c.orderSweep.marked)
		}
		grew := e.FinishCopy()
		if grew == reserveBetweenSteps {
			t.Errorf("reserved between steps %v: FinishCopy reports grew %v", reserveBetweenSteps, grew)
		}
		if orders, _ := e.Sizes(); orders < 5*before {
			t.Fatalf("the order pool grew from %d to %d only: not past the marks' reach", before, orders)
		}
		if !slices.Equal(c.orders, e.orders) || !slices.Equal(c.levels, e.levels) {
			t.Fatalf("reserved between steps %v: the copied pools differ from the engine's", reserveBetweenSteps)
		}
		if got, want := c.AppendSnapshot(nil), e.AppendSnapshot(nil); !bytes.Equal(got, want) {
			t.Fatalf("reserved between steps %v: the copy encodes differently from the engine", reserveBetweenSteps)
		}
	}
}

// A sweep that reached the end of a pool inside a piece (10 levels; a
// piece is 16), then a change to the swept part of that piece and a pool
// that grew: the next step resumes inside the piece and must copy the
// change, whose mark it clears. It cleared the mark and copied from where
// it had stopped, so the finished copy held the level as it was.
func TestSteppedCopyResumesInsideAPiece(t *testing.T) {
	e, _ := NewEngine(randomConfig(), discard{})
	seq := int64(0)
	place := func(price, qty int64) {
		seq++
		e.Apply(&Command{Seq: seq, Timestamp: seq, Type: CmdNewOrder, Account: 1, Instrument: 3,
			Side: Buy, OrderType: Limit, TIF: GTC, Price: price, Quantity: qty})
	}
	for p := int64(100); p < 110; p++ { // 10 levels and 10 orders: no whole number of pieces
		place(p, 1)
	}
	var c StateCopy
	e.BeginCopy(&c)
	if !e.CopyMore(1 << 20) {
		t.Fatal("not swept in one step")
	}
	place(103, 5)        // a swept level changes
	place(200, 1)        // and the pools grow past the sweep's end
	c.Reserve(e.Sizes()) // as the node does between steps
	e.CopyMore(1 << 20)
	e.FinishCopy()
	if !slices.Equal(c.orders, e.orders) || !slices.Equal(c.levels, e.levels) {
		t.Fatalf("the copied pools differ from the engine's:\nlevels %+v\nengine %+v", c.levels, e.levels)
	}
}

// The source holds the copy's invariant: outside the functions allowed
// below, an element of e.orders or e.levels is written, or its address
// taken, only through changeOrder and changeLevel, and the pools are
// never passed around or aliased — each would be a write the open copy
// does not see.
func TestPoolWritesGoThroughChange(t *testing.T) {
	allowed := map[string]bool{
		"changeOrder": true, "changeLevel": true, // the marking accessors
		"newOrder": true, "newLevel": true, // append past the sweep's end: the sweep, or FinishCopy, copies it
		"newEngine": true, "takePools": true, "mapPools": true, // no copy open yet: NewEngine and Renew build the engine
		"Sizes": true, "CopyState": true, "AppendSnapshot": true, "BeginCopy": true, "CopyMore": true, "FinishCopy": true, // read
		"orderByID": true, "orderByClOrd": true, "index": true, "unindex": true, "reindexClOrd": true, // the indexes read keys from the pool
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil || allowed[fn.Name.Name] {
				continue
			}
			var stack []ast.Node
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if n == nil {
					stack = stack[:len(stack)-1]
					return false
				}
				if sel, ok := n.(*ast.SelectorExpr); ok && isPool(sel) {
					checked++
					if why := poolUse(stack); why != "" {
						t.Errorf("%s: e.%s in %s: %s outside changeOrder/changeLevel", fset.Position(sel.Pos()), sel.Sel.Name, fn.Name.Name, why)
					}
				}
				stack = append(stack, n)
				return true
			})
		}
	}
	if checked < 20 {
		t.Fatalf("only %d uses of the pools found: the check does not see them", checked)
	}
}

func isPool(sel *ast.SelectorExpr) bool {
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == "e" && (sel.Sel.Name == "orders" || sel.Sel.Name == "levels")
}

// poolUse says what is wrong with a use of e.orders or e.levels whose
// enclosing nodes are stack (innermost last), or "" for a read.
func poolUse(stack []ast.Node) string {
	parent := stack[len(stack)-1]
	if call, ok := parent.(*ast.CallExpr); ok {
		if f, ok := call.Fun.(*ast.Ident); ok && (f.Name == "len" || f.Name == "cap") {
			return ""
		}
		return "the pool passed to a call"
	}
	if _, ok := parent.(*ast.IndexExpr); !ok {
		return "the pool used whole"
	}
	// e.pool[i], then any field selections: written or address taken?
	var child ast.Node
	for i := len(stack) - 1; i >= 0; i, child = i-1, stack[i] {
		switch n := stack[i].(type) {
		case *ast.IndexExpr:
			if child == nil || n.X == child {
				continue
			}
		case *ast.SelectorExpr:
			if n.X == child {
				continue
			}
		case *ast.ParenExpr:
			continue
		case *ast.UnaryExpr:
			if n.Op == token.AND {
				return "an element's address taken"
			}
		case *ast.AssignStmt:
			for _, l := range n.Lhs {
				if contains(l, stack, i) {
					return "an element written"
				}
			}
		case *ast.IncDecStmt:
			return "an element written"
		}
		return ""
	}
	return ""
}

// contains reports whether expression l is one of the nodes above
// position i of stack (the use's chain of selections).
func contains(l ast.Expr, stack []ast.Node, i int) bool {
	for _, n := range stack[i+1:] {
		if n == ast.Node(l) {
			return true
		}
	}
	return false
}
