// Package engine is ringex's business logic processor: every instrument's
// order book, every account's orders and limits, matching. It is the only
// code that changes exchange state.
//
// Contract:
//
//  1. Pure. Apply(cmd) is the only way in; events come out, in order, to
//     the Sink given at construction. No goroutines, no I/O, no wall clock,
//     no randomness, no output that depends on map iteration. Time is
//     cmd.Timestamp; order ids are cmd.Seq (input sequences start at 1, so
//     0 means "no order"); trade ids are cmd.Seq<<16 | n for the n-th match
//     (from 1) of that command.
//  2. Validate before mutate. A command is checked completely before any
//     state changes; a rejected command changes nothing and yields exactly
//     one EvRejected with a RejectReason. Nothing a client sends can panic
//     the engine: every arithmetic step on outside values is overflow
//     checked.
//  3. Same commands ⇒ same events and same StateHash, on any node, in any
//     replay, and after AppendSnapshot/RestoreEngine (or NewEngine and
//     Restore) at any point (the restored engine told its input with
//     SetAppliedSeq: the snapshot's payload does not hold it, and a
//     market-data image carries it).
//     An engine a Restore failed on gives its pools to the next one tried
//     (Renew), which is as NewEngine builds it.
//     RestoreEngine matches instruments and accounts by id: a config that
//     gained some restores a snapshot (they start empty); one that lost
//     some holding resting orders gets ErrConfigChanged.
//  4. Single goroutine: the caller's. Not safe for concurrent use.
//
// Units. Prices and quantities are int64 integers in the instrument's
// units: a limit price must be a positive multiple of TickSize, a quantity a
// positive multiple of LotSize. PriceBand is in the same units as prices.
//
// Matching. Price-time priority; a trade happens at the resting order's
// price. Limit orders: GTC rests its remainder, IOC cancels it, FOK trades
// its whole quantity on arrival or is rejected (ReasonFOKNotFilled) without
// trading. Market orders are IOC or FOK (GTC is rejected) and never trade
// beyond the price band around the reference price (the last trade price,
// else the configured ReferencePrice); the rest is cancelled with
// CancelPriceBand — one with nothing it may trade against, within the band
// and past its own orders where self-trade prevention stops it, is
// rejected (ReasonNoLiquidity). A limit order further than PriceBand from the reference
// price is rejected. Post-only limit orders that would trade on arrival are
// rejected.
//
// Self-trade prevention (STP) is chosen per order; STPDefault means
// STPCancelIncoming: when the incoming order meets a resting order of the
// same account it stops matching and its remainder is cancelled
// (CancelSelfTrade). STPCancelResting cancels the resting order and keeps
// matching; STPCancelBoth cancels both; STPAllow lets them trade.
//
// Cancel and replace name an order by OrderID, or by OrigClientOrderID
// when OrderID is 0, and only the command's own account's orders. Replace
// sets a new price and a new total quantity: the same price and a quantity
// no larger keeps time priority; a price change or a larger quantity loses
// it and the order may trade at once. A new total at or below the quantity
// already filled cancels the order (CancelReplacedToZero); the total is
// still a positive multiple of LotSize (0 is ReasonInvalidQuantity).
//
// Order status (CmdOrderStatus) is a query that changes nothing: the one
// live order named like a cancel names it, or the account's live orders
// (optionally in one instrument) in the order they became live — which
// is id order — after a cursor, at most MaxStatusOrders, each as an
// EvOrderStatus, then one EvStatusDone with their count, the cursor for
// the next page, and StatusMore if the page ended before the list did
// (full, or MaxStatusVisits orders looked at). It is answered in
// sequence, so the answer is the state at that input.
//
// A resend request (CmdResend) is another query that changes nothing:
// the engine keeps no history of its events, so it only emits EvResend at
// the request's place in the output; the node rebuilds the account's
// reports of earlier inputs by replaying its journal on a second engine.
// One without a tag (ClientOrderID 0) is refused ReasonInvalidSequence;
// like every refused query, its Rejected is marked Event.Query.
//
// Kill switch. CmdSuspendAccount (the operator's, through the node)
// cancels every live order of the account (CancelAccountSuspended) and
// refuses its new orders (ReasonAccountSuspended) until CmdResumeAccount;
// a suspended account has no live orders, which checkInvariants holds.
// The suspension is state: in snapshots (version 3) and in StateHash.
//
// Halts. CmdHalt refuses the instrument's new orders and replaces
// (ReasonInstrumentHalted) until CmdResume; cancels stay allowed. The
// operator's halt may also cancel every resting order of the instrument
// (CancelOrders; CancelInstrumentHalted, each reported to the session that
// entered the order): bids then asks, best level first, time priority
// within a level. The book then stays empty until CmdResume, as nothing
// can enter it. The halt is state (in snapshots and StateHash). With
// Config.HaltClearChunk 0 the halt's input cancels the whole book, and
// the cancelling leaves nothing behind but the orders it removed. With a
// chunk, the orders are cancelled at the halt's input — none trades, is
// amended or is joined by another from then on — and reported a chunk an
// input (haltclear.go): after the halt's EvHalted, then before every later
// input's own events, a CmdNoop's too, in instrument id order when books
// clear together; counted in inputs only, so any replay emits each report
// at the same input. Until its report an order is still in the book: a
// cancel, mass cancel or suspension of it answers CancelInstrumentHalted,
// a status request lists it, and it counts against its account's
// MaxOpenOrders. A resume mid-clear takes effect, and its EvResumed is
// emitted, at the clear's end. The clearing is state (snapshots version
// 4, StateHash).

// Cost. A command's work is done in one Apply, and every later command
// (every other session's orders) waits for it. Matching stops after
// 65 535 resting orders met (trades, and own orders STPCancelResting
// cancels: CancelMatchLimit), and so do the walks that check a FOK or a
// market order's max notional first: 1.2–2.2 ms on the 2-core dev VM
// (BenchmarkSweep). A mass cancel and the kill switch cancel all of an
// account's live orders, as many as its MaxOpenOrders let it enter (the
// limit when they were entered: a restore under a lower one keeps them)
// — MaxLiveOrders when it has none — 17–46 ns an order (BenchmarkMassCancel,
// BenchmarkSuspendAccount); a node holds every account to
// engine.max_open_orders (100 000 by default: 1.7–4.6 ms). A halt that
// cancels its book cancels every account's orders there (17–57 ns an
// order, BenchmarkHaltCancelDeepBook: 38–44 ms at 1 000 000, 0.43–0.48 s
// at the most a book can hold, MaxLiveOrders, on E26 — 2 vCPU AMD EPYC —
// at load average 10): an operator's command, bounded by the book alone
// — unless HaltClearChunk bounds it: the same book in 2 048 inputs of
// 4 096 cancels, ~0.12 ms an input (median, E26 at load average 10).
//
// Client order ids: a non-zero ClientOrderID is unique among an account's
// live orders (ReasonDuplicateClOrdID); 0 means the client uses none.
//
// Market data. Book level events (EvBookLevel) are produced only while
// SetMarketData(true); switching it on first emits, per instrument in id
// order, EvBookClear, EvHalted if the instrument is halted, and then every
// level, so a downstream book starts from scratch. While off no cost is paid for them.
// A command's level events tell each change of a level as it happens,
// but a halt that cancels the book (CancelOrders) tells only each
// level's removal (Count 0), one event a level, not one an order.
package engine
