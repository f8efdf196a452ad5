//go:build unix

package main

import "golang.org/x/sys/unix"

// terminalFd reports whether fd's terminal attributes can be read.
func terminalFd(fd uintptr) bool {
	_, err := unix.IoctlGetTermios(int(fd), ioctlReadTermios)
	return err == nil
}
