package main

import (
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringex/ringex/internal/testkit"
)

// A dial the address refused gets refusedHint's hint on every system:
// the refusal a loopback dial meets here, and each errno of connRefusals
// wrapped as net and os wrap a dial's — Windows's WSAECONNREFUSED is in
// connrefused_windows.go, where syscall.ECONNREFUSED, all the hint
// matched, is no socket's errno — and nothing else.
func TestRefusedHintKnowsThisSystemsRefusal(t *testing.T) {
	_, refused := net.DialTimeout("tcp", testkit.ReserveAddrs(t, 1)[0], 5*time.Second)
	if refused == nil {
		t.Fatal("setup: a dial where nothing listens was taken")
	}
	type testCase struct {
		name string
		err  error
		want bool
	}
	cases := []testCase{
		{"a dial refused", refused, true},
		{"EOF", io.EOF, false},
		{"a reset", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, false},
		{"a timeout", os.ErrDeadlineExceeded, false},
	}
	for _, errno := range connRefusals {
		cases = append(cases, testCase{"wrapped", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}, true})
	}
	for _, tc := range cases {
		got := refusedHint(tc.err, "--addr", "gateway.listen")
		if hinted := strings.Contains(got.Error(), "nothing listens at that address"); hinted != tc.want {
			t.Errorf("%s: refusedHint(%v) = %v, hint %v, want %v", tc.name, tc.err, got, hinted, tc.want)
		}
	}
	if err := refusedHint(nil, "--addr", "gateway.listen"); err != nil {
		t.Errorf("refusedHint(nil) = %v", err)
	}
}
