package testkit

import "syscall"

// SetReceiveBuffer sets a socket's SO_RCVBUF, before it connects: the
// window it offers is set then.
func SetReceiveBuffer(fd uintptr, bytes int) error {
	return syscall.SetsockoptInt(syscall.Handle(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, bytes)
}
