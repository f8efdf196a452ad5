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
