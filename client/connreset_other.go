//go:build !windows

package client

import "syscall"

// connResets are the errnos of a connection the peer reset.
var connResets = []error{syscall.ECONNRESET}
