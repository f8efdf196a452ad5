// Package testkit holds the few helpers ringex's tests in several
// packages share. Test code only: no production package imports it.
//
// It imports client, proto and proto/wire, so those packages' own
// (internal) tests cannot import it; their external tests (package
// client_test) can.
//
// What it holds:
//
//   - processes: BuildRingex and MainWithRingex build the ringex binary
//     with the go command (once per test binary, from TestMain);
//     StartServe runs `ringex serve` as a child process (Proc), its JSON
//     log in a file, and follows it across restarts in place;
//   - ports: ReserveAddrs, loopback addresses for servers a test stops
//     and starts again on the same port;
//   - waits and failures: ReadToEnd, ReadToClosing, KeepSending on
//     connections; FailureOf, the message a helper fails with, for a
//     test of a helper;
//   - the exchange as tests trade it: DemoSecrets, RestingOrder,
//     CancelAll and CancelThrough; MarketBook and ApplyMarketData, a
//     book as a subscriber rebuilds it;
//   - files: snapshot files as another build writes them
//     (RaiseSnapshotVersion, SnapshotAsVersion3), modes (Umask0,
//     OpenToOthers), fuzz directories (FuzzDir, EmptyDir); and a test CA
//     (NewCA, TLSPipe), CPUTime, SyncBuffer.
//
// Contract:
//
//  1. A helper given a testing.TB fails the test itself on what it
//     cannot do (Fatal; ReadToClosing's checks, Errorf), and what it starts or changes ends with the test
//     (Cleanup): a Proc still running is killed, a reserved port is
//     claimed until then, Umask0's umask is put back. A failure that
//     finds a process exited shows the end of its log.
//  2. Waits are bounded: StartServe 60 s for the address line, Sigterm
//     and WaitExit0 30 s for the exit, Logged 5 s, ReadToEnd 5 s,
//     CancelAll's dial 20 s, AwaitStart and FailureOf the time they are
//     given, ReadToClosing the connection's deadline. AwaitStart and
//     WaitExit0 send a process that outlives theirs SIGQUIT, so its log
//     ends with its goroutines' stacks.
//  3. A child process (StartTied, under StartServe) is killed by the
//     kernel when the test process dies on Linux (Pdeathsig), even when
//     no Cleanup runs (go test's -timeout, Ctrl-C); on other systems it
//     is left running then.
//  4. ReserveAddrs picks ports below the kernel's ephemeral range, each
//     free when chosen and, on unix, claimed against the tests of other
//     packages that `go test ./...` runs in parallel by a lock on a file
//     in os.TempDir()/ringex-test-ports until the test ends. A server a
//     test never restarts can listen on port 0 instead.
//  5. Proc tells an exit of the process's own (a fatal error, a crash)
//     from one the test caused (ExitedByItself), so a test can fail on a
//     member that died unseen.
package testkit
