package output

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// unacked returns how many bytes conn's socket holds that its peer has
// not acknowledged — written and not sent, or sent and not yet in the
// peer's socket — its FIN included; -1 when that cannot be asked.
func unacked(conn syscall.Conn) int {
	rc, err := conn.SyscallConn()
	if err != nil {
		return -1
	}
	n := -1
	rc.Control(func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ); err == nil {
			n = v
		}
	})
	return n
}
