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

// A port reserved is claimed until its test ends: another claim — what a
// test of another package, in its own process, makes — is refused, and
// taken once the first test is over.
func TestReservedPortIsClaimedUntilTheTestEnds(t *testing.T) {
	var port int
	t.Run("reserves", func(t *testing.T) {
		_, text, _ := net.SplitHostPort(ReserveAddrs(t, 1)[0])
		port, _ = strconv.Atoi(text)
		t.Run("another claim", func(t *testing.T) {
			if claimPort(t, port) {
				t.Fatalf("port %d claimed twice", port)
			}
		})
	})
	if !claimPort(t, port) {
		t.Fatalf("port %d still claimed after its test ended", port)
	}
}
