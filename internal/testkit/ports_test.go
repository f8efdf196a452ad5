package testkit

import (
	"net"
	"strconv"
	"testing"
)

func TestReserveAddrsBelowTheEphemeralRange(t *testing.T) {
	low, high := belowEphemeralRange()
	if low < 1024 || high <= low {
		t.Fatalf("range [%d, %d)", low, high)
	}
	addrs := ReserveAddrs(t, 20)
	seen := map[string]bool{}
	for _, addr := range addrs {
		host, portText, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(portText)
		if host != "127.0.0.1" || port < low || port >= high {
			t.Fatalf("%s: want a loopback port in [%d, %d)", addr, low, high)
		}
		if seen[addr] {
			t.Fatalf("%s reserved twice", addr)
		}
		seen[addr] = true
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("reserved %s cannot be bound: %v", addr, err)
		}
		l.Close()
	}
}
