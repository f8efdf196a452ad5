package node

import (
	"bytes"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/journal"
)

// The journal a member installs from the leader's raft snapshot stream
// carries the member's cluster id (cluster.id, the leader's too), as the
// journal it replaces did: a journal of another id beside it — its
// archive, a segment copied in — is still told apart.
func TestInstalledJournalCarriesTheClusterID(t *testing.T) {
	stream, want := raftStream(t)
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	if err := cfg.Set("cluster.id", "prod-eu"); err != nil {
		t.Fatal(err)
	}
	n, rec, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if rec.Journal.ID != "prod-eu" {
		n.discard()
		t.Fatalf("a new journal under cluster.id prod-eu carries %q", rec.Journal.ID)
	}
	applied, err := n.installState(bytes.NewReader(stream))
	n.discard()
	if err != nil || applied != want.Seq {
		t.Fatalf("staged up to %d (%v), want %d", applied, err, want.Seq)
	}
	if ok, err := installStaged(cfg.JournalDir(), cfg.SnapshotDir(), cfg.ArchiveDir(), dir, zerolog.Nop()); !ok || err != nil {
		t.Fatalf("installStaged: %v %v", ok, err)
	}
	if st, err := journal.Inspect(cfg.JournalDir(), nil, nil); err != nil || st.ID != "prod-eu" || st.LastSeq != want.Seq {
		t.Fatalf("installed journal: %+v %v; want cluster id prod-eu, inputs to %d", st, err, want.Seq)
	}
	n, rec, err = New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer n.discard()
	if rec.Journal.ID != "prod-eu" || rec.LastSeq != want.Seq {
		t.Fatalf("recovered %+v", rec)
	}
}
