package client

import (
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// A connection the peer reset is one the logon's hint covers, on every
// system: connReset knows the reset a loopback read meets here, as
// logonFailed knew syscall.ECONNRESET before (Windows's WSAECONNRESET is
// in connreset_windows.go), wrapped as net and os wrap it, and nothing
// else.
func TestConnReset(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		conn, _ := ln.Accept() // nil when it failed
		accepted <- conn
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	peer := <-accepted
	if peer == nil {
		t.Fatal("the listener accepted no connection")
	}
	peer.(*net.TCPConn).SetLinger(0) // Close resets, once the dial returned
	peer.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, reset := conn.Read(make([]byte, 1))

	type testCase struct {
		name string
		err  error
		want bool
	}
	cases := []testCase{
		{"a read reset", reset, true},
		{"EOF", io.EOF, false},
		{"a timeout", os.ErrDeadlineExceeded, false},
		{"none", nil, false},
	}
	for _, errno := range connResets {
		cases = append(cases, testCase{"wrapped", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", errno)}, true})
	}
	for _, tc := range cases {
		if got := connReset(tc.err); got != tc.want {
			t.Errorf("%s: connReset(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
	if _, ok := logonFailed(reset, nil).(*hungUpError); !ok {
		t.Errorf("a plain-TCP logon reset: %v, want the hung-up hint", logonFailed(reset, nil))
	}
}
