package main

import (
	"syscall"

	"golang.org/x/sys/windows"
)

// connRefusals are the errnos of a dial the address refused (refusedHint):
// Windows sockets fail with WSAECONNREFUSED; syscall.ECONNREFUSED is a
// value of Go's own there, kept for what returns it.
var connRefusals = []error{windows.WSAECONNREFUSED, syscall.ECONNREFUSED}
