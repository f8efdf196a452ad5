// Command ringex is the exchange server and its operator tools.
//
// Its commands, by what they talk to (each one's `ringex help COMMAND`
// is its reference, with examples: TestEveryCommandHasExample keeps one
// on every command):
//
//   - serve runs a node (serve.go; README.md "Set up on a fresh
//     machine", "Deploy" and "A cluster on one machine"; the systemd unit
//     and compose file in deploy/).
//   - client (order, cancel, replace, mass-cancel, orders, resend,
//     reports, watch, shell) trades as one account through a node's
//     gateway, or watches a book on its market-data port (client*.go;
//     proto/README.md, the protocol it speaks). bench drives a running
//     node with load (bench*.go; README.md "Benchmarks" and "Results").
//   - snapshot, halt, resume, account (suspend, resume), sessions (and
//     sessions close), status and cluster replace ask a running node's
//     admin port (admin.go, status*.go, cluster.go; README.md "Set up on
//     a fresh machine" and "A cluster on one machine", and
//     docs/runbook.md for the alerts that call for them). The admin
//     address is --admin; the commands a cluster takes only at its leader
//     (snapshot, halt, resume, account, cluster replace) take its members
//     as --admin A,B,C and go to the one that leads, and status asks
//     every address given. The token comes from --token,
//     $RINGEX_ADMIN_TOKEN or the file $RINGEX_ADMIN_TOKEN_FILE names,
//     which must agree (adminToken).
//   - replay and journal (inspect, cut, uncut, drop) work on a node's
//     data offline (replay*.go, journal*.go; docs/runbook.md
//     "RingexNodeDown" and "An input the engine cannot apply"): replay on
//     a copy of it as well; cut, uncut and drop take the lock a node
//     takes on its journal directory, so they refuse one a running node
//     holds.
//   - config print, version and completion need no node (admin.go,
//     version.go, completion.go).
//
// The commands that read a config (serve, replay, config print, client,
// bench) take --config, else $RINGEX_CONFIG, else the embedded demo
// config (client without --config takes the instruments the node
// lists); serve, replay and config print take --set key=value on top.
//
// Exit status: 0 when the command did what it was asked; 3 when a piped
// `ringex client shell` ran every command but did not receive all the
// reports a resend asked for — those the node no longer holds (a partial
// answer) included — (it names each such resend on standard error); 4
// when `ringex serve` stopped a cluster member the others fenced (moved
// to another address by `ringex cluster replace`: another process is
// that member now), which a supervisor must not start again; 1 on any
// other failure, its cause printed on standard error.
package main
