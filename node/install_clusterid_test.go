package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/journal"
)

// leaderStream is a raft snapshot stream of a source whose cluster.id is
// id, and the state it is of.
func leaderStream(t *testing.T, id string) ([]byte, NodeState) {
	t.Helper()
	n, st := raftSourceUnder(t, Options{}, id)
	defer n.Stop()
	var buf bytes.Buffer
	if err := n.raftSnapshot(st.Seq, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), st
}

// installUnder stages stream on a new member whose cluster.id is id,
// installs it as the member's next start does, and returns the
// installed journal's stats and the member's data directory.
func installUnder(t *testing.T, stream []byte, id string, want NodeState) journal.Stats {
	t.Helper()
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	if err := cfg.Set("cluster.id", id); err != nil {
		t.Fatal(err)
	}
	n, _, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	applied, err := n.installState(bytes.NewReader(stream))
	n.discard()
	if err != nil || applied != want.Seq {
		t.Fatalf("staged up to %d (%v), want %d", applied, err, want.Seq)
	}
	if ok, err := installStaged(cfg.JournalDir(), cfg.SnapshotDir(), cfg.ArchiveDir(), dir, zerolog.Nop()); !ok || err != nil {
		t.Fatalf("installStaged: %v %v", ok, err)
	}
	st, err := journal.Inspect(cfg.JournalDir(), nil, nil)
	if err != nil || st.LastSeq != want.Seq {
		t.Fatalf("installed journal: %+v %v; want inputs to %d", st, err, want.Seq)
	}
	var log bytes.Buffer
	n, rec, err := New(cfg, zerolog.New(&log))
	if err != nil {
		t.Fatal(err)
	}
	defer n.discard()
	if rec.Journal.ID != st.ID || rec.LastSeq != want.Seq {
		t.Fatalf("recovered %+v, want the installed journal's id %q, inputs to %d", rec, st.ID, want.Seq)
	}
	if warned := strings.Contains(log.String(), "carry another cluster id than cluster.id"); warned != (st.ID != id) {
		t.Fatalf("journal id %q, cluster.id %q: warned %v at the start:\n%s", st.ID, id, warned, log.String())
	}
	return st
}

// A member installs the leader's journal with the leader's journal's
// id (the stream carries it, version 3), whatever its own cluster.id
// says: renamed on that member only, the installed journal was labelled
// with the new name, which the leader's journal does not carry — its
// segments and the leader's were no longer one journal's, each refusing
// the other's (journal.ErrOtherJournal). A journal keeps its id across a
// rename; the one installed is the leader's, continued. The member's
// start warns that its journal's id is not cluster.id, as for any
// journal begun before a rename.
func TestInstalledJournalCarriesTheLeadersJournalID(t *testing.T) {
	stream, want := leaderStream(t, "prod-eu")
	if v := binary.LittleEndian.Uint32(stream[4:]); v != installVersionID {
		t.Fatalf("stream version %d, want %d", v, installVersionID)
	}
	if st := installUnder(t, stream, "prod-eu-2", want); st.ID != "prod-eu" {
		t.Fatalf("installed journal under cluster.id prod-eu-2 carries %q, want the leader's journal's prod-eu", st.ID)
	}
	if st := installUnder(t, stream, "prod-eu", want); st.ID != "prod-eu" {
		t.Fatalf("installed journal carries %q, want prod-eu", st.ID)
	}
}

// A stream of a build before version 3 carries no id: the member's
// journal carries its cluster.id, as those builds staged it.
func TestInstalledJournalOfAnOlderStreamCarriesTheClusterID(t *testing.T) {
	stream, want := leaderStream(t, "prod-eu")
	if st := installUnder(t, asVersion1(t, stream), "prod-us", want); st.ID != "prod-us" {
		t.Fatalf("installed journal of a version 1 stream carries %q, want cluster.id prod-us", st.ID)
	}
}

// asVersion1 rewrites a version 3 stream with an empty drops section as
// version 1 (no drops section, no id), its checksum made valid again.
func asVersion1(t *testing.T, stream []byte) []byte {
	t.Helper()
	le := binary.LittleEndian
	at := installHeader + int(le.Uint64(stream[24:]))
	if le.Uint32(stream[4:]) != installVersionID || le.Uint32(stream[at:]) != 0 {
		t.Fatalf("not a version 3 stream without drops: version %d", le.Uint32(stream[4:]))
	}
	idLen := int(stream[at+4])
	b := bytes.Clone(stream[:at])
	le.PutUint32(b[4:], installVersion)
	b = append(b, stream[at+4+1+idLen:len(stream)-4]...)
	return le.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// A version 3 stream whose id section (its checksum valid) names no id a
// segment header can hold is refused: nothing is staged.
func TestStreamWithABadJournalIDIsRefused(t *testing.T) {
	stream, _ := leaderStream(t, "prod-eu")
	le := binary.LittleEndian
	at := installHeader + int(le.Uint64(stream[24:]))
	at += 4 + int(le.Uint32(stream[at:])) // the id section
	for name, id := range map[string]string{"a slash": "prod/eu", "too long": strings.Repeat("x", 33)} {
		t.Run(name, func(t *testing.T) {
			b := bytes.Clone(stream[:at])
			b = append(append(b, byte(len(id))), id...)
			b = append(b, stream[at+1+int(stream[at]):len(stream)-4]...)
			b = le.AppendUint32(b, crc32.Checksum(b, castagnoli))
			dir := t.TempDir()
			cfg := testConfig(t, dir)
			n, _, err := New(cfg, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			_, err = n.installState(bytes.NewReader(b))
			n.discard()
			if !errors.Is(err, ErrInstallStream) || !strings.Contains(err.Error(), "journal id") {
				t.Fatalf("installState: %v, want ErrInstallStream naming the journal id", err)
			}
			if _, err := os.Stat(cfg.JournalDir() + ".staged"); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a journal staged from the refused stream: %v", err)
			}
		})
	}
}

// A stream of a version above this build's — a leader of a later build —
// is refused saying so and what to do: upgrade this member. Before, the
// refusal said only that it was not a version 1 to 3 stream, with the
// header in hex.
func TestStreamOfALaterBuildIsRefusedSayingSo(t *testing.T) {
	b := tinyStreamOf("prod-eu")
	binary.LittleEndian.PutUint32(b[4:], installVersionID+1)
	_, err := stageState(bytes.NewReader(b), testStaging(t.TempDir()), 1<<20)
	if !errors.Is(err, ErrInstallStream) || !strings.Contains(err.Error(), "later build") || !strings.Contains(err.Error(), "upgrade this member") {
		t.Fatalf("stageState of a version %d stream: %v; want ErrInstallStream naming a later build and the upgrade", installVersionID+1, err)
	}
}
