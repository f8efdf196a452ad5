//go:build unix

package output

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// tryWrite writes as much of b as conn's socket takes at once, without
// waiting for room and without a deadline, and returns how much that
// was: 0 when conn is no socket of its own (a tls.Conn, a pipe) or has
// no room. The deadline a cut set in the past is cleared first, so the
// attempt is made however late the writer comes to it: RawConn.Write
// fails at once, trying nothing, once a deadline has passed.
func tryWrite(conn any, b []byte) int {
	sc, ok := conn.(syscall.Conn)
	d, deadlines := conn.(interface{ SetWriteDeadline(time.Time) error })
	if !ok || !deadlines {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil || d.SetWriteDeadline(time.Time{}) != nil {
		return 0
	}
	n := 0
	rc.Write(func(fd uintptr) bool {
		for {
			k, err := unix.Write(int(fd), b)
			if err == unix.EINTR {
				continue
			}
			n = max(k, 0)
			return true // one attempt: a socket with no room is not waited for here
		}
	})
	return n
}
