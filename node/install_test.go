package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/replicator"
	"github.com/ringex/ringex/vfs"
)

// raftStream runs a node through a snapshot and more orders and returns
// its raft snapshot stream, with the input and state hash it describes.
func raftStream(t *testing.T) ([]byte, NodeState) {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	if err := cfg.Set("journal.sync", "none"); err != nil { // as in a cluster
		t.Fatal(err)
	}
	tracker := vfs.NewSyncTracker(vfs.Default)
	n, addrs, _ := startNodeWith(t, cfg, Options{FS: tracker})
	defer n.Stop()
	ref, tick := cfg.Instruments[0].ReferencePrice, cfg.Instruments[0].TickSize
	c := dial(t, addrs.Gateway, 1)
	for i := uint64(1); i <= 3000; i++ {
		c.NewOrder(limit(i, wire.SideBuy, ref-int64(1+i%40)*tick, 1))
		if i == 1000 {
			next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == 1000 })
			n.RequestSnapshot()
		}
	}
	next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == 3000 })
	var st NodeState
	waitUntil(t, func() bool { st = n.State(); return st.Seq == n.journal.Durable() && st.Seq >= 3001 })
	waitUntil(t, func() bool { s, _ := n.snaps.List(); return len(s) > 0 })
	var buf bytes.Buffer
	if err := n.raftSnapshot(st.Seq, &buf); err != nil {
		t.Fatal(err)
	}
	// Raft drops the log before the snapshot: the journal holds those
	// inputs alone from now on, so it must be durable, fsynced or not.
	for _, name := range tracker.Unsynced() {
		if strings.HasSuffix(name, ".journal") {
			t.Fatalf("journal segment %s written and not synced after the raft snapshot", name)
		}
	}
	return buf.Bytes(), st
}

// A raft snapshot stream staged on another node's data directory and
// installed at its start gives the same state at the same input.
func TestRaftSnapshotInstallsTheSameState(t *testing.T) {
	stream, want := raftStream(t)
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	applied, err := stageState(bytes.NewReader(stream), filepath.Join(dir, installDirName), cfg.Journal.SegmentBytes)
	if err != nil || applied != want.Seq {
		t.Fatalf("staged up to %d (%v), want %d", applied, err, want.Seq)
	}
	// The node's own (older) journal is replaced, and kept aside.
	if err := os.MkdirAll(cfg.JournalDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	ok, err := installStaged(cfg.JournalDir(), cfg.SnapshotDir(), dir)
	if !ok || err != nil {
		t.Fatalf("installStaged: %v %v", ok, err)
	}
	if _, err := os.Stat(cfg.JournalDir() + ".replaced"); err != nil {
		t.Fatalf("replaced journal not kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, installDirName)); !os.IsNotExist(err) {
		t.Fatalf("staging directory left behind: %v", err)
	}
	n, rec, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer n.discard()
	if rec.LastSeq != want.Seq || rec.SnapshotSeq == 0 || rec.Replayed == 0 {
		t.Fatalf("recovered %+v, want a snapshot plus journal up to %d", rec, want.Seq)
	}
	if got := n.State().Hash; got != want.Hash {
		t.Fatalf("state hash %s after installing, %s on the source", got, want.Hash)
	}
	// Nothing staged: nothing happens.
	if ok, err := installStaged(cfg.JournalDir(), cfg.SnapshotDir(), dir); ok || err != nil {
		t.Fatalf("second installStaged: %v %v", ok, err)
	}
}

// A damaged or cut stream is refused and nothing is staged for the next
// start.
func TestRaftSnapshotStreamCorruption(t *testing.T) {
	stream, _ := raftStream(t)
	try := func(name string, b []byte) {
		t.Helper()
		dir := filepath.Join(t.TempDir(), installDirName)
		if _, err := stageState(bytes.NewReader(b), dir, 1<<20); !errors.Is(err, ErrInstallStream) {
			t.Errorf("%s: stageState = %v, want ErrInstallStream", name, err)
		}
		if _, err := os.Stat(filepath.Join(dir, installReady)); !os.IsNotExist(err) {
			t.Errorf("%s: READY written for a bad stream", name)
		}
	}
	for _, at := range []int{0, 5, 9, 17, 25, installHeader + 10, len(stream) / 2, len(stream) - 100, len(stream) - 1} {
		b := bytes.Clone(stream)
		b[at] ^= 0x40
		try("flipped byte "+itoa(at), b)
	}
	for _, cut := range []int{0, 10, installHeader, installHeader + 100, len(stream) / 2, len(stream) - 4, len(stream) - 1} {
		try("cut at "+itoa(cut), stream[:cut])
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestTinyStreamStages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), installDirName)
	if applied, err := stageState(bytes.NewReader(tinyStream()), dir, 1<<20); err != nil || applied != 2 {
		t.Fatalf("tiny stream: %d %v", applied, err)
	}
}

// FuzzStageState: no stream, however damaged, panics the installer or
// stages a state (only the checksum-valid original does).
func FuzzStageState(f *testing.F) {
	f.Add([]byte(installMagic + "\x01\x00\x00\x00"))
	f.Add(tinyStream())
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := filepath.Join(t.TempDir(), installDirName)
		if _, err := stageState(bytes.NewReader(b), dir, 1<<20); err == nil {
			if _, err := os.Stat(filepath.Join(dir, installReady)); err != nil {
				t.Fatal("accepted without READY")
			}
		}
	})
}

// tinyStream is a valid stream of two inputs and no snapshot.
func tinyStream() []byte {
	var b []byte
	le := binary.LittleEndian
	b = append(b, installMagic...)
	b = le.AppendUint32(b, installVersion)
	b = le.AppendUint64(b, 0)
	b = le.AppendUint64(b, 2)
	b = le.AppendUint64(b, 0)
	e := replicator.AppendHeader(nil, replicator.Header{First: 1, Count: 2})
	e = replicator.AppendInput(e, &replicator.Input{RecvTime: 1, Session: 7, Account: 1, Kind: 1, Payload: []byte("abc")})
	e = replicator.AppendInput(e, &replicator.Input{RecvTime: 2, Session: 7, Account: 1, Kind: 1, Payload: []byte("de")})
	b = le.AppendUint32(b, uint32(len(e)))
	b = append(b, e...)
	return le.AppendUint32(b, crc32.Checksum(b, castagnoli))
}
