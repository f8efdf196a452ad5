// Command ringex is the exchange server and its operator tools.
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

import (
	"errors"
	"fmt"
	"os"

	"github.com/ringex/ringex/replicator"
)

// exitReportsMissing is the exit status of errReportsMissing: a script
// can tell reports it should ask for again from a command that failed.
const exitReportsMissing = 3

// exitFenced is the exit status of a member stopped as fenced
// (replicator.ErrFenced). Started again it would be refused again by the
// members that applied the move, and answered by any that had not — the
// danger the runbook's "do not restart it" guards against. The systemd
// unit (RestartPreventExitStatus) and deploy/cluster.sh do not restart
// it: the value is what they are set up with, kept.
const exitFenced = 4

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "ringex:", err)
		os.Exit(exitStatus(err))
	}
}

// exitStatus is the process's exit status for a command's error.
func exitStatus(err error) int {
	if errors.Is(err, errReportsMissing) {
		return exitReportsMissing
	}
	if errors.Is(err, replicator.ErrFenced) {
		return exitFenced
	}
	return 1
}
