//go:build !linux

package output

import "syscall"

// unacked returns -1: what a socket holds unacknowledged is asked only
// on Linux (SIOCOUTQ), and CloseLingering waits for the client's end or
// the grace's.
func unacked(syscall.Conn) int { return -1 }
