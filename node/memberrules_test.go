package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testkit"
)

// A cluster member refused for a journal whose rules no snapshot records
// is told a member's remedy (join again, sent the leader's state), not
// only the standalone one. checkJournalRules chose it by n.cl, which New
// sets only after the replay: never, at recovery.
func TestMemberWithoutRecordedRulesIsToldToJoinAgain(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("testdata", "pre-20261203", "journal", "00000000000000000001.journal")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "journal"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "journal", filepath.Base(src)), b, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, dir)
	cfg.Accounts[1].MaxNotional = 60_000_000
	addrs := testkit.ReserveAddrs(t, 6)
	for i := range 3 {
		cfg.Cluster.Peers = append(cfg.Cluster.Peers, config.Peer{ID: uint32(i + 1), Raft: addrs[2*i], Gateway: addrs[2*i+1]})
	}
	cfg.Node.ID = 1
	cfg.Cluster.RaftListen = addrs[0]
	cfg.Gateway.Listen = addrs[1]
	n, _, err := New(cfg, zerolog.Nop())
	if err == nil {
		n.discard()
		t.Fatal("started")
	}
	if !errors.Is(err, ErrRulesUnrecorded) {
		t.Fatalf("%v, want ErrRulesUnrecorded", err)
	}
	if !strings.Contains(err.Error(), "without --bootstrap") {
		t.Fatalf("a cluster member refused with the standalone remedy only: %v", err)
	}
}
