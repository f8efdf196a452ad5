// Package loadgen measures an exchange the way its clients see it: open-loop
// load at a fixed rate, latency from the moment each order was due to be
// sent until its execution report arrived.
//
// Contract:
//
//  1. Open loop. Order i of connection c of n is the run's (i×n + c)-th
//     and is due at start + (i×n + c)/rate, computed exactly (a run of d
//     has rate×d orders due, however the interval rounds): the
//     connections' orders interleave, one every 1/rate, never n at once.
//     The sender never waits for a report before sending the next order;
//     when it falls behind it sends what is due at once.
//  2. No coordinated omission. Latency is measured from the due time, not
//     from the moment the order was actually written, so a stall in the
//     server (or the sender) shows up in every order it delayed — the
//     correction HdrHistogram's documentation describes, done at the source.
//  3. Rate 0 means "as fast as possible": orders are due at once and
//     latency is measured from the actual send (there is no schedule to
//     fall behind).
//  4. Recording is in microseconds in an HdrHistogram with 3 significant
//     digits, 1 µs … 1 h (a longer wait is recorded as 1 h: at 60 s, an
//     order a stalled node never answered in a long run counted 60 s).
package loadgen
