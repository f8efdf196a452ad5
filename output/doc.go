// Package output holds what the output side of a node needs per client:
// the Outbox, a bounded send buffer with its own writer goroutine, and
// the MDBook, the market-data stage's copy of one instrument's book.
//
// Outbox contract:
//
//  1. Producers never block on a client. Append and Send queue whole
//     frames; the outbox's writer goroutine writes them to the
//     connection. A frame that would take the pending bytes over the
//     limit closes the outbox (ErrOverflow) and its connection: a slow
//     reader is disconnected, never waited for, and nothing another
//     client is owed is lost. So is one that takes no chunk of a write
//     for the outbox's stall time (ErrStalled, enforced by Watch),
//     however little waits.
//  2. Frames go out in the order they were queued, each one whole.
//  3. Append and Send are safe from any goroutine. Stage and Commit are
//     the batch path of one producer (the execution sender, or the
//     market-data fan-out under its lock): Stage collects a batch's
//     frames without locking, Commit queues them under one lock and
//     wakes the writer once. They must not run concurrently with each
//     other on one outbox.
//  4. Flush wakes the writer and never blocks; producers call it once
//     per batch, not per frame.
//  5. Watch sends a heartbeat frame whenever nothing was written for
//     its interval, until the outbox closes.
//  6. Close flushes what is pending for at most its grace (a write
//     deadline) — closeGrace (1 s), or the caller's (CloseSayingWithin:
//     a refusal's answer is owed less than a session's end) — then
//     closes the connection: a peer that stopped reading cannot keep
//     the writer goroutine and the connection after its session ended. A connection a write failed on is closed without a
//     TLS close_notify (CloseNow), which would wait 5 s more for it; one
//     whose writes all went sends it only if the client takes it within
//     what is left of the grace (CloseBy).
//     CloseSaying does the same with one more frame after the rest, the
//     connection's last (the node's Closing): written only when all
//     before it was written whole, within that grace. A TCP connection
//     whose writes all went is closed lingering, within what is left of
//     the grace: its write side shut after the last frame, what its
//     client still sends read and dropped until the client ends its
//     side (on Linux, or is quiet with all written acknowledged), then
//     closed — closed with its client's bytes unread, the
//     kernel answers them with a reset and drops the frames it still
//     held for the client, the Closing among them (CloseLingering).
//     The writer goroutine does it, and exits by the grace's end.
//  7. Commit carries the receive stamp of the oldest input its frames
//     answer (the oldest staged with them, or its own); after the write
//     that carried those bytes the writer calls the ObserveWrites
//     function with the oldest stamp it wrote — once per write, never
//     per frame, and never before the bytes are on the connection. So
//     each write's sample is the latency of its oldest frame: never less
//     than any frame it carried waited.
//  8. Outboxes given one Budget (UseBudget) and not cut by it hold at
//     most its limit of unsent bytes between them, plus its floor each.
//     An outbox left holding at most the floor always takes its frames.
//     Over the limit, a frame that would take an outbox past the floor
//     is taken by cutting (ErrOverBudget) the outboxes that hold more
//     than that one already does, and more than the floor, the most
//     first, until it fits; when they do not hold enough, its own
//     outbox is closed (ErrOverBudget) instead. So the clients that
//     stopped reading go, not one that reads and is handed a burst:
//     those that keep up lose nothing. A cut outbox's bytes leave the
//     limit's count at once (Used still counts them) and the budget
//     altogether when its writer, its connection closed under it,
//     exits. The writer gives the bytes back as it writes them, and all
//     of them when it exits.
//  9. A cut (ErrOverflow, ErrStalled, ErrOverBudget) drops what is
//     queued. With SayWhenCut's frame set for the cut's cause (one a
//     cause, naming the limit crossed, built once and shared) it ends
//     the write under way with a write deadline instead of closing the
//     connection, and the writer writes that frame — only when the
//     stream stands at a frame's end, and only if the connection takes
//     it at once (a socket's first try waits for nothing, however late
//     the writer runs) or within cutWait (10 ms) — then closes the
//     connection: at once when the frame did not go; when it went, its
//     write side shut, once the client's socket has taken it and all
//     before it, within cutLinger (100 ms), reading nothing (closeTaken)
//     — closed at once with the bytes of a client still sending unread,
//     the kernel answered them with a reset that dropped the frame, with
//     all the socket still held for the client. Such a cut ends the
//     connection's reading at once, as the close did (a read deadline in
//     the past, as EndReading: a reader that sets a deadline of its own
//     asks Err after it). Nothing is guaranteed:
//     a client that stopped reading rarely gets it. Producers never wait
//     for it.
//  10. With EndAfter's channel set, the writer waits for it to be closed
//     before the connection's last frame and before the close, whatever
//     closed the outbox (Close, CloseSaying, a cut: one that says
//     nothing ends the write under way and the reading at once, as one
//     that says something does, and the close waits too); only a write
//     that failed closes at once. So the client learns of the end only
//     once the outbox's owner has done what must come first. A Close's
//     grace for the last frame and the close is counted from the end of
//     that wait, which lasts EndAfter's bound at most: past it the
//     writer ends the connection all the same.
package output
