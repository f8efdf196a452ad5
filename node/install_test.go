package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/replicator"
	"github.com/ringex/ringex/snapshot"
	"github.com/ringex/ringex/vfs"
)

// raftStream runs a node through a snapshot and more orders and returns
// its raft snapshot stream, with the input and state hash it describes.
func raftStream(t *testing.T) ([]byte, NodeState) {
	t.Helper()
	tracker := vfs.NewSyncTracker(vfs.Default)
	n, st := raftSource(t, Options{FS: tracker})
	defer n.Stop()
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

// raftSource runs a node through a snapshot and more orders, and returns
// it running (the caller stops it) with the state its raft snapshot is
// to be of: every input journaled durably.
func raftSource(t *testing.T, opts Options) (*Node, NodeState) {
	t.Helper()
	return raftSourceUnder(t, opts, "")
}

// raftSourceUnder is raftSource with cluster.id set to clusterID (""
// leaves it unset).
func raftSourceUnder(t *testing.T, opts Options, clusterID string) (*Node, NodeState) {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	if clusterID != "" {
		if err := cfg.Set("cluster.id", clusterID); err != nil {
			t.Fatal(err)
		}
	}
	if err := cfg.Set("journal.sync", "none"); err != nil { // as in a cluster
		t.Fatal(err)
	}
	n, addrs, _ := startNodeWith(t, cfg, opts)
	c := dial(t, addrs.Gateway, 1) // open while the node runs: its logoff is an input
	restBids(t, c, cfg.Instruments[0], 1, 1000)
	// Written before the next orders: the copy is taken between batches
	// and is of the state it finishes at, which with orders streaming in
	// could be past the last of them.
	waitSnapshot(t, n)
	restBids(t, c, cfg.Instruments[0], 1001, 3000)
	var st NodeState
	waitUntil(t, func() bool { st = n.stateNow(); return st.Seq == n.journal.Durable() && st.Seq >= 3001 })
	return n, st
}

// A raft snapshot stream staged on another node's data directory and
// installed at its start gives the same state at the same input.
func TestRaftSnapshotInstallsTheSameState(t *testing.T) {
	stream, want := raftStream(t)
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	st := stagingFor(cfg.JournalDir(), cfg.SnapshotDir(), dir)
	applied, err := stageState(bytes.NewReader(stream), st, cfg.Journal.SegmentBytes)
	if err != nil || applied != want.Seq {
		t.Fatalf("staged up to %d (%v), want %d", applied, err, want.Seq)
	}
	// The snapshot staged records the session ids of the inputs before
	// it (sessionTable): the source's client logged on and sent orders
	// before it. Without them, the member that installs it gave out
	// again, leading, an id no resting order and no input after the
	// snapshot names.
	staged, err := snapshot.OpenStore(st.snapshots, nil)
	if err != nil {
		t.Fatal(err)
	}
	if snap, _, err := staged.Newest(0); err != nil || snap.Seq == 0 || gateway.SessionMember(snap.Sessions[0]) != cfg.Node.ID || snap.Sessions[0] == 0 {
		t.Fatalf("staged snapshot at %d with sessions %v (%v): want the source's client's id, member %d's", snap.Seq, snap.Sessions, err, cfg.Node.ID)
	}
	// The node's own (older) journal is replaced, and kept aside.
	if err := os.MkdirAll(cfg.JournalDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	ok, err := installStaged(cfg.JournalDir(), cfg.SnapshotDir(), cfg.ArchiveDir(), dir, zerolog.Nop())
	if !ok || err != nil {
		t.Fatalf("installStaged: %v %v", ok, err)
	}
	if _, err := os.Stat(cfg.JournalDir() + ".replaced"); err != nil {
		t.Fatalf("replaced journal not kept: %v", err)
	}
	for _, left := range []string{filepath.Join(dir, installDirName), cfg.JournalDir() + ".staged", cfg.SnapshotDir() + ".staged"} {
		if _, err := os.Stat(left); !os.IsNotExist(err) {
			t.Fatalf("staging left behind: %v", err)
		}
	}
	n, rec, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer n.discard()
	if rec.LastSeq != want.Seq || rec.SnapshotSeq == 0 || rec.Replayed == 0 {
		t.Fatalf("recovered %+v, want a snapshot plus journal up to %d", rec, want.Seq)
	}
	if got := n.stateNow().Hash; got != want.Hash {
		t.Fatalf("state hash %s after installing, %s on the source", got, want.Hash)
	}
	// Nothing staged: nothing happens.
	if ok, err := installStaged(cfg.JournalDir(), cfg.SnapshotDir(), cfg.ArchiveDir(), dir, zerolog.Nop()); ok || err != nil {
		t.Fatalf("second installStaged: %v %v", ok, err)
	}
}

// A damaged or cut stream is refused and nothing is staged for the next
// start.
func TestRaftSnapshotStreamCorruption(t *testing.T) {
	stream, _ := raftStream(t)
	try := func(name string, b []byte) { t.Helper(); refusedStream(t, name, b) }
	for _, at := range []int{0, 5, 9, 17, 25, installHeader + 10, len(stream) / 2, len(stream) - 100, len(stream) - 1} {
		b := bytes.Clone(stream)
		b[at] ^= 0x40
		try("flipped byte "+itoa(at), b)
	}
	for _, cut := range []int{0, 10, installHeader, installHeader + 100, len(stream) / 2, len(stream) - 4, len(stream) - 1} {
		try("cut at "+itoa(cut), stream[:cut])
	}
}

// refusedStream checks that stageState refuses the stream b
// (ErrInstallStream) and stages nothing for the next start.
func refusedStream(t *testing.T, name string, b []byte) {
	t.Helper()
	st := testStaging(t.TempDir())
	if _, err := stageState(bytes.NewReader(b), st, 1<<20); !errors.Is(err, ErrInstallStream) {
		t.Errorf("%s: stageState = %v, want ErrInstallStream", name, err)
	}
	if _, err := os.Stat(st.ready); !os.IsNotExist(err) {
		t.Errorf("%s: READY written for a bad stream", name)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// testStaging is a staging for a data directory dir with the default
// journal and snapshot directories.
func testStaging(dir string) staging {
	return stagingFor(filepath.Join(dir, "journal"), filepath.Join(dir, "snapshots"), dir)
}

func TestTinyStreamStages(t *testing.T) {
	if applied, err := stageState(bytes.NewReader(tinyStream()), testStaging(t.TempDir()), 1<<20); err != nil || applied != 2 {
		t.Fatalf("tiny stream: %d %v", applied, err)
	}
}

// FuzzStageState: no stream, however damaged, panics the installer or
// stages a state (only the checksum-valid original does), nor a drops
// file that does not read.
//
// Every input stages into one directory, emptied before each, in memory
// where it can be (testkit.FuzzDir): a directory made and removed per
// input (t.TempDir) was most of an input's time, and then the fsyncs of
// those that reach the journal.
func FuzzStageState(f *testing.F) {
	f.Add([]byte(installMagic + "\x01\x00\x00\x00"))
	f.Add(tinyStream())
	f.Add(tinyStreamWith([]byte("# input    checksum\n2          0000002a  # a note\n9 ffffffff\n")))
	f.Add(tinyStreamOf("prod-eu"))
	dir := testkit.FuzzDir(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		testkit.EmptyDir(t, dir)
		st := testStaging(dir)
		if _, err := stageState(bytes.NewReader(b), st, 1<<20); err == nil {
			if _, err := os.Stat(st.ready); err != nil {
				t.Fatal("accepted without READY")
			}
			if _, err := journal.ReadDrops(nil, st.journal); err != nil {
				t.Fatalf("staged a drops file that does not read: %v", err)
			}
		}
	})
}

// tinyStream is a valid stream of two inputs and no snapshot.
func tinyStream() []byte { return tinyStreamWith(nil) }

// tinyStreamWith is tinyStream with a drops section of drops (a version
// 2 stream; nil: version 1). Its checksum is valid whatever drops holds.
func tinyStreamWith(drops []byte) []byte { return tinyStreamVersion(drops, "", false) }

// tinyStreamOf is tinyStream as version 3, its journal id id and no
// dropped input.
func tinyStreamOf(id string) []byte { return tinyStreamVersion(nil, id, true) }

func tinyStreamVersion(drops []byte, id string, withID bool) []byte {
	var b []byte
	le := binary.LittleEndian
	b = append(b, installMagic...)
	switch {
	case withID:
		b = le.AppendUint32(b, installVersionID)
	case drops == nil:
		b = le.AppendUint32(b, installVersion)
	default:
		b = le.AppendUint32(b, installVersionDrops)
	}
	b = le.AppendUint64(b, 0)
	b = le.AppendUint64(b, 2)
	b = le.AppendUint64(b, 0)
	if drops != nil || withID {
		b = le.AppendUint32(b, uint32(len(drops)))
		b = append(b, drops...)
	}
	if withID {
		b = append(append(b, byte(len(id))), id...)
	}
	e := replicator.AppendHeader(nil, replicator.Header{First: 1, Count: 2})
	e = replicator.AppendInput(e, &replicator.Input{RecvTime: 1, Session: 7, Account: 1, Kind: 1, Payload: []byte("abc")})
	e = replicator.AppendInput(e, &replicator.Input{RecvTime: 2, Session: 7, Account: 1, Kind: 1, Payload: []byte("de")})
	b = le.AppendUint32(b, uint32(len(e)))
	b = append(b, e...)
	return le.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// mountTmpfs mounts a small tmpfs at dir for the test, or skips it where
// that is not allowed (not root, no mount namespace rights).
func mountTmpfs(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
}

// A journal on a filesystem of its own (journal.dir on another disk than
// node.data_dir, as a fast journal disk would be) takes a staged state as
// well: staging beside the live directories keeps every rename on one
// filesystem. Staged under the data directory, the swap moved the live
// journal aside, then failed to rename the staged one across filesystems
// — at every start, deleting the journal it had moved aside.
func TestInstallWithTheJournalOnAnotherFilesystem(t *testing.T) {
	stream, want := raftStream(t)
	dir := t.TempDir()
	fast := filepath.Join(t.TempDir(), "fast")
	mountTmpfs(t, fast)
	cfg := testConfig(t, dir)
	if err := cfg.Set("journal.dir", filepath.Join(fast, "ringex", "journal")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cfg.JournalDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	applied, err := stageState(bytes.NewReader(stream), stagingFor(cfg.JournalDir(), cfg.SnapshotDir(), dir), cfg.Journal.SegmentBytes)
	if err != nil || applied != want.Seq {
		t.Fatalf("staged up to %d (%v), want %d", applied, err, want.Seq)
	}
	for start := 1; start <= 2; start++ {
		ok, err := installStaged(cfg.JournalDir(), cfg.SnapshotDir(), cfg.ArchiveDir(), dir, zerolog.Nop())
		if start == 1 && (!ok || err != nil) {
			t.Fatalf("installStaged: %v %v", ok, err)
		}
		if start == 2 && (ok || err != nil) {
			t.Fatalf("second installStaged: %v %v", ok, err)
		}
	}
	n, rec, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer n.discard()
	if rec.LastSeq != want.Seq || n.stateNow().Hash != want.Hash {
		t.Fatalf("recovered %+v hash %s, want input %d hash %s", rec, n.stateNow().Hash, want.Seq, want.Hash)
	}
}

// installStaged finished by the next start after a crash at any point of
// the swap: k of its four renames done (live journal aside, staged
// journal in, live snapshots aside, staged snapshots in), then a fresh
// installStaged loads the staged state; once more, it finds nothing.
func TestInstallStagedFinishesAfterACrash(t *testing.T) {
	stream, want := raftStream(t)
	for k := range 5 {
		dir := t.TempDir()
		cfg := testConfig(t, dir)
		st := stagingFor(cfg.JournalDir(), cfg.SnapshotDir(), dir)
		if _, err := stageState(bytes.NewReader(stream), st, cfg.Journal.SegmentBytes); err != nil {
			t.Fatal(err)
		}
		const own = "the member's own state"
		for _, d := range []string{cfg.JournalDir(), cfg.SnapshotDir()} {
			if err := os.MkdirAll(d, 0o755); err != nil { // the member's own state: kept as *.replaced
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, "own"), []byte(own), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		renames := [][2]string{
			{cfg.JournalDir(), cfg.JournalDir() + ".replaced"}, {st.journal, cfg.JournalDir()},
			{cfg.SnapshotDir(), cfg.SnapshotDir() + ".replaced"}, {st.snapshots, cfg.SnapshotDir()},
		}
		for _, r := range renames[:k] {
			if err := os.Rename(r[0], r[1]); err != nil {
				t.Fatal(err)
			}
		}
		if ok, err := installStaged(cfg.JournalDir(), cfg.SnapshotDir(), cfg.ArchiveDir(), dir, zerolog.Nop()); !ok || err != nil {
			t.Fatalf("crash after %d renames: installStaged %v %v", k, ok, err)
		}
		if ok, err := installStaged(cfg.JournalDir(), cfg.SnapshotDir(), cfg.ArchiveDir(), dir, zerolog.Nop()); ok || err != nil {
			t.Fatalf("crash after %d renames: second installStaged %v %v", k, ok, err)
		}
		for _, d := range []string{cfg.JournalDir(), cfg.SnapshotDir()} {
			if b, err := os.ReadFile(filepath.Join(d+".replaced", "own")); err != nil || string(b) != own {
				t.Errorf("crash after %d renames: the replaced %s is not kept: %v", k, filepath.Base(d), err)
			}
		}
		n, rec, err := New(cfg, zerolog.Nop())
		if err != nil {
			t.Fatalf("crash after %d renames: %v", k, err)
		}
		if got := n.stateNow().Hash; rec.LastSeq != want.Seq || got != want.Hash {
			t.Errorf("crash after %d renames: recovered input %d hash %s, want %d %s", k, rec.LastSeq, got, want.Seq, want.Hash)
		}
		n.discard()
	}
}

// A stage without its READY marker (the stream was cut, or the member
// died while staging) is not installed, and is removed at the next start.
func TestUnfinishedStageRemoved(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	st := stagingFor(cfg.JournalDir(), cfg.SnapshotDir(), dir)
	if _, err := stageState(bytes.NewReader(tinyStream()), st, 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(st.ready); err != nil {
		t.Fatal(err)
	}
	if ok, err := installStaged(cfg.JournalDir(), cfg.SnapshotDir(), cfg.ArchiveDir(), dir, zerolog.Nop()); ok || err != nil {
		t.Fatalf("installStaged without READY: %v %v", ok, err)
	}
	for _, d := range []string{st.journal, st.snapshots, filepath.Dir(st.ready)} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", d, err)
		}
	}
}

// A raft snapshot taken while the snapshot of input 0 is the node's
// newest carries it: the member that installs it has the record of the
// rules its journal's inputs were decided under, so it starts on the
// same state — and refuses them under other rules. Without it the member
// replayed them under its own config unchecked (and now could not start:
// ErrRulesUnrecorded).
func TestRaftSnapshotAtInputZeroCarriesTheRules(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := cfg.Set("journal.sync", "none"); err != nil {
		t.Fatal(err)
	}
	n, addrs, _ := startNode(t, cfg)
	c := dial(t, addrs.Gateway, 1)
	restBids(t, c, cfg.Instruments[0], 1, 50)
	var want NodeState
	waitUntil(t, func() bool { want = n.stateNow(); return want.Seq == n.journal.Durable() && want.Seq >= 50 })
	if seqs, _ := n.snaps.List(); !slices.Equal(seqs, []int64{0}) {
		t.Fatalf("snapshots %v, want only input 0's", seqs)
	}
	var buf bytes.Buffer
	err := n.raftSnapshot(want.Seq, &buf)
	n.Stop()
	if err != nil {
		t.Fatal(err)
	}
	for _, sameRules := range []bool{true, false} {
		dir := t.TempDir()
		mcfg := testConfig(t, dir)
		if !sameRules {
			mcfg.Accounts[0].MaxOpenOrders = 10
		}
		if _, err := stageState(bytes.NewReader(buf.Bytes()), stagingFor(mcfg.JournalDir(), mcfg.SnapshotDir(), dir), mcfg.Journal.SegmentBytes); err != nil {
			t.Fatal(err)
		}
		if ok, err := installStaged(mcfg.JournalDir(), mcfg.SnapshotDir(), mcfg.ArchiveDir(), dir, zerolog.Nop()); !ok || err != nil {
			t.Fatalf("installStaged: %v %v", ok, err)
		}
		m, rec, err := New(mcfg, zerolog.Nop())
		if !sameRules {
			if !errors.Is(err, ErrRulesChanged) {
				if err == nil {
					m.discard()
				}
				t.Fatalf("installed under other rules: %v, want ErrRulesChanged", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got := m.stateNow().Hash
		m.discard()
		if rec.LastSeq != want.Seq || got != want.Hash {
			t.Fatalf("installed %+v, hash %s; want input %d, hash %s", rec, got, want.Seq, want.Hash)
		}
	}
}

// A raft snapshot stream is refused when a rules record between the
// snapshot it starts from and its end says those inputs were decided
// under other rules (here a rules mark standing for a pruned snapshot of
// another config): the member installing it would replay them under the
// starting snapshot's rules.
func TestRaftSnapshotRefusesToCrossARulesChange(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := cfg.Set("journal.sync", "none"); err != nil {
		t.Fatal(err)
	}
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	c := dial(t, addrs.Gateway, 1)
	restBids(t, c, cfg.Instruments[0], 1, 20)
	var st NodeState
	waitUntil(t, func() bool { st = n.stateNow(); return st.Seq == n.journal.Durable() && st.Seq >= 20 })
	var buf bytes.Buffer
	if err := n.raftSnapshot(st.Seq, &buf); err != nil {
		t.Fatalf("no rules change: %v", err)
	}
	// A mark at input 10 recording other rules, as Prune leaves one.
	mark := binary.LittleEndian.AppendUint64(nil, n.rules^1)
	mark = binary.LittleEndian.AppendUint32(mark, crc32.Checksum(mark, castagnoli))
	if err := os.WriteFile(filepath.Join(cfg.SnapshotDir(), fmt.Sprintf("%020d.rules", 10)), mark, 0o644); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := n.raftSnapshot(st.Seq, &buf); !errors.Is(err, ErrRulesChanged) {
		t.Fatalf("across a rules record of other rules: %v, want ErrRulesChanged", err)
	}
}

// The inputs a member's operator dropped stay dropped when the member
// installs a leader's state: its journal is replaced, the drops file is
// carried into the new one — also when a crash came after the member's
// own journal was set aside.
func TestInstallCarriesTheDroppedInputs(t *testing.T) {
	stream, _ := raftStream(t)
	for _, crashed := range []bool{false, true} {
		dir := t.TempDir()
		cfg := testConfig(t, dir)
		st := stagingFor(cfg.JournalDir(), cfg.SnapshotDir(), dir)
		if _, err := stageState(bytes.NewReader(stream), st, cfg.Journal.SegmentBytes); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(cfg.JournalDir(), 0o700); err != nil {
			t.Fatal(err)
		}
		want := journal.Drop{Seq: 2500, Checksum: 0xabcd, Note: "the member's"}
		if _, err := journal.AddDrop(nil, cfg.JournalDir(), want); err != nil {
			t.Fatal(err)
		}
		if crashed {
			if err := os.Rename(cfg.JournalDir(), cfg.JournalDir()+".replaced"); err != nil {
				t.Fatal(err)
			}
		}
		if ok, err := installStaged(cfg.JournalDir(), cfg.SnapshotDir(), cfg.ArchiveDir(), dir, zerolog.Nop()); !ok || err != nil {
			t.Fatalf("installStaged: %v %v", ok, err)
		}
		d, err := journal.ReadDrops(nil, cfg.JournalDir())
		if err != nil || d.Len() != 1 || d.Entries()[0] != want {
			t.Fatalf("crashed %v: the installed journal lists %v (%v), want %v", crashed, d.Entries(), err, want)
		}
	}
}
