package main

import "golang.org/x/sys/unix"

// ioctlReadTermios reads a terminal's attributes (tcgetattr).
const ioctlReadTermios = unix.TCGETS
