// Package client is the Go client of ringex's order-entry and market-data
// ports: it logs on, sends orders, cancels and replaces, and reads
// execution reports and market data. Tests, `ringex bench`, `ringex
// client` and the examples use it.
//
// A Client is used by one writing goroutine and one reading goroutine
// (Next, NextInto, FrameBuffered) at a time. Writes are buffered; Flush
// sends them (AutoFlush does it after every message). A reader of many
// messages uses NextInto with one Message it keeps; what a Message holds
// is its own (copied out of the frame), valid after the next read.
//
// The library sends nothing by itself: the exchange closes a session it
// heard nothing from for gateway.read_timeout (15 s; a ClosedError
// heartbeat_timeout), so a client with nothing else to send calls
// Heartbeat (and Flush) every HeartbeatEvery, a third of that. A
// connection that ends is not dialled again either: Redial logs on
// anew and asks for the reports missed; a market-data client dials and
// subscribes again (a new BookSnapshot first). A Redial that reaches a
// node holding another history (started on new data, another cluster)
// starts afresh and says so on its resend's answer (Message.NewHistory;
// that resend refused, on the answer to asking again — the live reports
// come meanwhile): the reports of the orders sent before will not come.
//
// A market-data Trade comes as Message.Trade: its trade id is
// Message.Trade.TradeID, the only place it is read (Instrument, MDSeq and
// InputSeq are also copied onto the Message).
//
// Instruments (or ListInstruments, answered through Next) lists the
// node's instruments — ids, symbols, tick and lot sizes, decimals, price
// bands, reference prices — on either port: a client needs no copy of
// the node's config (proto/README.md, "Reference data").
//
// An ExecutionReport's Report.Reason is a reject reason on a Rejected
// (engine.RejectReason names it: invalid-price, max-order-qty, …), a
// cancel reason on a Cancelled (engine.CancelReason), 1 on a StatusDone
// whose page has more after it (proto/README.md).
//
// # Resends
//
// Resend asks again for the account's execution reports after an input;
// the answer is those reports under the request's tag and a ResendDone
// under it too. The client keeps each request until it is answered in
// full, for Redial to ask from where it left off:
//
//  1. A ResendDone complete or partial ends its request, and answers
//     every other Resend of this client from its AfterInputSeq or later
//     made before Next read it (the covering rule, Resend): their reports
//     came in it, the later ones live on the same connection. A Resend
//     made after Next read it is a new request, whatever the caller has
//     done with the answer by then.
//  2. Next decides that as it reads the answer, and says so on the
//     Message: ResendAnswers names the other requests a ResendDone
//     answers (those of step 1, and those asked before it from as late
//     when it ends its own, failed too), and ResendCovered marks a busy
//     or cut-short answer, or a rate-limit refusal, of a request an
//     earlier answer answered — nothing to ask again for it. A caller that handles answers later,
//     on another goroutine (`ringex client shell`'s printer), follows
//     these rather than deciding again by when it got to them.
//  3. A busy or cut-short answer not covered leaves its request kept
//     (Message.ResendAgain says from where to ask again) until a Resend
//     from there or before, or ForgetResend; a Redial asks from it
//     meanwhile. At most 64 requests, under way or kept and not
//     covered, are open at once (ErrTooManyResends).
package client
