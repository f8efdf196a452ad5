// Package reconcile is the end-to-end reconciliation test of ringex:
// random trading of every kind on a real node, every execution report
// checked against a shadow exchange built from the requests and the
// order of the inputs, and every other view of the exchange checked
// against the same shadow. It has no library code.
//
// TestReconcileRandomTrading runs, for each of a fixed set of seeds (or
// -reconcile.seed), four accounts' random streams of orders (limit GTC,
// IOC, FOK, market, post-only, every self-trade mode, invalid ones),
// cancels, replaces and mass cancels on one session each, all at once,
// on a node with small rings on loopback, in three phases: deep resting
// orders while snapshots are taken; mixed trading; after a restart, more
// trading with one instrument halted. After the second and third phases
// it checks:
//
//  1. every request is answered by one input of its own, in the order
//     sent, and every report of that input is the one the rules of
//     proto/README.md give for the shadow's state (rules_test.go: rejects
//     and their reasons, accepts, replaces in place or re-queued, cancels,
//     mass cancels, status listings, and each fill against price-time
//     priority and self-trade prevention);
//  2. quantity is conserved: every trade has a fill on each side, equal,
//     and every order's fills add up to what it traded, traded plus open
//     (or cancelled) to what it ordered;
//  3. a drop copy has every report of its account's sessions but the
//     answers meant for one session;
//  4. each market-data subscriber, the one there from the start and the
//     one that joined while trading, rebuilds the shadow's books, last
//     prices and halts, sees no gap in md_seq, and every trade after its
//     first as the fills say.
//
// Between the runs the node stops and starts on the same data: it
// recovers from a snapshot taken while trading plus the journal after
// it, to the stopped node's input and state hash, with the same live
// orders and books. At the end `ringex replay` of a copy of the data,
// from the start and from the newest snapshot, reaches the node's final
// input, state hash and books.
//
// The seeds fix what each account sends, not how the accounts' inputs
// interleave: that is the machine's, and the shadow follows the order
// the reports give. Waits are bounded by a generous deadline that only
// detects a hang.
//
// The other tests build cases the random flow meets only by chance:
// price-time priority across replaces, each self-trade prevention mode,
// and a replace from another session moving the order's reports there.
package reconcile
