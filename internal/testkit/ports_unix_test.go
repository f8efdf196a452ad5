//go:build unix

package testkit

import (
	"net"
	"strconv"
	"testing"
)

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
