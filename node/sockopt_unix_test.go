//go:build !windows

package node

import "syscall"

// setReceiveBuffer sets a socket's SO_RCVBUF, before it connects: the
// window it offers is set then.
func setReceiveBuffer(fd uintptr, bytes int) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, bytes)
}
