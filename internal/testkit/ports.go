package testkit

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"time"
)

// DialFrom connects to addr from local address from (any 127/8 address
// reaches a loopback port); the connection is closed with the test.
func DialFrom(t testing.TB, addr, from string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// ReserveAddrs returns n loopback addresses for servers that a test stops
// and starts again on the same address (a restarted cluster member, a
// Prometheus server). The ports lie below the kernel's ephemeral range:
// a port from listening on :0 lies inside it, and while its server is
// down any outgoing connection — a peer dialling the stopped member, a
// client — may be given it as its source port, so the restart fails with
// "address already in use" (seen in CI). Each port was free when chosen.
func ReserveAddrs(t testing.TB, n int) []string {
	t.Helper()
	low, high := belowEphemeralRange()
	seen := map[int]bool{}
	var addrs []string
	for tries := 0; len(addrs) < n; tries++ {
		if tries > 1000 {
			t.Fatalf("no free loopback port in [%d, %d) after %d tries", low, high, tries)
		}
		port := low + rand.IntN(high-low)
		if seen[port] {
			continue
		}
		seen[port] = true
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if !claimPort(t, port) {
			continue
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		addrs = append(addrs, addr)
	}
	return addrs
}

// belowEphemeralRange is the range of ports the tests pick from: up to
// 16 384 ports under the kernel's ip_local_port_range (32768–60999 by
// default), never below 1024.
func belowEphemeralRange() (low, high int) {
	high = 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var lo, hi int
		if _, err := fmt.Sscan(string(b), &lo, &hi); err == nil && lo > 2048 {
			high = lo
		}
	}
	return max(1024, high-16384), high
}
