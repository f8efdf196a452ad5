package output

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Outboxes share a budget far below the sum of their limits. One client
// stops reading: its unsent bytes fill the budget and it is cut
// (ErrOverBudget) before its own limit would cut it, while the clients
// that read — holding at most a few frames at a time, under the floor —
// receive every frame, before and after. Once all close, the budget holds
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
	if !b.admit(0, 1<<40) || b.Used() != 1<<40 {
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
			if b.admit(0, 200) {
				t.Error("A admitted")
				return
			}
		}
	})
	refused := 0
	for range 200_000 {
		if !b.admit(20, 1) {
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
