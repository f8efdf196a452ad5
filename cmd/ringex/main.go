// Command ringex is the exchange server and its operator tools.
//
// Exit status: 0 when the command did what it was asked; 3 when a piped
// `ringex client shell` ran every command but did not receive all the
// reports a resend asked for — those the node no longer holds (a partial
// answer) included — (it names each such resend on standard error); 1 on
// any other failure, its cause printed on standard error.
package main

import (
	"errors"
	"fmt"
	"os"
)

// exitReportsMissing is the exit status of errReportsMissing: a script
// can tell reports it should ask for again from a command that failed.
const exitReportsMissing = 3

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
	return 1
}
