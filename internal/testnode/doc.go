// Package testnode starts in-process nodes for tests outside the node
// package (node's own tests cannot import it: testnode imports node; they
// have startNode and testConfig). Test code only.
//
// A node it starts (Start, Open):
//
//  1. runs the embedded demo config (config.Default: its instruments and
//     demo accounts) with the settings the test gives on top
//     (config.Config.Set: the keys and values `--set` takes); no RINGEX_
//     environment variable is read;
//  2. listens on loopback port 0 for order entry, market data and admin
//     (node.Addrs gives the ports), keeps its data in the directory given
//     (Start: a t.TempDir()), has 1024-slot rings, 1024 recent reports, no
//     snapshot schedule and 1 MiB journal segments — the settings may
//     change any of these;
//  3. runs in the test's process, so the race detector sees it, and is
//     stopped when the test ends, a failed Stop failing the test; a test
//     may stop it first (Open's node: Stop again returns the first
//     call's result).
//
// A test that restarts a node on the same data opens each run with
// Config on one directory: each run listens on new ports. One that needs
// a real process (kill -9, signals, a restart in place) runs the ringex
// binary instead (testkit.StartServe). Small and Run are Config and Open
// for code without a testing.TB (an Example), whose caller stops the
// node.
package testnode
