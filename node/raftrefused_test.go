package node

import (
	"fmt"
	"testing"
	"time"

	"github.com/ringex/ringex/internal/testkit"
)

// The connections a member's raft port closes as soon as it accepts
// them, or later for sending no request in time, are counted in
// ringex_cluster_raft_connections_refused_total, by the bound they were
// over. Before, the count was only in the log line about them, held
// back to one in 30 s.
func TestRaftPortRefusalsAreCounted(t *testing.T) {
	ns := startTestCluster(t)
	n := ns[0]
	// A member of three holds 32 connections from one address (the
	// replicator's connsPerPeer, 16, for each other member): the rest
	// from 127.0.0.2 are refused, and silent the 32 held stay so for
	// the 2.5 s of their first request's bound, many times the dials'.
	const perAddress, over = 32, 5
	for range perAddress + over {
		testkit.DialFrom(t, n.cfg.Cluster.RaftListen, "127.0.0.2")
	}
	admin := n.adminLn.Addr().String()
	series := `ringex_cluster_raft_connections_refused_total{reason="%s"}`
	if got := awaitMetric(t, admin, fmt.Sprintf(series, "address"), over); got != over {
		t.Fatalf("%s = %v, want %d", fmt.Sprintf(series, "address"), got, over)
	}
	if got, ok := metricValue(scrapeMetrics(t, admin), fmt.Sprintf(series, "full")); got != 0 || !ok {
		t.Fatalf("%s = %v (served %v), want 0", fmt.Sprintf(series, "full"), got, ok)
	}
	// The 32 held send no request: each is cut off at its first
	// request's bound, and counted silent. Before, a cut was only in
	// raft's line about it, held back to one in 30 s.
	silent := fmt.Sprintf(series, "silent")
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got, _ := metricValue(scrapeMetrics(t, admin), silent)
		if got == perAddress {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v 15 s after the connections were held, want %d", silent, got, perAddress)
		}
	}
	if got, ok := metricValue(scrapeMetrics(t, admin), fmt.Sprintf(series, "stalled")); got != 0 || !ok {
		t.Fatalf("%s = %v (served %v), want 0", fmt.Sprintf(series, "stalled"), got, ok)
	}
}
