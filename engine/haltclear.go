package engine

// Clearing a halted book in chunks. A halt with CancelOrders cancels
// every resting order of its instrument at its input: from then on none
// trades, is amended or is joined by another (the book is halted, and a
// resume waits for the clear's end). Their reports — one EvCancelled
// each, CancelInstrumentHalted — come at most Config.HaltClearChunk an
// input: the halt's input emits the first chunk after its EvHalted, and
// every later input, whatever it is, emits the next chunk before its own
// events, until the book is empty. So one input never holds the engine
// for more than a chunk of cancels (a book can hold MaxLiveOrders:
// 0.43–0.48 s in one input, doc.go), and the output rings take a chunk an
// input, not the book.
//
// Determinism: the chunks are counted in inputs only — never in time or
// in ring space — so a replay of the same inputs emits the same events
// at the same inputs. Books clearing together take the input's chunk in
// instrument id order. The clearing (book.clearing, book.resumeCleared)
// is state: in snapshots (version 4) and StateHash; a snapshot taken
// mid-clear restores to an engine that goes on as the one it was taken
// from. An input without a command of its own (CmdNoop) clears its chunk
// too: a node with nothing else to apply sends those while a clear is
// pending (Clearing), so that the reports do not wait for trading.
//
// Meanwhile the orders are still in the book, each answered as the
// clear would answer it: a cancel, a mass cancel or a suspension of its
// account cancels it with CancelInstrumentHalted (to whom that command
// answers); a replace is refused (ReasonInstrumentHalted); a status
// request lists it (live until its report is emitted), and it counts
// against its account's MaxOpenOrders and the engine's MaxLiveOrders
// until then.

// clearMore spends the input's chunk on the books still clearing, in id
// order.
func (e *Engine) clearMore() {
	for bi := range e.books {
		if e.clearBudget == 0 || e.clearing == 0 {
			return
		}
		if b := &e.books[bi]; b.clearing {
			e.clearBook(b)
		}
	}
}

// clearBook cancels up to the input's remaining chunk of b's resting
// orders (CancelInstrumentHalted): the bids, then the asks, each side best
// level first and each level in time priority — the order they would
// have traded in, which the book gives without a sort and the same on
// every replay. Market data hears of each level once, as it goes
// (emptying): a level event per order told subscribers of states no
// input could see, and a deep book's (1 000 000 orders on 1 000 levels:
// 1 000 000 events, 1 000 now) cut them off as slow consumers. A level
// the chunk ends inside is told as it is left, the state the next inputs
// see. The chunk that finds the book empty ends the clear (its owners
// may have cancelled the last orders first), and resumes the book if a
// resume came meanwhile.
func (e *Engine) clearBook(b *book) {
	e.emptying = true
	for _, s := range [...]Side{Buy, Sell} {
		sd := b.side(s)
		// cancelResting drops a level with its last order: the next
		// best comes up until the side is empty.
		li, last := sd.bestLevel(), int32(-1)
		for ; li >= 0 && e.clearBudget > 0; li = sd.bestLevel() {
			last = li
			e.cancelResting(b, e.levels[li].head, CancelInstrumentHalted)
			e.clearBudget--
		}
		if li >= 0 { // the chunk is spent
			e.emptying = false
			if li == last { // inside this level: told as it is left
				lv := e.levels[li]
				e.emitLevel(b, s, &lv)
			}
			return
		}
	}
	e.emptying = false
	b.clearing = false
	e.clearing--
	if b.resumeCleared {
		b.resumeCleared, b.halted = false, false
		ev := e.start(EvResumed)
		ev.Instrument = b.inst.ID
		e.emit()
	}
}

// Clearing reports whether a halt with CancelOrders is still cancelling
// the instrument's resting orders (haltclear.go).
func (e *Engine) Clearing(instrument uint32) bool {
	b := e.bookOf(instrument)
	return b != nil && b.clearing
}

// ClearPending reports whether any book is still being cleared: every
// input, a CmdNoop too, clears a chunk more.
func (e *Engine) ClearPending() bool { return e.clearing > 0 }
