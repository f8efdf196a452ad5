package output

import (
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Outboxes share a budget far below the sum of their limits. One client
// stops reading: its unsent bytes fill the budget and, holding the most,
// it is cut (ErrOverBudget) before its own limit would cut it, while the
// clients that read — holding at most a few frames at a time, under the
// floor — receive every frame, before and after. Once all close, the budget holds
// nothing.
func TestBudgetCutsTheClientThatStoppedReading(t *testing.T) {
	const (
		limit  = 1 << 20 // each outbox's own
		budget = 256 << 10
		floor  = 64 << 10 // far above what a reader that keeps up holds
		frames = 4000
	)
	b := NewBudget(budget, floor)
	frame := make([]byte, 100)

	stuckServer, stuckClient := net.Pipe() // never read: writes block
	defer stuckClient.Close()
	stuckClosed := make(chan error, 1)
	stuck := NewOutbox(stuckServer, limit, 0, func(err error) { stuckClosed <- err })
	stuck.UseBudget(b)

	type reader struct {
		out  *Outbox
		got  int
		done chan struct{}
	}
	readers := make([]*reader, 2)
	for i := range readers {
		server, client := net.Pipe()
		r := &reader{out: NewOutbox(server, limit, 0, nil), done: make(chan struct{})}
		r.out.UseBudget(b)
		go func() {
			defer close(r.done)
			n, _ := io.Copy(io.Discard, client)
			r.got = int(n)
		}()
		readers[i] = r
	}

	var stuckErr error
	for i := 0; i < frames; i++ {
		if stuckErr == nil {
			stuckErr = stuck.Append(frame)
			stuck.Flush()
		}
		for _, r := range readers {
			// A client that keeps up: it never holds half the floor.
			for deadline := time.Now().Add(10 * time.Second); r.out.held.Load() > floor/2; time.Sleep(100 * time.Microsecond) {
				if time.Now().After(deadline) {
					t.Fatal("a reader did not read for 10 s")
				}
			}
			if err := r.out.Send(frame); err != nil {
				t.Fatalf("frame %d to a client that reads: %v (budget used %d)", i, err, b.Used())
			}
		}
	}
	if !errors.Is(stuckErr, ErrOverBudget) {
		t.Fatalf("the client that stopped reading: Append error %v, want ErrOverBudget", stuckErr)
	}
	if err := <-stuckClosed; !errors.Is(err, ErrOverBudget) {
		t.Fatalf("onClose(%v), want ErrOverBudget", err)
	}
	for _, r := range readers {
		r.out.Close()
		<-r.done
		if r.got != frames*len(frame) {
			t.Fatalf("a client that reads got %d bytes, want %d", r.got, frames*len(frame))
		}
	}
	<-stuck.Done()
	if used := b.Used(); used != 0 {
		t.Fatalf("budget holds %d bytes after every outbox closed", used)
	}
}

// Staged frames count once committed; a commit that would take an outbox
// holding more than the floor over the budget closes it.
func TestBudgetCountsCommits(t *testing.T) {
	b := NewBudget(1000, 100)
	var wg sync.WaitGroup
	server, client := net.Pipe()
	defer client.Close()
	o := NewOutbox(server, 1<<20, 0, nil)
	o.UseBudget(b)
	wg.Add(1)
	go func() { defer wg.Done(); <-o.Done() }()
	if _, err := o.Stage(make([]byte, 600)); err != nil {
		t.Fatal(err)
	}
	if err := o.Commit(0); err != nil {
		t.Fatalf("first commit, under the budget: %v", err)
	}
	if used := b.Used(); used != 600 {
		t.Fatalf("budget used %d after committing 600 bytes no one read", used)
	}
	if _, err := o.Stage(make([]byte, 600)); err != nil {
		t.Fatal(err)
	}
	if err := o.Commit(0); !errors.Is(err, ErrOverBudget) {
		t.Fatalf("commit over the budget: %v, want ErrOverBudget", err)
	}
	wg.Wait()
	if used := b.Used(); used != 0 {
		t.Fatalf("budget holds %d bytes after the outbox closed", used)
	}
}

// Without a limit the budget only counts.
func TestBudgetWithoutLimitCounts(t *testing.T) {
	b := NewBudget(0, 0)
	if !b.admit(nil, 0, 1<<40) || b.Used() != 1<<40 {
		t.Fatalf("a budget without a limit turned bytes away or lost count: used %d", b.Used())
	}
}

// A producer pacing itself on Pending (a resend) is told the budget's
// floor when that is below the outbox's limit, so it never holds enough
// to be cut.
func TestBudgetFloorPacesProducers(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	o := NewOutbox(server, 1<<20, 0, nil)
	defer o.Close()
	if _, limit := o.Pending(); limit != 1<<20 {
		t.Fatalf("no budget: limit %d, want the outbox's 1 MiB", limit)
	}
	o.UseBudget(NewBudget(1<<30, 64<<10))
	if _, limit := o.Pending(); limit != 64<<10 {
		t.Fatalf("with a budget: limit %d, want its 64 KiB floor", limit)
	}
}

// Outbox B holds 20 bytes (over the 10-byte floor) and adds 1 byte at a
// time, with the budget's true total at 21 of 100: it must always be
// admitted. Outbox A concurrently offers 200-byte frames, always refused.
// A's refused bytes were in used between its Add and its rollback, and
// B's admit read them: a slow-consumer disconnect with the budget unspent.
func TestBudgetRefusesNoOneForBytesNeverHeld(t *testing.T) {
	b := NewBudget(100, 10)
	b.used.Add(20) // B's held bytes
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			if b.admit(nil, 0, 200) {
				t.Error("A admitted")
				return
			}
		}
	})
	refused := 0
	for range 200_000 {
		if !b.admit(nil, 20, 1) {
			refused++
			continue
		}
		b.used.Add(-1) // B's writer writes it
	}
	stop.Store(true)
	wg.Wait()
	if refused > 0 {
		t.Errorf("B refused (ErrOverBudget: disconnected) %d times with the budget at 21 of 100 bytes", refused)
	}
}

// A client that stopped reading holds most of the budget; one that reads
// is handed a burst larger than the floor (a mass cancel's reports) that
// takes the budget over. The one that stopped reading is cut, at once out
// of the budget's count; the reader takes the burst and gets all of it.
// (Before, the budget cut the outbox it was handed bytes for: the reader.)
func TestBudgetCutsTheStalledClientNotTheOneHandedABurst(t *testing.T) {
	const (
		budget = 256 << 10
		floor  = 64 << 10
		burst  = 128 << 10
	)
	b := NewBudget(budget, floor)

	stuckServer, stuckClient := net.Pipe() // never read: writes block
	defer stuckClient.Close()
	stuck := NewOutbox(stuckServer, 1<<20, 0, nil)
	stuck.UseBudget(b)
	frame := make([]byte, 100)
	for range 2000 { // 200 KB: the budget is not spent yet
		if err := stuck.Send(frame); err != nil {
			t.Fatalf("the stalled client cut under the budget: %v", err)
		}
	}

	server, client := net.Pipe()
	got := make(chan int64, 1)
	go func() {
		n, _ := io.Copy(io.Discard, client)
		got <- n
	}()
	reader := NewOutbox(server, 1<<20, 0, nil)
	reader.UseBudget(b)
	if _, err := reader.Stage(make([]byte, burst)); err != nil {
		t.Fatal(err)
	}
	if err := reader.Commit(0); err != nil {
		t.Fatalf("the burst to the client that reads: %v (budget used %d)", err, b.Used())
	}
	if live := b.used.Load(); live > budget {
		t.Fatalf("the connections not cut hold %d bytes, over the %d budget", live, budget)
	}
	<-stuck.Done()
	if err := stuck.Err(); !errors.Is(err, ErrOverBudget) {
		t.Fatalf("the client that stopped reading closed with %v, want ErrOverBudget", err)
	}
	reader.Close()
	<-reader.Done()
	if n := <-got; n != burst {
		t.Fatalf("the client that reads got %d bytes, want %d", n, burst)
	}
	if used := b.Used(); used != 0 {
		t.Fatalf("budget holds %d bytes after every outbox closed", used)
	}
}

// nopConn takes nothing and closes: the outboxes of the admit table hold
// bytes the test says they hold, never written.
type nopConn struct{}

func (nopConn) Write(p []byte) (int, error) { select {} }
func (nopConn) Close() error                { return nil }

// Which frame a spent budget takes, and whom it cuts for it: budget 1000,
// floor 100; others hold what the table says, the outbox handed n bytes
// holds held.
func TestBudgetAdmitCutsThoseHoldingTheMost(t *testing.T) {
	for _, c := range []struct {
		name    string
		others  []int64
		held, n int64
		admit   bool
		cut     []int64 // what the outboxes cut held
	}{
		{"under the floor, always taken", []int64{990}, 0, 100, true, nil},
		{"the budget not spent", []int64{500}, 200, 300, true, nil},
		{"a burst cuts the one holding the most", []int64{600, 300}, 0, 500, true, []int64{600}},
		{"the most first, as many as it takes", []int64{400, 300, 200}, 50, 700, true, []int64{400, 300}},
		{"not one holding less than the outbox handed bytes", []int64{300, 200}, 350, 300, false, nil},
		{"the one holding the most is cut itself", []int64{300}, 500, 300, false, nil},
		{"none under the floor", []int64{90, 90}, 0, 900, false, nil},
		{"a frame more than the budget can take", []int64{300}, 0, 1200, false, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := NewBudget(1000, 100)
			hold := func(h int64) *Outbox {
				o := NewOutbox(nopConn{}, 1<<20, 0, nil)
				o.UseBudget(b)
				o.held.Store(h)
				b.used.Add(h)
				return o
			}
			var others []*Outbox
			for _, h := range c.others {
				others = append(others, hold(h))
			}
			handed := hold(c.held)
			if got := b.admit(handed, c.held, c.n); got != c.admit {
				t.Fatalf("admit %v, want %v", got, c.admit)
			}
			var cut []int64
			for i, o := range others {
				if o.held.Load()&cutMark != 0 {
					<-o.Done()
					if !errors.Is(o.Err(), ErrOverBudget) {
						t.Errorf("a cut outbox closed with %v", o.Err())
					}
					cut = append(cut, c.others[i])
				}
			}
			if !slices.Equal(cut, c.cut) {
				t.Errorf("cut outboxes holding %v, want %v", cut, c.cut)
			}
			var want int64
			if c.admit {
				want = c.n // admitted to no outbox's count: left over
			}
			for _, o := range append(others, handed) {
				o.closeWith(ErrClosed)
				<-o.Done()
			}
			if used := b.Used(); used != want {
				t.Errorf("budget holds %d bytes after every outbox closed, want %d", used, want)
			}
		})
	}
}

// Outboxes handed bursts of every size from several goroutines, half of
// them never read, cut one another over a small budget: no deadlock (a
// producer cuts while holding its outbox's lock), and once all close the
// budget holds nothing, in either count.
func TestBudgetCutsConcurrently(t *testing.T) {
	b := NewBudget(64<<10, 4<<10)
	var wg sync.WaitGroup
	var outs []*Outbox
	for i := range 8 {
		server, client := net.Pipe()
		defer client.Close()
		if i%2 == 0 {
			go io.Copy(io.Discard, client)
		}
		o := NewOutbox(server, 256<<10, 0, nil)
		o.UseBudget(b)
		outs = append(outs, o)
		wg.Go(func() {
			frame := make([]byte, 1+i*1500)
			for range 2000 {
				if i%3 == 0 {
					if o.Send(frame) != nil {
						return
					}
					continue
				}
				if _, err := o.Stage(frame); err != nil || o.Commit(0) != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	overBudget := 0
	for _, o := range outs {
		o.Close()
		<-o.Done()
		if errors.Is(o.Err(), ErrOverBudget) {
			overBudget++
		}
	}
	if overBudget == 0 { // the clients that never read hold more than the budget else
		t.Fatal("no outbox closed over the budget")
	}
	if used, cutting := b.used.Load(), b.cutting.Load(); used != 0 || cutting != 0 {
		t.Fatalf("budget holds %d bytes (%d of outboxes cut) after every outbox closed", used+cutting, cutting)
	}
	if len(b.outboxes) != 0 {
		t.Fatalf("budget still lists %d outboxes after every writer exited", len(b.outboxes))
	}
}
