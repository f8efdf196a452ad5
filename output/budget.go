package output

import (
	"errors"
	"sync/atomic"
)

// ErrOverBudget is returned (and the outbox closed) when the outboxes
// sharing a Budget hold more unsent bytes than it allows and this one
// holds more than the budget's floor: the client among the slowest is
// disconnected, as a slow consumer.
var ErrOverBudget = errors.New("output: the node's send budget is spent and this client holds more than its share")

// Budget bounds the bytes that all the outboxes sharing it hold unsent
// (appended or committed, not yet written to their connections). Each
// outbox has its own limit too; the budget bounds their sum, which the
// limits alone do not: a node's 1024 sessions at 16 MiB each and its 1024
// market-data subscribers at 8 MiB each may hold 24 GiB between them, on
// a machine whose memory the rings already take a share of.
//
// Over the budget, an outbox that would hold more than floor bytes is
// closed (ErrOverBudget) instead of taking more; one that holds less
// still takes its frames. So clients that keep up — a few frames unsent
// at any moment — lose nothing while slow ones fill the budget, and the
// bytes held stay below the budget plus floor per outbox.
type Budget struct {
	limit, floor int64
	used         atomic.Int64
}

// NewBudget returns a budget of limit bytes (0: none, the outboxes are
// bounded by their own limits only) under which an outbox holding at
// most floor bytes is never cut.
func NewBudget(limit, floor int64) *Budget { return &Budget{limit: limit, floor: floor} }

// Used is the bytes the outboxes sharing b hold unsent.
func (b *Budget) Used() int64 { return b.used.Load() }

// admit charges n more bytes to an outbox holding held, unless that takes
// the budget over its limit and the outbox over the floor.
//
// It charges only what it admits (compare-and-swap): adding first and
// taking a refused frame back let another outbox's admit see bytes that
// were never held, and refuse it, over a budget that was not spent.
func (b *Budget) admit(held, n int64) bool {
	for {
		used := b.used.Load()
		if b.limit > 0 && used+n > b.limit && held+n > b.floor {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

// UseBudget has o count its unsent bytes against b. Call it before the
// first frame.
func (o *Outbox) UseBudget(b *Budget) {
	o.mu.Lock()
	o.budget = b
	o.mu.Unlock()
}

// charge counts n bytes entering pending against the budget, or reports
// false (and counts nothing) when the budget turns them away. Called with
// o.mu held.
func (o *Outbox) charge(n int) bool {
	if o.budget == nil {
		return true
	}
	if !o.budget.admit(o.held.Load(), int64(n)) {
		return false
	}
	o.held.Add(int64(n))
	return true
}

// release gives back n bytes the writer has written.
func (o *Outbox) release(n int64) {
	if o.budget != nil {
		o.held.Add(-n)
		o.budget.used.Add(-n)
	}
}

// releaseAll gives back what the outbox still holds when its writer
// exits: no frame is charged once it is closed.
func (o *Outbox) releaseAll() {
	if o.budget != nil {
		o.budget.used.Add(-o.held.Swap(0))
	}
}
