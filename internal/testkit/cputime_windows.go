package testkit

import (
	"syscall"
	"time"
)

// CPUTime is the process's CPU time so far, user plus system
// (GetProcessTimes): idle-CPU measurements take the difference over an
// interval.
func CPUTime() time.Duration {
	var created, exited, kernel, user syscall.Filetime
	h, _ := syscall.GetCurrentProcess()
	_ = syscall.GetProcessTimes(h, &created, &exited, &kernel, &user)
	return ticks(kernel) + ticks(user)
}

// ticks is a Filetime that holds a span, not a date: a count of 100 ns.
func ticks(ft syscall.Filetime) time.Duration {
	return time.Duration(int64(ft.HighDateTime)<<32|int64(ft.LowDateTime)) * 100
}
