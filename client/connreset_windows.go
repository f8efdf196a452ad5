package client

import "syscall"

// connResets are the errnos of a connection the peer reset: Windows
// sockets fail with WSAECONNRESET; syscall.ECONNRESET is a value of
// Go's own there, kept for what returns it.
var connResets = []error{syscall.WSAECONNRESET, syscall.ECONNRESET}
