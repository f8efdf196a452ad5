// Package deploy tests the operator-facing files in deploy/ and the
// docs that describe them; it has no library code. The Prometheus,
// alert and Grafana files are test/prometheus's.
//
// Three kinds of test, by what they start:
//
//  1. deploy/cluster.sh and deploy/bench-lib.sh run by sh, each node a
//     stand-in for the ringex binary (fakeNode: a shell script that runs
//     what the test gives it — records its pid, arguments or start, or
//     exits 4 as a fenced node — then waits for SIGTERM or SIGINT; it
//     listens on no port). The script runs in a process group of its
//     own, killed whole when the test is done with it (a test process
//     that dies, its cleanups not run, leaves the group running). The port bases given (CLUSTER_PORT_BASE) only
//     name ports; TestBenchLibFindsItsClustersNode takes bases of its
//     own process's, since two runs of it at once found each other's
//     nodes by their command lines.
//  2. `ringex serve` run for real (serve_test.go): TestMain builds the
//     binary once (testkit.MainWithRingex), and each test starts one
//     node, tied to the test process, in a t.TempDir() on loopback
//     port 0, with 1024-slot rings, until it has printed or logged what
//     the test reads.
//  3. Reading files only: the systemd unit, Dockerfile and compose file
//     against the README and docs/runbook.md, each test saying what the
//     files must hold; a test whose premise a file no longer has (the
//     unit not read-only, no restart policy) is skipped, saying so.
//
// `go test ./test/deploy` (part of `make test`) took 32 s on the 2-core
// dev VM (12-07), 20 of them TestClusterScriptStopsOnSigtermAtStart's 40
// starts of the script. The scripts are for Linux: the tests need sh
// and the commands the scripts run, and TestBenchLibFindsItsClustersNode
// reads /proc (it is skipped without pgrep). No container runtime,
// systemd or network beyond loopback is used.
package deploy
