//go:build unix

package testkit

import (
	"syscall"
	"time"
)

// CPUTime is the process's CPU time so far, user plus system (getrusage):
// idle-CPU measurements take the difference over an interval.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
