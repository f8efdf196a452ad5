package engine

import "fmt"

// checkInvariants verifies the structural invariants of every book:
// levels sorted and non-empty, each window slot empty (-1, its bit clear)
// or holding the level of its price, level totals equal their orders, no
// resting order with zero or negative leaves, no crossed book, maps and
// account lists agree with the books.
func checkInvariants(e *Engine) error {
	live, withClOrd := 0, 0
	perAccount := map[uint32]int64{}
	for bi := range e.books {
		b := &e.books[bi]
		for _, s := range []*side{&b.bids, &b.asks} {
			if err := s.out.Check(); err != nil {
				return fmt.Errorf("inst %d: overflow levels: %w", b.inst.ID, err)
			}
			for p := s.out.First(); p.Valid(); p = s.out.Next(p) {
				k, _ := s.out.At(p)
				if _, in := s.slot(s.key(k)); in {
					return fmt.Errorf("inst %d: overflow level %d inside the window", b.inst.ID, s.key(k))
				}
			}
			if err := checkWindow(e, s); err != nil {
				return fmt.Errorf("inst %d: %w", b.inst.ID, err)
			}
			if s.out.Len() == 0 && s.outTop != -1 {
				return fmt.Errorf("inst %d: overflow empty, top %d", b.inst.ID, s.outTop)
			}
			if s.out.Len() > 0 {
				if k, li := s.out.At(s.out.Last()); k != s.outTopKey || li != s.outTop {
					return fmt.Errorf("inst %d: overflow top %d@%d, last %d@%d", b.inst.ID, s.outTop, s.outTopKey, li, k)
				}
			}
			var order []int32
			s.each(func(li int32) bool { order = append(order, li); return true })
			if len(order) != s.depth() {
				return fmt.Errorf("inst %d: iterated %d levels, depth %d", b.inst.ID, len(order), s.depth())
			}
			for i, li := range order {
				lv := &e.levels[li]
				if i > 0 && s.key(e.levels[order[i-1]].price) <= s.key(lv.price) {
					return fmt.Errorf("inst %d: levels not best first at %d", b.inst.ID, lv.price)
				}
				if s.lookup(lv.price) != li {
					return fmt.Errorf("inst %d: lookup of level %d wrong", b.inst.ID, lv.price)
				}
				var qty int64
				var n uint32
				for oi := lv.head; oi >= 0; oi = e.orders[oi].next {
					o := &e.orders[oi]
					if o.leaves <= 0 || o.price != lv.price || o.level != li || o.qty != o.leaves+o.filled {
						return fmt.Errorf("inst %d: bad order %d at level %d: %+v", b.inst.ID, o.id, lv.price, *o)
					}
					if got, ok := e.orderByID(o.id); !ok || got != oi {
						return fmt.Errorf("order %d missing from id map", o.id)
					}
					if o.clOrdID != 0 {
						if got, ok := e.orderByClOrd(o.account, o.clOrdID); !ok || got != oi {
							return fmt.Errorf("order %d missing from the client order id index", o.id)
						}
						withClOrd++
						if a := e.accountOf(o.account); o.clOrdID > a.maxClOrd {
							return fmt.Errorf("order %d: client order id %d above its account's maxClOrd %d", o.id, o.clOrdID, a.maxClOrd)
						}
					}
					qty += o.leaves
					n++
					live++
					perAccount[o.account]++
				}
				if n == 0 || qty != lv.qty || n != lv.count {
					return fmt.Errorf("inst %d level %d: qty %d count %d, orders say %d %d", b.inst.ID, lv.price, lv.qty, lv.count, qty, n)
				}
			}
		}
		if bb, ab := b.bids.bestLevel(), b.asks.bestLevel(); bb >= 0 && ab >= 0 && e.levels[bb].price >= e.levels[ab].price {
			return fmt.Errorf("inst %d crossed: bid %d ask %d", b.inst.ID, e.levels[bb].price, e.levels[ab].price)
		}
	}
	clearing := 0
	for bi := range e.books {
		b := &e.books[bi]
		if b.clearing {
			clearing++
		}
		if (b.clearing && !b.halted) || (b.resumeCleared && !b.clearing) {
			return fmt.Errorf("inst %d: halted %v, clearing %v, resuming at the clear's end %v", b.inst.ID, b.halted, b.clearing, b.resumeCleared)
		}
	}
	if clearing != e.clearing {
		return fmt.Errorf("%d books clearing, the engine counts %d", clearing, e.clearing)
	}
	if live != e.byID.len() {
		return fmt.Errorf("%d orders in books, %d in id map", live, e.byID.len())
	}
	if withClOrd != e.byClOrd.len() {
		return fmt.Errorf("%d orders with client order ids in books, %d in their index", withClOrd, e.byClOrd.len())
	}
	suspended := 0
	for ai := range e.accounts {
		a := &e.accounts[ai]
		n := int64(0)
		prev := uint64(0)
		for oi := a.head; oi >= 0; oi = e.orders[oi].accNext {
			if e.orders[oi].id <= prev {
				return fmt.Errorf("account %d: order %d after order %d (the list is in id order)", a.cfg.ID, e.orders[oi].id, prev)
			}
			prev = e.orders[oi].id
			n++
		}
		if n != a.open || n != perAccount[a.cfg.ID] {
			return fmt.Errorf("account %d: open %d, list %d, books %d", a.cfg.ID, a.open, n, perAccount[a.cfg.ID])
		}
		if a.suspended && n != 0 {
			return fmt.Errorf("account %d is suspended with %d live orders", a.cfg.ID, n)
		}
		if a.suspended {
			suspended++
		}
	}
	if suspended != e.suspendedCount {
		return fmt.Errorf("%d accounts suspended, counted %d", suspended, e.suspendedCount)
	}
	return nil
}

// checkWindow verifies s's window: a slot whose bit is clear holds -1 —
// dropWindow empties a window through its bits alone, so a level left in
// an empty slot would come back in another side's window from
// emptyWindows — and a slot whose bit is set holds the level of its
// price; n counts the set bits. A word's 64 slots, all empty, are
// compared as one array (a call of the runtime's memequal): slot by
// slot, the 16 Ki slots of each side, checked after every command of
// the randomized tests, made the package's tests take five times their
// CPU under -race.
func checkWindow(e *Engine, s *side) error {
	if s.win == nil {
		if s.bits != nil || s.n != 0 {
			return fmt.Errorf("no window, yet %d bit words and %d slots occupied", len(s.bits), s.n)
		}
		return nil
	}
	occupied := 0
	for w, word := range s.bits {
		slots := (*[64]int32)(s.win[w*64:])
		if word == 0 && *slots == emptySlots {
			continue
		}
		for j, li := range slots {
			i, price := w*64+j, s.lo+int64(w*64+j)*s.tick
			if word&(1<<j) == 0 {
				if li != -1 {
					return fmt.Errorf("empty window slot %d (price %d) holds level %d, want -1", i, price, li)
				}
				continue
			}
			occupied++
			if li < 0 || int(li) >= len(e.levels) || e.levels[li].price != price {
				return fmt.Errorf("window slot %d (price %d) occupied by level %d", i, price, li)
			}
		}
	}
	if occupied != s.n {
		return fmt.Errorf("%d window slots occupied, n %d", occupied, s.n)
	}
	return nil
}

// emptySlots is 64 empty window slots.
var emptySlots = func() (a [64]int32) {
	for i := range a {
		a[i] = -1
	}
	return a
}()
