package output

import (
	"cmp"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
)

// ErrOverBudget is returned (and the outbox closed) when the outboxes
// sharing a Budget hold more unsent bytes than it allows and this one,
// over the budget's floor, is among those holding the most: the client
// that stopped reading is disconnected, as a slow consumer.
var ErrOverBudget = errors.New("output: the node's send budget is spent and this client holds more than its share")

// Budget bounds the bytes that all the outboxes sharing it hold unsent
// (appended or committed, not yet written to their connections). Each
// outbox has its own limit too; the budget bounds their sum, which the
// limits alone do not: a node's 1024 sessions at 16 MiB each and its 1024
// market-data subscribers at 8 MiB each may hold 24 GiB between them, on
// a machine whose memory the rings already take a share of.
//
// An outbox that would hold at most floor bytes always takes its frames:
// a client that keeps up holds a few frames at a time. Over the budget, a
// frame that would take its outbox past the floor makes room by cutting
// the outboxes that hold more than that one already does (and more than
// the floor), the most first: the clients that stopped reading, not one
// that reads and is handed a burst (a mass cancel's reports). When those
// do not hold enough between them, the frame's own outbox is closed
// instead (ErrOverBudget): it holds the most, or the frame alone is more
// than the budget can take.
//
// The bound: the outboxes not cut hold at most the budget plus floor each
// (used). A cut outbox's bytes leave that count at once, for cutting,
// and are given back when its writer exits — promptly: its connection is
// closed under it (CloseNow), or its cut's frame written, and the close
// that waits for its client to take the frame comes after (closeTaken).
// Used counts both, so it may exceed the
// bound by what the outboxes just cut hold, for that moment. (Counting a
// cut outbox's bytes against the budget until its writer exited would
// cut the next outbox handed bytes meanwhile, however fast it reads.)
type Budget struct {
	limit, floor int64
	// used is the bytes held by the outboxes not cut.
	// Invariant: used <= limit + floor × the outboxes sharing b (a frame
	// takes used over limit only into an outbox left holding <= floor).
	used atomic.Int64
	// cutting is the bytes still held by outboxes cut to make room, given
	// back by their writers.
	cutting atomic.Int64

	mu sync.Mutex
	// outboxes are those sharing b whose writers have not exited: the
	// ones a frame over the budget may cut. Only with a limit.
	outboxes map[*Outbox]struct{}
}

// cutMark is set in an outbox's held when the budget cuts it: its bytes
// count in cutting from then on, not in used, and it takes no more.
const cutMark = 1 << 62

// NewBudget returns a budget of limit bytes (0: none, the outboxes are
// bounded by their own limits only) under which an outbox holding at
// most floor bytes is never cut.
func NewBudget(limit, floor int64) *Budget {
	return &Budget{limit: limit, floor: floor, outboxes: make(map[*Outbox]struct{})}
}

// Limit is the budget's limit in bytes (0: none): what a client cut by
// it is told was spent.
func (b *Budget) Limit() int64 { return b.limit }

// Used is the bytes the outboxes sharing b hold unsent, those of the
// outboxes it cut included until their writers exit.
func (b *Budget) Used() int64 { return b.used.Load() + b.cutting.Load() }

// admit charges n more bytes to o, an outbox holding held, unless that
// takes the budget over its limit and o over the floor and cutting the
// outboxes holding more than o does not make room.
//
// It charges only what it admits (compare-and-swap): adding first and
// taking a refused frame back let another outbox's admit see bytes that
// were never held, and refuse it, over a budget that was not spent.
func (b *Budget) admit(o *Outbox, held, n int64) bool {
	for {
		used := b.used.Load()
		if b.limit > 0 && used+n > b.limit && held+n > b.floor {
			// Cuts at least one outbox, or refuses: at most as many
			// rounds as outboxes.
			if !b.makeRoom(o, held, used+n-b.limit) {
				return false
			}
			continue
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

// makeRoom cuts outboxes other than o that hold more than held and more
// than the floor, the most first, until they have given need bytes of
// used; it cuts none and reports false when they hold less than that
// between them. The slow path: a true return cuts a connection.
func (b *Budget) makeRoom(o *Outbox, held, need int64) bool {
	type holding struct {
		out  *Outbox
		held int64
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if o != nil && o.held.Load()&cutMark != 0 {
		return false // o was cut meanwhile: it takes nothing more
	}
	var more []holding
	var sum int64
	for x := range b.outboxes {
		if h := x.held.Load(); x != o && h&cutMark == 0 && h > held && h > b.floor {
			more = append(more, holding{x, h})
			sum += h
		}
	}
	if sum < need {
		return false
	}
	slices.SortFunc(more, func(a, c holding) int { return cmp.Compare(c.held, a.held) })
	for _, x := range more {
		if need <= 0 {
			break
		}
		need -= b.cut(x.out)
	}
	return true
}

// cut moves what x holds from used to cutting and closes x (ErrOverBudget),
// returning the bytes moved. Called with b.mu held, which every cut takes:
// x is cut once. The close runs on its own goroutine: the caller holds
// its outbox's lock, and x's producer may hold x's while it waits for
// b.mu.
func (b *Budget) cut(x *Outbox) int64 {
	h := x.held.Load()
	for !x.held.CompareAndSwap(h, h|cutMark) {
		h = x.held.Load()
	}
	b.cutting.Add(h) // before used gives them up: an admit meanwhile sees them spent
	b.used.Add(-h)
	go x.closeWith(ErrOverBudget)
	return h
}

// UseBudget has o count its unsent bytes against b. Call it before the
// first frame.
func (o *Outbox) UseBudget(b *Budget) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.budget = b
	if b != nil && b.limit > 0 && !o.closed { // once closed its writer may have exited: nothing would forget it
		b.mu.Lock()
		b.outboxes[o] = struct{}{}
		b.mu.Unlock()
	}
}

// charge counts n bytes entering pending against the budget, or reports
// false (and counts nothing) when the budget turns them away or has cut
// the outbox. Called with o.mu held.
func (o *Outbox) charge(n int) bool {
	b := o.budget
	if b == nil {
		return true
	}
	held := o.held.Load()
	if held&cutMark != 0 || !b.admit(o, held, int64(n)) {
		return false
	}
	if o.held.Add(int64(n))&cutMark != 0 {
		// Cut since the Load: the cut moved to cutting what o held then,
		// not these bytes, which its writer will give back to cutting.
		// They go with the rest; the cut closes o.
		b.cutting.Add(int64(n))
		b.used.Add(-int64(n))
	}
	return true
}

// release gives back n bytes the writer has written: to cutting once the
// budget has cut the outbox (the cut moved them there), else to used.
func (o *Outbox) release(n int64) {
	if b := o.budget; b != nil {
		if o.held.Add(-n)&cutMark != 0 {
			b.cutting.Add(-n)
		} else {
			b.used.Add(-n)
		}
	}
}

// releaseAll gives back what the outbox still holds when its writer
// exits: no frame is charged once it is closed. It is no longer one the
// budget may cut.
func (o *Outbox) releaseAll() {
	o.mu.Lock()
	b := o.budget
	o.mu.Unlock()
	if b == nil {
		return
	}
	b.mu.Lock()
	delete(b.outboxes, o)
	b.mu.Unlock()
	// Nothing changes held now: no cut after the delete (cuts take b.mu
	// and look in b.outboxes), no charge once closed, and this is the
	// writer. A cut outbox stays marked.
	h := o.held.Load()
	o.held.Store(h & cutMark)
	if h&cutMark != 0 {
		b.cutting.Add(-(h &^ cutMark))
	} else {
		b.used.Add(-h)
	}
}
