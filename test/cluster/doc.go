// Package cluster is the process-level test of ringex's replication: a
// three-member cluster of real `ringex serve` processes on loopback, put
// through the faults a cluster meets — kill -9 of the leader or a
// follower, SIGTERM, a member isolated (the admin port's
// /cluster/isolate), frozen (SIGSTOP), wiped, restarted under other
// rules, or replaced at a new address (`ringex cluster replace`) —
// under clients trading through client.DialCluster. It has no library
// code.
//
// What a test starts:
//
//  1. TestMain builds the ringex binary once (testkit.MainWithRingex:
//     the go command, into a temporary directory); every member is a
//     child process of it (testkit.StartServe), killed with the test.
//  2. startCluster runs three members, the first start of each with
//     --bootstrap, and waits up to 10 s for one ready leader. Each member's
//     gateway and raft ports come from testkit.ReserveAddrs and stay the
//     member's across its restarts (the --peers list names them); its
//     market-data and admin ports are port 0, new at each start. Rings of
//     65536 slots, 4 MiB journal segments, no snapshot schedule; each
//     member's data and the log of each of its runs (serve-N.log) are in
//     a t.TempDir().
//  3. startFlow is the clients: one trader per demo account sending
//     resting orders at about 1000 a second each, logging on again
//     through client.DialCluster after every broken connection.
//
// What the tests check, after the faults: every acknowledged order is
// live on the leader, the members reach one input and state hash, and
// the clients trade on (TestChaos: and no order is there twice, no
// report returned twice). A member whose process exited by itself is
// not started again unseen: the test fails naming the exit, unless it
// checked that exit and expected it. A failed test logs the last
// warnings, errors and role changes of each run of each member.
//
// Running them: `go test ./test/cluster` (part of `make test`) took
// 124 s on the 2-core dev VM (12-07, without -race; the members run
// without it either way), TestLeaderKilled the longest (21 s, 20 kills
// of the leader: -failover.runs sets how many; with -v it logs each
// failover's gap, the README's failover figures). TestChaos, randomized
// faults for a set time, is skipped unless -chaos.duration is given:
// `make chaos` runs it (CHAOS_FOR, default 90s; CHAOS_SEED, or
// -chaos.seed, replays a run's choices; -chaos.only one kind of fault).
// They need the go command and free loopback ports, nothing else; the
// frozen-member test does not build on Windows, and only on Linux does a
// test process that dies take its members with it.
package cluster
