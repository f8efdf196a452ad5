package main

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/replay"
	"github.com/ringex/ringex/snapshot"
	"github.com/ringex/ringex/unmarshal"
	"github.com/ringex/ringex/vfs"
)

// otherState is the snapshot payload of an engine of ecfg holding one
// resting order: a state the heartbeats replayDir journals never build.
func otherState(t *testing.T, ecfg engine.Config) []byte {
	t.Helper()
	eng, err := engine.NewEngine(ecfg, noEvents{})
	if err != nil {
		t.Fatal(err)
	}
	in := ecfg.Instruments[0]
	frame := proto.NewEncoder().NewOrder(0, proto.NewOrder{ClientOrderID: 1, Instrument: in.ID, Side: wire.SideBuy,
		Type: wire.OrderTypeLimit, TIF: wire.TimeInForceGTC, Price: in.ReferencePrice, Quantity: in.LotSize})
	var s input.Slot
	s.Account, s.Kind = 4, input.KindClient
	if !s.SetPayload(frame[proto.PrefixSize:]) {
		t.Fatal("payload too large")
	}
	unmarshal.Decode(1, &s)
	eng.Apply(&s.Cmd)
	if eng.LiveOrders() != 1 {
		t.Fatalf("setup: %d live orders, want the one", eng.LiveOrders())
	}
	return eng.AppendSnapshot(nil)
}

// A replay from the start compares its state with every snapshot the node
// took on the way: the same journal must give the same state, and a state
// that differs (a journal changed after the fact, another build deciding
// the inputs otherwise) is said and fails the command. It replayed past
// them without a look and exited 0 with a hash that was not the node's.
// A snapshot past the journal's end (inputs lost) fails it too, as it did
// only with --from-snapshot, naming the snapshot's file: it gave only its
// input, and from the start no snapshot was restored that named it.
func TestReplayComparesTheSnapshotsItPasses(t *testing.T) {
	for _, tc := range []struct {
		name     string
		snap     func(ecfg engine.Config, empty []byte) snapshot.Snapshot
		wantLine string
		wantErr  string // "": succeeds
	}{
		{"the same state", func(ecfg engine.Config, empty []byte) snapshot.Snapshot {
			return snapshot.Snapshot{Seq: 2, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(), Payload: empty}
		}, `^the state at input 2 is the one snapshot \S+ holds \(hash [0-9a-f]{16}\)$`, ""},
		{"another state", func(ecfg engine.Config, _ []byte) snapshot.Snapshot {
			p := otherState(t, ecfg)
			return snapshot.Snapshot{Seq: 2, Hash: engine.SnapshotHash(p), Rules: ecfg.Fingerprint(), Payload: p}
		}, `^the state at input 2 differs from the one snapshot \S+ holds: hash [0-9a-f]{16}, the snapshot's [0-9a-f]{16}`,
			"diverged from the node's snapshot at input 2"},
		{"another state under other rules", func(ecfg engine.Config, _ []byte) snapshot.Snapshot {
			p := otherState(t, ecfg)
			return snapshot.Snapshot{Seq: 2, Hash: engine.SnapshotHash(p), Rules: ecfg.Fingerprint() + 1, Payload: p}
		}, `^the state at input 2 differs from the one snapshot \S+ holds: .*under other instruments, accounts or limits than this config has\)$`, ""},
		{"the same state under other rules", func(ecfg engine.Config, _ []byte) snapshot.Snapshot {
			// The node had one more instrument: restored under this
			// config it drops out, and the states agree while their
			// hashes do not. It was called "the one snapshot … holds"
			// with this config's hash, not the one ringex status showed.
			ecfg.Instruments = append(slices.Clone(ecfg.Instruments), ecfg.Instruments[0])
			ecfg.Instruments[len(ecfg.Instruments)-1].ID = 99
			p := emptyOf(t, ecfg)
			return snapshot.Snapshot{Seq: 2, Hash: engine.SnapshotHash(p), Rules: ecfg.Fingerprint(), Payload: p}
		}, `^the state at input 2 is the one snapshot \S+ holds once restored under this config \(hash [0-9a-f]{16}\); the node's own was [0-9a-f]{16}, under other instruments`, ""},
		{"another state, no rules recorded (an earlier build's snapshot)", func(ecfg engine.Config, _ []byte) snapshot.Snapshot {
			p := otherState(t, ecfg)
			return snapshot.Snapshot{Seq: 2, Hash: engine.SnapshotHash(p), Payload: p}
		}, `^the state at input 2 differs from the one snapshot \S+ holds: .*the snapshot records no rules`, ""},
		{"a snapshot past the journal's end", func(ecfg engine.Config, empty []byte) snapshot.Snapshot {
			return snapshot.Snapshot{Seq: 5, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(), Payload: empty}
		}, `^state hash`, "the snapshot at input 5 is past the journal's end: the journal lost inputs the snapshot " +
			filepath.Join("DIR", "snapshots", "00000000000000000005.snap") + " holds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := replayDir(t, func(ecfg engine.Config, empty []byte) []snapshot.Snapshot {
				return []snapshot.Snapshot{{Seq: 0, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(), Payload: empty}, tc.snap(ecfg, empty)}
			})
			out, err := ringex(t, nil, "replay", "--set", "node.data_dir="+dir)
			wantErr := strings.ReplaceAll(tc.wantErr, "DIR", dir) // a snapshot named by its path
			switch {
			case wantErr == "" && err != nil:
				t.Fatalf("%v\n%s", err, out)
			case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
				t.Fatalf("error %v, want one saying %q\n%s", err, wantErr, out)
			}
			wantLine(t, out, tc.wantLine)
			wantLine(t, out, `^replayed 3 records \(to sequence 3\)`)
			wantLine(t, out, `^state hash [0-9a-f]{16}$`)
		})
	}
	// --to before a snapshot does not reach it: nothing to compare.
	dir := replayDir(t, func(ecfg engine.Config, empty []byte) []snapshot.Snapshot {
		p := otherState(t, ecfg)
		return []snapshot.Snapshot{{Seq: 3, Hash: engine.SnapshotHash(p), Rules: ecfg.Fingerprint(), Payload: p}}
	})
	if out := mustRingex(t, "replay", "--set", "node.data_dir="+dir, "--to", "2"); strings.Contains(out, "the state at input") {
		t.Fatalf("--to 2 compared a later snapshot:\n%s", out)
	}
}

// A journal whose last segment ends in a torn tail (a write a crash cut
// short) replays to the record before it, as a node's start does, and
// says so: it ended there as if the journal had, and the operator could
// not tell a clean end from a torn one.
func TestReplaySaysTheJournalEndsInATornTail(t *testing.T) {
	dir := replayDir(t, func(ecfg engine.Config, empty []byte) []snapshot.Snapshot {
		return []snapshot.Snapshot{{Seq: 0, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(), Payload: empty}}
	})
	tearInputThree(t, dir)
	out := mustRingex(t, "replay", "--set", "node.data_dir="+dir)
	wantLine(t, out, `^replayed 2 records \(to sequence 2\)`)
	wantLine(t, out, `^torn tail: \S+\.journal from offset \d+, after input 2, holds no record \(a write cut short by a crash, or damage: an unsynced journal ends at its first bad record\); not replayed, as a node's start truncates it$`)
}

// tearInputThree damages input 3, the last record replayDir journals: a
// torn tail from its offset, after input 2.
func tearInputThree(t *testing.T, dir string) {
	t.Helper()
	damageInput(t, dir, 3, 1) // its length
	if st, err := journal.Inspect(filepath.Join(dir, "journal"), nil, nil); err != nil || st.TornFile == "" || st.LastSeq != 2 {
		t.Fatalf("setup: inspect %+v: %v, want a torn tail after input 2", st, err)
	}
}

// A replay --from-snapshot of a snapshot past the journal's end, which
// ends in a torn tail, says the tail is before the snapshot's input: it
// said "after input 5", the snapshot's, of a journal that ends at 2.
func TestReplayFromASnapshotPastATornTail(t *testing.T) {
	dir := replayDir(t, func(ecfg engine.Config, empty []byte) []snapshot.Snapshot {
		return []snapshot.Snapshot{{Seq: 0, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(), Payload: empty},
			{Seq: 5, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(), Payload: empty}}
	})
	tearInputThree(t, dir)
	out, err := ringex(t, nil, "replay", "--set", "node.data_dir="+dir, "--from-snapshot")
	if err == nil || !strings.Contains(err.Error(), "the snapshot at input 5 is past the journal's end") {
		t.Fatalf("err %v, want the snapshot past the journal's end\n%s", err, out)
	}
	wantLine(t, out, `^torn tail: \S+\.journal from offset \d+, before the snapshot's input 5, holds no record `)
}

// --to a snapshot's input compares with it and stops there.
func TestReplayToASnapshot(t *testing.T) {
	dir := replayDir(t, func(ecfg engine.Config, empty []byte) []snapshot.Snapshot {
		return []snapshot.Snapshot{{Seq: 2, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(), Payload: empty}}
	})
	out := mustRingex(t, "replay", "--set", "node.data_dir="+dir, "--to", "2")
	wantLine(t, out, `^the state at input 2 is the one snapshot `)
	wantLine(t, out, `^replayed 2 records \(to sequence 2\)`)
}

// --account narrows --events; alone it was accepted and did nothing (the
// summary of every account printed as if it were the account's).
func TestReplayAccountNeedsEvents(t *testing.T) {
	dir := replayDir(t, func(ecfg engine.Config, empty []byte) []snapshot.Snapshot { return nil })
	out, err := ringex(t, nil, "replay", "--set", "node.data_dir="+dir, "--account", "4")
	if err == nil || !strings.Contains(err.Error(), "--account 4 selects the events --events prints") || strings.Contains(out, "state hash") {
		t.Fatalf("replay --account without --events: %v\n%s", err, out)
	}
}

// --from-snapshot that passed over every snapshot (none restores) and
// replays from the start does not compare with them: they are not the
// node's states but files it would pass over too, and it said so.
func TestReplayFromSnapshotComparesNone(t *testing.T) {
	dir := replayDir(t, func(ecfg engine.Config, empty []byte) []snapshot.Snapshot {
		bad := []byte("a checksummed file whose engine state is no engine state")
		return []snapshot.Snapshot{{Seq: 2, Hash: engine.SnapshotHash(bad), Rules: ecfg.Fingerprint(), Payload: bad}}
	})
	out := mustRingex(t, "replay", "--set", "node.data_dir="+dir, "--from-snapshot")
	wantLine(t, out, `^no snapshot: replaying from the start`)
	if strings.Contains(out, "the state at input") {
		t.Fatalf("compared with a snapshot it passed over:\n%s", out)
	}
}

// asVersion2 is an empty engine state (v3, AppendSnapshot's) as a build
// of snapshot version 2 wrote it: no suspended byte per account.
func asVersion2(t *testing.T, v3 []byte) []byte {
	t.Helper()
	le := binary.LittleEndian
	if string(v3[:4]) != "RXEN" || le.Uint16(v3[4:]) != 3 {
		t.Fatalf("setup: not a version 3 state: %x", v3[:6])
	}
	v2 := append([]byte(nil), v3[:6]...)
	v2 = le.AppendUint16(v2[:4], 2)
	off := 6
	books := int(le.Uint32(v3[off:]))
	off += 4 + books*(4+1+8+4+4) // empty books: id, halted, last trade, no bids, no asks
	if le.Uint32(v3[off-4:]) != 0 {
		t.Fatal("setup: a book holds orders")
	}
	v2 = append(v2, v3[6:off]...)
	accounts := int(le.Uint32(v3[off:]))
	v2 = append(v2, v3[off:off+4]...)
	off += 4
	for range accounts {
		if v3[off+4] != 0 || le.Uint32(v3[off+5:]) != 0 {
			t.Fatal("setup: an account is suspended or holds orders")
		}
		v2 = append(v2, v3[off:off+4]...)   // id
		v2 = append(v2, v3[off+5:off+9]...) // no orders
		off += 9
	}
	if off != len(v3) {
		t.Fatalf("setup: %d bytes after the accounts", len(v3)-off)
	}
	return v2
}

// A snapshot an earlier build wrote (engine state version 2) holds the
// state the replay rebuilt, in another encoding, whose hash differs: the
// replay compares the state it restores to, not the bytes (it called the
// same state a divergence).
func TestReplayComparesAnOlderBuildsSnapshotByItsState(t *testing.T) {
	dir := replayDir(t, func(ecfg engine.Config, empty []byte) []snapshot.Snapshot {
		v2 := asVersion2(t, empty)
		if _, err := engine.RestoreEngine(ecfg, v2, noEvents{}); err != nil {
			t.Fatalf("setup: the version 2 state does not restore: %v", err)
		}
		return []snapshot.Snapshot{{Seq: 2, Hash: engine.SnapshotHash(v2), Rules: ecfg.Fingerprint(), Payload: v2}}
	})
	out := mustRingex(t, "replay", "--set", "node.data_dir="+dir)
	wantLine(t, out, `^the state at input 2 is the one snapshot \S+ holds`)
}

// A damaged snapshot past the journal's end, which a node passes over,
// does not fail the replay; an intact one does.
func TestReplayPastADamagedSnapshot(t *testing.T) {
	dir := replayDir(t, func(ecfg engine.Config, empty []byte) []snapshot.Snapshot {
		return []snapshot.Snapshot{{Seq: 3, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(), Payload: empty},
			{Seq: 5, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(), Payload: empty}}
	})
	damaged := filepath.Join(dir, "snapshots", "00000000000000000005.snap")
	damageMiddleByte(t, damaged)
	out := mustRingex(t, "replay", "--set", "node.data_dir="+dir)
	wantLine(t, out, `^the state at input 3 is the one snapshot `)
}

// A replay from the start reads the journal once, however many snapshots
// it stops at to compare: it read again from the start of the segment
// holding the input after each one (a reader opened anew per stop), a
// replay of a production journal with its snapshots taking 3–5 times as
// long as before it compared.
func TestReplayComparingReadsTheJournalOnce(t *testing.T) {
	const inputs, every = 4000, 500
	var stops []int64
	dir := replayDir(t, func(ecfg engine.Config, empty []byte) []snapshot.Snapshot {
		snaps := []snapshot.Snapshot{{Seq: 0, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(), Payload: empty}}
		for s := int64(every); s <= inputs; s += every {
			stops = append(stops, s)
			snaps = append(snaps, snapshot.Snapshot{Seq: s, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(), Payload: empty})
		}
		return snaps
	})
	cfg := config.Default()
	if err := cfg.Set("node.data_dir", dir); err != nil {
		t.Fatal(err)
	}
	j, _, err := journal.Open(cfg.JournalDir(), journal.Options{SegmentBytes: 1 << 20, Sync: journal.SyncBatch})
	if err != nil {
		t.Fatal(err)
	}
	frame := proto.NewEncoder().Heartbeat(0)
	for seq := int64(4); seq <= inputs; seq++ { // replayDir journals 1–3
		if err := j.Append(&journal.Record{Seq: seq, Kind: uint8(input.KindControl), Payload: frame[proto.PrefixSize:]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	var size int64
	segs, _ := filepath.Glob(filepath.Join(cfg.JournalDir(), "*"))
	for _, s := range segs {
		if fi, err := os.Stat(s); err == nil && fi.Mode().IsRegular() {
			size += fi.Size()
		}
	}
	store, err := snapshot.OpenStore(cfg.SnapshotDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ecfg := node.EngineConfig(cfg)
	eng, err := engine.NewEngine(ecfg, noEvents{})
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshotStops(store, 0, 0); !slices.Equal(got, stops) {
		t.Fatalf("stops %v, want %v", got, stops)
	}
	fs := vfs.NewReadCounter(vfs.Default)
	var out strings.Builder
	st, diverged, err := runChecked(&out, cfg.JournalDir(), fs, replay.Options{}, eng, 0, 0, store, stops, ecfg, noOtherRules)
	if err != nil || diverged != nil || st.Last != inputs || st.Records != inputs {
		t.Fatalf("records %d, last %d, diverged %v, err %v\n%s", st.Records, st.Last, diverged, err, out.String())
	}
	if n := strings.Count(out.String(), " is the one snapshot "); n != len(stops) {
		t.Fatalf("%d comparisons, want %d:\n%s", n, len(stops), out.String())
	}
	// Once, and a little more: a segment's header is read on opening.
	if read := fs.Total(); read > size+size/4 {
		t.Fatalf("read %d bytes of a journal of %d (%.1f times)", read, size, float64(read)/float64(size))
	}
}

// damageInput flips a byte of input seq's record in the journal under
// dir: the byte at offset at into the record (1: its length; 12: its
// body, so that its CRC no longer matches).
func damageInput(t *testing.T, dir string, seq int64, at int64) {
	t.Helper()
	r, err := journal.NewReader(filepath.Join(dir, "journal"), nil, seq)
	if err != nil {
		t.Fatal(err)
	}
	var rec journal.Record
	if err := r.Next(&rec); err != nil || rec.Seq != seq {
		t.Fatalf("setup: record %d: %v", rec.Seq, err)
	}
	seg, off := r.Position()
	r.Close()
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[off+at] ^= 0x5a
	if err := os.WriteFile(seg, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A replay stopped by a bad record prints the state it reached before
// it — the last input applied and the state hash there, what an operator
// compares with a node's — then fails with the error, as before. It
// printed only the error.
func TestReplayStoppedByABadRecordPrintsTheStateReached(t *testing.T) {
	cfg := buyJournal(t, 5)
	hashAt := func(seq int64) string {
		out := mustRingex(t, "replay", "--set", "node.data_dir="+cfg.Node.DataDir, "--to", strconv.FormatInt(seq, 10))
		return wantLine(t, out, `^state hash ([0-9a-f]{16})$`)[1]
	}
	at1, at2 := hashAt(1), hashAt(2)
	if at1 == at2 {
		t.Fatalf("setup: inputs 1 and 2 leave the same state hash %s", at1)
	}
	damageInput(t, cfg.Node.DataDir, 3, 12) // in its body, inputs 4 and 5 after it
	out, err := ringex(t, nil, "replay", "--set", "node.data_dir="+cfg.Node.DataDir)
	if !errors.Is(err, journal.ErrCorrupt) {
		t.Fatalf("replay past a damaged input 3: %v, want it corrupt\n%s", err, out)
	}
	wantLine(t, out, `^stopped by the error below: the last input applied was 2 \(2 records replayed\), state hash `+at2+` there`)
}

// A replay that diverged from a snapshot and then stopped on a bad record
// fails with both: it returned the record's error alone, and the
// divergence was only a line of its output.
func TestReplayStoppedAfterADivergenceFailsWithBoth(t *testing.T) {
	dir := replayDirOf(t, 5, func(ecfg engine.Config, _ []byte) []snapshot.Snapshot {
		p := otherState(t, ecfg)
		return []snapshot.Snapshot{{Seq: 2, Hash: engine.SnapshotHash(p), Rules: ecfg.Fingerprint(), Payload: p}}
	})
	damageInput(t, dir, 3, 12) // in its body, inputs 4 and 5 after it
	out, err := ringex(t, nil, "replay", "--set", "node.data_dir="+dir)
	if !errors.Is(err, journal.ErrCorrupt) || !strings.Contains(err.Error(), "diverged from the node's snapshot at input 2") {
		t.Fatalf("replay diverged at input 2, then damaged input 3: %v, want both\n%s", err, out)
	}
}
