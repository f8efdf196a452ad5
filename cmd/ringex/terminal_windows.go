package main

import "golang.org/x/sys/windows"

// terminalFd reports whether fd is a console: its mode can be read.
func terminalFd(fd uintptr) bool {
	var mode uint32
	return windows.GetConsoleMode(windows.Handle(fd), &mode) == nil
}
