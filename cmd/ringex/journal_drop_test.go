package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/snapshot"
)

// `journal drop` says which input it would list, lists it with its
// record's checksum, refuses a checksum that names another input and an
// input the journal lacks without one, and lists one it lacks by the
// checksum given; journal inspect and replay say what is dropped.
func TestJournalDrop(t *testing.T) {
	cfg := buyJournal(t, 5)
	dir := cfg.JournalDir()
	crc, _, err := journal.ChecksumAt([]string{dir}, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, journal.DropsFile)

	out := mustRingex(t, "journal", "drop", dir, "--input", "3")
	wantLine(t, out, fmt.Sprintf(`^input 3: seq=3 .* NewOrder .*, checksum %08x$`, crc))
	wantLine(t, out, `^nothing changed: run again with --yes`)
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("the dry run wrote %s (%v)", file, err)
	}
	out = mustRingex(t, "journal", "drop", dir, "--input", "3", "--yes")
	wantLine(t, out, `^listed in .*dropped-inputs: from its next start the node rejects input 3`)
	wantLine(t, out, fmt.Sprintf(`^  ringex journal drop <journal dir> --input 3 --checksum %08x --yes$`, crc))
	out = mustRingex(t, "journal", "drop", dir, "--input", "3", "--checksum", fmt.Sprintf("%08x", crc), "--yes")
	wantLine(t, out, `^input 3 is listed already`)

	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--input", "3", "--checksum", fmt.Sprintf("%08x", crc+1), "--yes"}, "another input than the one named"},
		{[]string{"--input", "9", "--yes"}, "does not hold input 9: give --checksum"},
		{[]string{"--input", "0"}, "--input N names the input"},
		{[]string{"--input", "4", "--checksum", "12345"}, "is not 8 hex digits"},
	} {
		if out, err := ringex(t, nil, append([]string{"journal", "drop", dir}, tc.args...)...); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("drop %v: %v, want an error saying %q\n%s", tc.args, err, tc.says, out)
		}
	}
	out = mustRingex(t, "journal", "drop", dir, "--input", "9", "--checksum", "0000abcd", "--yes")
	wantLine(t, out, `^input 9: not in .*; listed by the checksum given, 0000abcd$`)

	d, err := journal.ReadDrops(nil, dir)
	if err != nil || d.Len() != 2 {
		t.Fatalf("the file lists %v (%v), want inputs 3 and 9", d.Entries(), err)
	}
	if e := d.Entries()[0]; e.Seq != 3 || e.Checksum != crc || !strings.HasPrefix(e.Note, "dropped 20") {
		t.Fatalf("entry %+v, want input 3, checksum %08x, noted when", e, crc)
	}

	crc4, _, _ := journal.ChecksumAt([]string{dir}, nil, 4)
	if _, err := journal.AddDrop(nil, dir, journal.Drop{Seq: 4, Checksum: crc4 + 1}); err != nil { // by hand: drop refuses it
		t.Fatal(err)
	}
	out = mustRingex(t, "journal", "inspect", dir)
	wantLine(t, out, fmt.Sprintf(`^dropped input 4 \(checksum %08x\): the journal holds another input there \(checksum %08x\): this entry drops nothing$`, crc4+1, crc4))
	wantLine(t, out, fmt.Sprintf(`^dropped input 3 \(checksum %08x\): the engine rejects it`, crc))
	wantLine(t, out, `^dropped input 9 \(checksum 0000abcd\): not in this journal`)
	out = mustRingex(t, "replay", "--set", "node.data_dir="+cfg.Node.DataDir)
	wantLine(t, out, `^dropped input 3: rejected \(dropped-by-operator\), not applied`)
	wantLine(t, out, `^input 4 applied: dropped-inputs lists its sequence with another checksum`)
	wantLine(t, out, `^orders accepted 4, trades 0, rejects 1, live orders 4$`)

	release, err := node.LockDir(dir) // as a running node holds it
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := ringex(t, nil, "journal", "drop", dir, "--input", "4", "--yes"); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("drop beside a running node: %v", err)
	}
}

// clientJournal writes a demo journal (demoJournal) of inputs 1…count
// from account 1's session, their payloads payload's (nil: three bytes,
// no message), and closes it.
func clientJournal(t *testing.T, count int64, payload func(cfg *config.Config, seq int64) []byte) *config.Config {
	t.Helper()
	cfg, j := demoJournal(t)
	for seq := int64(1); seq <= count; seq++ {
		p := []byte{1, 2, 3}
		if payload != nil {
			p = payload(cfg, seq)
		}
		if err := j.Append(&journal.Record{Seq: seq, Session: 1, Account: 1, Kind: uint8(input.KindClient), Payload: p}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// buyJournal is clientJournal of count orders, each a buy of one lot of
// instrument 1 at its reference price that rests: each input changes the
// state.
func buyJournal(t *testing.T, count int64) *config.Config {
	t.Helper()
	enc := proto.NewEncoder()
	return clientJournal(t, count, func(c *config.Config, seq int64) []byte {
		frame := enc.NewOrder(0, proto.NewOrder{ClientOrderID: uint64(seq), Instrument: 1, Side: wire.SideBuy, Type: wire.OrderTypeLimit,
			TIF: wire.TimeInForceGTC, Price: c.Instruments[0].ReferencePrice, Quantity: c.Instruments[0].LotSize})
		return frame[proto.PrefixSize:]
	})
}

// Only <journal dir>/dropped-inputs is read. Given the data directory
// (its journal beside: "does not hold input N: give --checksum", which
// the runbook gives for a member that was down) or the archive, drop
// wrote a file nothing reads, said the input was listed, and the next
// start panicked on it again. It refuses them, naming the journal.
func TestJournalDropRefusesADirectoryNoNodeReads(t *testing.T) {
	cfg := clientJournal(t, 3, nil)
	archive := filepath.Join(cfg.Node.DataDir, "archive")
	if err := os.MkdirAll(archive, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{cfg.Node.DataDir, archive} {
		out, err := ringex(t, nil, "journal", "drop", dir, "--input", "5", "--checksum", "0000abcd", "--yes")
		if err == nil || !strings.Contains(err.Error(), cfg.JournalDir()) {
			t.Errorf("drop in %s: %v, want a refusal naming %s\n%s", dir, err, cfg.JournalDir(), out)
		}
		if _, err := os.Stat(filepath.Join(dir, journal.DropsFile)); !os.IsNotExist(err) {
			t.Errorf("drop wrote %s (%v), which no node reads", filepath.Join(dir, journal.DropsFile), err)
		}
	}
}

// An input the node's newest snapshot is past was applied (or dropped)
// before it: the engine panics only on one after it. Listed — a
// mistyped --input, the dry run's line misread — it changed nothing the
// node held, but every resend replaying across it answered its order
// rejected (dropped-by-operator) while the order was live on the book,
// and a start from an earlier snapshot (the newest damaged), or ringex
// replay, built another state than the cluster's. drop refuses it.
func TestJournalDropRefusesAnInputTheStateIsPast(t *testing.T) {
	cfg := clientJournal(t, 5, nil)
	ecfg, payload, store := emptyState(t, cfg) // the state's content does not matter here
	if _, err := store.Write(snapshot.Snapshot{Seq: 3, Hash: engine.SnapshotHash(payload), Rules: ecfg.Fingerprint(), Payload: payload}); err != nil {
		t.Fatal(err)
	}
	dir := cfg.JournalDir()
	for _, args := range [][]string{{"--input", "2"}, {"--input", "3", "--yes"}} {
		out, err := ringex(t, nil, append([]string{"journal", "drop", dir}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "past input") {
			t.Errorf("drop %v under a snapshot of input 3: %v, want a refusal\n%s", args, err, out)
		}
	}
	if d, err := journal.ReadDrops(nil, dir); err != nil || d.Len() != 0 {
		t.Fatalf("the drops file lists %v (%v), want nothing", d.Entries(), err)
	}
	mustRingex(t, "journal", "drop", dir, "--input", "4", "--yes") // after the snapshot: the one the engine could panic on
	mustRingex(t, "journal", "drop", dir, "--input", "4", "--yes") // listed already: said so, not refused
}

// An input a build before 2026-12-07 journaled of a type newer than it
// (proto/ringex.fbs) was rejected then, and a snapshot may be past it: a
// restart does not replay it, but a replay from an older snapshot,
// ringex replay and a resend would, with a build that knows the type,
// and apply it. drop refused it as an input the engine applied, and the
// refusal left the operator no way. It lists it with --behind-snapshot,
// saying what that means, and the refusal names the flag.
func TestJournalDropBehindTheSnapshot(t *testing.T) {
	e := proto.NewEncoder()
	cfg := clientJournal(t, 5, func(_ *config.Config, seq int64) []byte {
		if seq != 2 {
			return []byte{1, 2, 3}
		}
		return append([]byte(nil), e.Empty(0, wire.Message(250))[proto.PrefixSize:]...)
	})
	ecfg, payload, store := emptyState(t, cfg)
	if _, err := store.Write(snapshot.Snapshot{Seq: 3, Hash: engine.SnapshotHash(payload), Rules: ecfg.Fingerprint(), Payload: payload}); err != nil {
		t.Fatal(err)
	}
	dir := cfg.JournalDir()
	out, err := ringex(t, nil, "journal", "drop", dir, "--input", "2", "--yes")
	if err == nil || !strings.Contains(err.Error(), "past input 2") || !strings.Contains(err.Error(), "--behind-snapshot") {
		t.Fatalf("drop --input 2 under a snapshot of input 3: %v, want a refusal naming --behind-snapshot\n%s", err, out)
	}
	out = mustRingex(t, "journal", "drop", dir, "--input", "2", "--behind-snapshot")
	wantLine(t, out, `^input 2: seq=2 .* type 250 \(newer than this build\) .*, checksum [0-9a-f]{8}$`)
	wantLine(t, out, `^input 2 is behind the newest snapshot \(.*00000000000000000003\.snap, input 3\): listed, it leaves the state the node restores as it is .* `+
		`a start from an older snapshot, ringex replay and resends reject it \(dropped-by-operator\)`)
	wantLine(t, out, `^nothing changed: run again with --yes`)
	if d, err := journal.ReadDrops(nil, dir); err != nil || d.Len() != 0 {
		t.Fatalf("the dry run listed %v (%v)", d.Entries(), err)
	}
	out = mustRingex(t, "journal", "drop", dir, "--input", "2", "--behind-snapshot", "--yes")
	wantLine(t, out, `^listed in .*dropped-inputs: from its next start the node rejects input 2`)
	wantLine(t, out, `^  ringex journal drop <journal dir> --input 2 --checksum [0-9a-f]{8} --behind-snapshot --yes$`)
	out = mustRingex(t, "replay", "--set", "node.data_dir="+cfg.Node.DataDir)
	wantLine(t, out, `^dropped input 2: rejected \(dropped-by-operator\), not applied`)
}

// drop checks the input against the newest snapshot only where it finds
// the snapshots: given the journal as "." (run in it) or with the
// snapshots in a snapshot.dir of their own, it found none, said nothing,
// and listed an input the state is past — resends then answered a live
// order rejected (TestJournalDropRefusesAnInputTheStateIsPast). It makes
// the path absolute, takes --snapshots, and says when it checked nothing.
func TestJournalDropChecksTheSnapshotsWhereverTheyAre(t *testing.T) {
	t.Run("dot", func(t *testing.T) {
		cfg := clientJournal(t, 5, nil)
		ecfg, payload, store := emptyState(t, cfg)
		if _, err := store.Write(snapshot.Snapshot{Seq: 3, Hash: engine.SnapshotHash(payload), Rules: ecfg.Fingerprint(), Payload: payload}); err != nil {
			t.Fatal(err)
		}
		t.Chdir(cfg.JournalDir())
		out, err := ringex(t, nil, "journal", "drop", ".", "--input", "2", "--yes")
		if err == nil || !strings.Contains(err.Error(), "past input") {
			t.Errorf("drop . --input 2 under a snapshot of input 3: %v, want a refusal\n%s", err, out)
		}
		if d, err := journal.ReadDrops(nil, "."); err != nil || d.Len() != 0 {
			t.Fatalf("the drops file lists %v (%v), want nothing", d.Entries(), err)
		}
	})
	t.Run("snapshot.dir", func(t *testing.T) {
		cfg := clientJournal(t, 5, nil)
		elsewhere := filepath.Join(t.TempDir(), "snaps") // snapshot.dir
		store, err := snapshot.OpenStore(elsewhere, nil)
		if err != nil {
			t.Fatal(err)
		}
		ecfg, payload, _ := emptyState(t, cfg)
		if _, err := store.Write(snapshot.Snapshot{Seq: 3, Hash: engine.SnapshotHash(payload), Rules: ecfg.Fingerprint(), Payload: payload}); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(cfg.SnapshotDir()); err != nil { // none beside the journal
			t.Fatal(err)
		}
		dir := cfg.JournalDir()
		out, err := ringex(t, nil, "journal", "drop", dir, "--input", "2", "--snapshots", elsewhere, "--yes")
		if err == nil || !strings.Contains(err.Error(), "past input") {
			t.Errorf("drop --input 2 --snapshots %s under its snapshot of input 3: %v, want a refusal\n%s", elsewhere, err, out)
		}
		out = mustRingex(t, "journal", "drop", dir, "--input", "2") // the dry run, without --snapshots
		wantLine(t, out, `^not checked against the node's snapshots: none beside`)
		out = mustRingex(t, "journal", "drop", dir, "--input", "4", "--snapshots", elsewhere)
		if strings.Contains(out, "not checked") {
			t.Errorf("drop --snapshots %s says it checked nothing:\n%s", elsewhere, out)
		}
	})
}
