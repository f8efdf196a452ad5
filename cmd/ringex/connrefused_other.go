//go:build !windows

package main

import "syscall"

// connRefusals are the errnos of a dial the address refused (refusedHint).
var connRefusals = []error{syscall.ECONNREFUSED}
