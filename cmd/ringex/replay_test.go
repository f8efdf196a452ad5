package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/snapshot"
)

type noEvents struct{}

func (noEvents) Emit(*engine.Event) {}

// replay --from-snapshot says so when the snapshot was taken under other
// instruments, accounts or limits than the config it replays with (the
// operator's copy may differ on purpose; a node refuses to start so).
func TestReplayNotesOtherRules(t *testing.T) {
	for _, tc := range []struct {
		rules    func(ours uint64) uint64
		wantNote bool
	}{
		{func(ours uint64) uint64 { return ours }, false},
		{func(ours uint64) uint64 { return ours + 1 }, true},
		{func(uint64) uint64 { return 0 }, false}, // unknown: a version 1 file
	} {
		var ours uint64
		dir := replayDir(t, func(ecfg engine.Config, empty []byte) []snapshot.Snapshot {
			ours = ecfg.Fingerprint()
			return []snapshot.Snapshot{{Seq: 1, Hash: engine.SnapshotHash(empty), Rules: tc.rules(ours), Payload: empty}}
		})
		out := mustRingex(t, "replay", "--set", "node.data_dir="+dir, "--from-snapshot")
		if got := strings.Contains(out, "note: the snapshot was taken under other"); got != tc.wantNote || !strings.Contains(out, "replayed 2 records") {
			t.Errorf("rules %x: note %v, want %v:\n%s", tc.rules(ours), got, tc.wantNote, out)
		}
	}
}

// replay --from-snapshot passes over a snapshot that verifies but does
// not restore to an older one, as a node's recovery does (it stopped with
// the error).
func TestReplayFallsBackPastASnapshotThatDoesNotRestore(t *testing.T) {
	dir := replayDir(t, func(ecfg engine.Config, empty []byte) []snapshot.Snapshot {
		bad := []byte("a checksummed file whose engine state is no engine state")
		return []snapshot.Snapshot{{Seq: 1, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(), Payload: empty},
			{Seq: 2, Rules: ecfg.Fingerprint(), Payload: bad}}
	})
	out := mustRingex(t, "replay", "--set", "node.data_dir="+dir, "--from-snapshot")
	if !strings.Contains(out, "does not restore") || !strings.Contains(out, "restored snapshot at sequence 1") ||
		!strings.Contains(out, "replayed 2 records") {
		t.Fatalf("replay past a snapshot that does not restore:\n%s", out)
	}
}

// replay --from-snapshot refuses a snapshot a later build wrote — its
// file format or its engine state of a version above this build's, its
// checksum whole — as a node's start does, rather than falling back to
// an older one and replaying that build's inputs under this engine.
func TestReplayRefusesANewerBuildsSnapshot(t *testing.T) {
	for i, want := range []string{"written by a newer ringex build", "taken by a newer ringex build"} {
		field := testkit.SnapshotVersionFields[i]
		t.Run(field.Name, func(t *testing.T) {
			var ours uint64
			dir := replayDir(t, func(ecfg engine.Config, empty []byte) []snapshot.Snapshot {
				ours = ecfg.Fingerprint()
				return []snapshot.Snapshot{{Seq: 1, Hash: engine.SnapshotHash(empty), Rules: ours, Payload: empty},
					{Seq: 2, Hash: engine.SnapshotHash(empty), Rules: ours, Payload: empty}}
			})
			testkit.RaiseSnapshotVersion(t, filepath.Join(dir, "snapshots", fmt.Sprintf("%020d.snap", 2)), field)
			out, err := ringex(t, nil, "replay", "--set", "node.data_dir="+dir, "--from-snapshot")
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "replay with the build that wrote it") ||
				strings.Contains(out, "restored snapshot at sequence 1") {
				t.Fatalf("replay past a newer build's snapshot: %v\n%s", err, out)
			}
		})
	}
}

// replayDir makes a data directory of the demo config holding the given
// snapshots and a journal of three control inputs (heartbeats), and
// returns the directory and the demo config's engine config.
func replayDir(t *testing.T, snaps func(ecfg engine.Config, empty []byte) []snapshot.Snapshot) string {
	t.Helper()
	return replayDirOf(t, 3, snaps)
}

// replayDirOf is replayDir with a journal of inputs heartbeats.
func replayDirOf(t *testing.T, inputs int64, snaps func(ecfg engine.Config, empty []byte) []snapshot.Snapshot) string {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	if err := cfg.Set("node.data_dir", dir); err != nil {
		t.Fatal(err)
	}
	ecfg, empty, store := emptyState(t, cfg)
	for _, snap := range snaps(ecfg, empty) {
		if _, err := store.Write(snap); err != nil {
			t.Fatal(err)
		}
	}
	heartbeatJournal(t, cfg.JournalDir(), "", inputs)
	return dir
}

// heartbeatJournal writes inputs 1 to n, heartbeats (control inputs),
// in a journal in dir of cluster id id ("": a standalone one's own).
func heartbeatJournal(t *testing.T, dir, id string, n int64) {
	t.Helper()
	j, _, err := journal.Open(dir, journal.Options{SegmentBytes: 1 << 20, Sync: journal.SyncBatch, ID: id})
	if err != nil {
		t.Fatal(err)
	}
	frame := proto.NewEncoder().Heartbeat(0)
	for seq := int64(1); seq <= n; seq++ {
		if err := j.Append(&journal.Record{Seq: seq, Kind: uint8(input.KindControl), Payload: frame[proto.PrefixSize:]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

// demoJournal opens a journal in a new data directory of the demo config;
// the test appends to it and closes it.
func demoJournal(t *testing.T) (*config.Config, *journal.Journal) {
	t.Helper()
	cfg, j := journalOnly(t)
	writeInputZeroSnapshot(t, cfg)
	return cfg, j
}

// journalOnly is demoJournal without the snapshot of input 0: a data
// directory of a build before 2026-12-03.
func journalOnly(t *testing.T) (*config.Config, *journal.Journal) {
	t.Helper()
	cfg := config.Default()
	if err := cfg.Set("node.data_dir", t.TempDir()); err != nil {
		t.Fatal(err)
	}
	j, _, err := journal.Open(cfg.JournalDir(), journal.Options{SegmentBytes: 1 << 20, Sync: journal.SyncBatch})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, j
}

// writeInputZeroSnapshot writes what a data directory starts with: the
// snapshot of input 0, which records the rules the journal's inputs are
// decided under (cfg's).
func writeInputZeroSnapshot(t *testing.T, cfg *config.Config) {
	t.Helper()
	ecfg, empty, store := emptyState(t, cfg)
	if _, err := store.Write(snapshot.Snapshot{Seq: 0, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(), Payload: empty}); err != nil {
		t.Fatal(err)
	}
}

// emptyState returns cfg's engine config, the snapshot payload of its
// empty state and cfg's snapshot store.
func emptyState(t *testing.T, cfg *config.Config) (engine.Config, []byte, *snapshot.Store) {
	t.Helper()
	ecfg := node.EngineConfig(cfg)
	store, err := snapshot.OpenStore(cfg.SnapshotDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return ecfg, emptyOf(t, ecfg), store
}

// emptyOf returns the snapshot payload of ecfg's empty state.
func emptyOf(t *testing.T, ecfg engine.Config) []byte {
	t.Helper()
	eng, err := engine.NewEngine(ecfg, noEvents{})
	if err != nil {
		t.Fatal(err)
	}
	return eng.AppendSnapshot(nil)
}

// replay --events names what an operator looks for — instrument, order,
// client order id, account, reason — and the summary says which
// instruments are halted and which accounts suspended.
func TestReplayEventsAndSummary(t *testing.T) {
	cfg, j := demoJournal(t)
	dir := cfg.Node.DataDir
	e := proto.NewEncoder()
	btc := cfg.Instruments[0]
	cp := func(b []byte) []byte { return append([]byte(nil), b...) } // the encoder reuses its buffer
	order := func(clOrd uint64, side wire.Side, qty int64) []byte {
		return cp(e.NewOrder(0, proto.NewOrder{ClientOrderID: clOrd, Instrument: btc.ID, Side: side, Type: wire.OrderTypeLimit,
			TIF: wire.TimeInForceGTC, Price: btc.ReferencePrice, Quantity: qty}))
	}
	inputs := []struct {
		account uint32
		kind    input.Kind
		frame   []byte
	}{
		{4, input.KindClient, order(41, wire.SideBuy, 3)},
		{1, input.KindClient, order(11, wire.SideSell, 1)},
		{4, input.KindControl, cp(e.SuspendAccount(0))},
		{0, input.KindControl, cp(e.Halt(0, btc.ID))},
		{4, input.KindClient, order(42, wire.SideBuy, 1)},
		{4, input.KindClient, cp(e.ResendReports(9, 1))},
	}
	for i, in := range inputs {
		rec := journal.Record{Seq: int64(i + 1), Session: 77, Account: in.account, Kind: uint8(in.kind), Payload: in.frame[proto.PrefixSize:]}
		if err := j.Append(&rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	out := mustRingex(t, "replay", "--set", "node.data_dir="+dir, "--events")
	for _, line := range []string{
		`seq=1 accepted instrument=1 order=1 client=41 account=4 side=buy price=\d+ qty=3 leaves=3`,
		`seq=2 trade instrument=1 trade=\d+ qty=1 price=\d+ taker=2/account=1/sell leaves=0 maker=1/account=4 leaves=2`,
		`seq=3 cancelled instrument=1 order=1 client=41 account=4 side=buy price=\d+ qty=3 leaves=2 reason=account-suspended`,
		`seq=4 halted instrument=1$`,
		`seq=5 rejected instrument=1 order=0 client=42 account=4 .* reason=account-suspended`,
		`seq=6 resend account=4 session=77 after=1$`,
		`instrument 1 \(BTC-USD\): 0 bid levels, 0 ask levels, halted$`,
		`suspended accounts: \[4\]`,
	} {
		wantLine(t, out, "^"+line)
	}
	// Account 1's view: its own order and the trade it took part in.
	out = mustRingex(t, "replay", "--set", "node.data_dir="+dir, "--events", "--account", "1")
	if got := regexp.MustCompile(`(?m)^seq=`).FindAllString(out, -1); len(got) != 2 {
		t.Fatalf("account 1: %d events, want its accept and the trade:\n%s", len(got), out)
	}
	wantLine(t, out, `^seq=2 accepted instrument=1 order=2 client=11 account=1 `)
	wantLine(t, out, `^seq=2 trade `)
	// Account 4 was the maker of that trade: it is in its view too.
	out = mustRingex(t, "replay", "--set", "node.data_dir="+dir, "--events", "--account", "4")
	wantLine(t, out, `^seq=2 trade .* maker=1/account=4 `)
}

// The replay summary and --books show prices and quantities in the
// instrument's units, as the config's decimals say.
func TestReplayBooksInInstrumentUnits(t *testing.T) {
	cfg, j := demoJournal(t)
	dir := cfg.Node.DataDir
	btc := cfg.Instruments[0]
	price, qty := btc.ReferencePrice-btc.TickSize, 3*btc.LotSize
	frame := proto.NewEncoder().NewOrder(0, proto.NewOrder{ClientOrderID: 1, Instrument: btc.ID, Side: wire.SideBuy,
		Type: wire.OrderTypeLimit, TIF: wire.TimeInForceGTC, Price: price, Quantity: qty})
	rec := journal.Record{Seq: 1, Session: 77, Account: 4, Kind: uint8(input.KindClient), Payload: frame[proto.PrefixSize:]}
	if err := j.Append(&rec); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	out := mustRingex(t, "replay", "--set", "node.data_dir="+dir, "--books")
	p, q := formatUnits(price, btc.PriceDecimals), formatUnits(qty, btc.QtyDecimals)
	wantLine(t, out, `^instrument 1 \(BTC-USD\): 1 bid levels, 0 ask levels, best bid `+regexp.QuoteMeta(p+"×"+q)+`$`)
	wantLine(t, out, `^  buy `+regexp.QuoteMeta(p)+` qty=`+regexp.QuoteMeta(q)+` orders=1$`)
}

// journal inspect -v names each record's origin and message type.
func TestJournalRecordLine(t *testing.T) {
	e := proto.NewEncoder()
	payload := func(frame []byte) []byte { return append([]byte(nil), frame[proto.PrefixSize:]...) } // the encoder reuses its buffer
	for _, c := range []struct {
		rec  journal.Record
		want string
	}{
		{journal.Record{Seq: 7, Account: 4, Kind: uint8(input.KindControl), Payload: payload(e.SuspendAccount(0))},
			"seq=7 recv=0 session=0 account=4 control SuspendAccount payload=36B"},
		{journal.Record{Seq: 8, Session: 9, Account: 1, Kind: uint8(input.KindClient), Payload: payload(e.OrderStatus(0, proto.OrderStatus{}))},
			"seq=8 recv=0 session=9 account=1 client OrderStatus payload="},
		{journal.Record{Seq: 9, Kind: 7, Payload: []byte{1, 2, 3}}, "seq=9 recv=0 session=0 account=0 kind-7 unverifiable payload=3B"},
		// A type newer than this build (ringex.fbs's rule (b): an older
		// build journaled it) is told from a frame that does not verify.
		{journal.Record{Seq: 10, Session: 9, Account: 1, Kind: uint8(input.KindClient), Payload: payload(e.Empty(0, wire.Message(250)))},
			"seq=10 recv=0 session=9 account=1 client type 250 (newer than this build) payload="},
	} {
		if got := string(appendJournalRecord(nil, &c.rec)); !strings.HasPrefix(got, c.want) {
			t.Errorf("got %q, want %q…", got, c.want)
		}
	}
}

// `ringex replay` reads a copy of production data and writes nothing into
// it: with --from-snapshot and no snapshots directory in the copy (a copy
// of the journal alone, or a mistyped data_dir) it created one.
func TestReplayWritesNothingIntoTheDataDir(t *testing.T) {
	cfg, j := journalOnly(t)
	dir := cfg.Node.DataDir
	e := proto.NewEncoder()
	btc := cfg.Instruments[0]
	rec := journal.Record{Seq: 1, Session: 7, Account: 4, Kind: uint8(input.KindClient),
		Payload: append([]byte(nil), e.NewOrder(0, proto.NewOrder{ClientOrderID: 1, Instrument: btc.ID, Side: wire.SideBuy,
			Type: wire.OrderTypeLimit, TIF: wire.TimeInForceGTC, Price: btc.ReferencePrice, Quantity: 1})...)[proto.PrefixSize:]}
	if err := j.Append(&rec); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	list := func(root string) []string {
		var names []string
		filepath.WalkDir(root, func(p string, _ fs.DirEntry, _ error) error { names = append(names, p); return nil })
		return names
	}
	before := list(dir)
	out := mustRingex(t, "replay", "--set", "node.data_dir="+dir, "--from-snapshot")
	wantLine(t, out, `^no snapshot: replaying from the start$`)
	if after := list(dir); !slices.Equal(before, after) {
		t.Errorf("replay --from-snapshot changed the data directory:\nbefore %v\nafter  %v", before, after)
	}
	typo := filepath.Join(t.TempDir(), "typo")
	ringex(t, nil, "replay", "--set", "node.data_dir="+typo, "--from-snapshot")
	if _, err := os.Stat(typo); err == nil {
		t.Errorf("replay --from-snapshot of a data_dir that does not exist created %s: %v", typo, list(typo))
	}
}

// archivedDataDir builds a data directory as a node with the default
// snapshot.journal_retention (archive) leaves it: the snapshot of input 0,
// a later snapshot at snapSeq, the segments wholly before it moved into
// <data_dir>/archive by journal.ArchiveBefore, the rest in the journal.
// It returns the directory, the journal's last sequence and the first
// sequence left in the journal directory.
func archivedDataDir(t *testing.T) (dir string, last, journalFirst int64) {
	t.Helper()
	dir = t.TempDir()
	cfg := config.Default()
	if err := cfg.Set("node.data_dir", dir); err != nil {
		t.Fatal(err)
	}
	ecfg, empty, store := emptyState(t, cfg)
	j, _, err := journal.Open(cfg.JournalDir(), journal.Options{SegmentBytes: 1 << 20, Sync: journal.SyncBatch})
	if err != nil {
		t.Fatal(err)
	}
	frame := proto.NewEncoder().Heartbeat(0)
	const n = 60000 // heartbeats: about three 1 MiB segments
	for seq := int64(1); seq <= n; seq++ {
		if err := j.Append(&journal.Record{Seq: seq, Kind: uint8(input.KindControl), Payload: frame[proto.PrefixSize:]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	snapSeq := int64(n - 10)
	for _, s := range []int64{0, snapSeq} {
		if _, err := store.Write(snapshot.Snapshot{Seq: s, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(), Payload: empty}); err != nil {
			t.Fatal(err)
		}
	}
	moved, err := j.ArchiveBefore(snapSeq+1, cfg.ArchiveDir())
	if err != nil || moved == 0 {
		t.Fatalf("archive: moved %d: %v", moved, err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	names, _ := os.ReadDir(cfg.JournalDir())
	for _, e := range names {
		if strings.HasSuffix(e.Name(), ".journal") {
			var first int64
			for _, c := range e.Name()[:20] {
				first = first*10 + int64(c-'0')
			}
			if journalFirst == 0 || first < journalFirst {
				journalFirst = first
			}
		}
	}
	return dir, n, journalFirst
}

// With the default snapshot.journal_retention (archive) the journal
// directory no longer holds input 1 once a snapshot past a segment was
// taken: `ringex replay --set node.data_dir=/copy/of/data` — the first
// example of its --help — failed ("the journal does not hold the inputs
// to start from"), every input being in the copy's archive. It reads the
// archive with the journal as one.
func TestReplayReadsTheArchiveWithTheJournal(t *testing.T) {
	dir, last, journalFirst := archivedDataDir(t)
	if journalFirst <= 1 {
		t.Fatalf("setup: the journal directory still starts at %d", journalFirst)
	}
	out := mustRingex(t, "replay", "--set", "node.data_dir="+dir)
	wantLine(t, out, fmt.Sprintf(`^replayed %d records \(to sequence %d\)`, last, last))
	// From a snapshot after the archived segments, the archive is not needed.
	out = mustRingex(t, "replay", "--set", "node.data_dir="+dir, "--from-snapshot")
	wantLine(t, out, `^replayed 10 records`)
	// A copy whose archive was shipped elsewhere (snapshot.archive_dir):
	// the refusal named neither directory nor a way on ("it starts at
	// input N, the replay at 1").
	shipped := filepath.Join(t.TempDir(), "shipped")
	if err := os.Rename(filepath.Join(dir, "archive"), shipped); err != nil {
		t.Fatal(err)
	}
	_, err := ringex(t, nil, "replay", "--set", "node.data_dir="+dir)
	want := fmt.Sprintf("archive %s, which does not exist); copy the archive along (set snapshot.archive_dir", filepath.Join(dir, "archive"))
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "or replay --from-snapshot") {
		t.Fatalf("replay without the archive: %v, want it saying %q and --from-snapshot", err, want)
	}
	out = mustRingex(t, "replay", "--set", "node.data_dir="+dir, "--set", "snapshot.archive_dir="+shipped)
	wantLine(t, out, fmt.Sprintf(`^replayed %d records \(to sequence %d\)`, last, last))
}

// replay --from-snapshot names a damaged newest snapshot it passes over,
// as the node's log does; it said nothing, and when the journal before
// the older snapshot had been archived the operator read "the journal
// does not hold the inputs" where the cause was the damaged snapshot.
func TestReplaySaysWhichSnapshotItSkipped(t *testing.T) {
	dir := replayDir(t, func(ecfg engine.Config, empty []byte) []snapshot.Snapshot {
		return []snapshot.Snapshot{{Seq: 1, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(), Payload: empty},
			{Seq: 2, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(), Payload: empty}}
	})
	damaged := filepath.Join(dir, "snapshots", "00000000000000000002.snap")
	damageMiddleByte(t, damaged)
	out := mustRingex(t, "replay", "--set", "node.data_dir="+dir, "--from-snapshot")
	wantLine(t, out, `^restored snapshot at sequence 1 `)
	if !strings.Contains(out, "00000000000000000002.snap") {
		t.Fatalf("replay --from-snapshot skipped the damaged newest snapshot %s without naming it:\n%s", damaged, out)
	}
}

// A replay short of what was asked prints the state it reached and fails:
// from a snapshot past the journal's end (the journal lost inputs the
// snapshot holds; a node refuses to start on that data) and with --to
// past the journal's end. Both exited 0, so a script comparing hashes
// took the state printed for the one it asked for. A snapshot at the
// journal's very end (a clean stop) is no shortfall.
func TestReplayShortOfWhatWasAskedFails(t *testing.T) {
	snapAt := func(seq int64) string {
		return replayDir(t, func(ecfg engine.Config, empty []byte) []snapshot.Snapshot {
			return []snapshot.Snapshot{{Seq: seq, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(), Payload: empty}}
		})
	}
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string // "": succeeds
	}{
		{"snapshot at the journal's end", []string{"--set", "node.data_dir=" + snapAt(3), "--from-snapshot"}, ""},
		{"snapshot past the journal's end", []string{"--set", "node.data_dir=" + snapAt(5), "--from-snapshot"}, "past the journal's end"},
		{"--to the journal's end", []string{"--set", "node.data_dir=" + snapAt(1), "--to", "3"}, ""},
		{"--to past the journal's end", []string{"--set", "node.data_dir=" + snapAt(1), "--to", "7"}, "the journal ends at input 3, before --to 7"},
		{"snapshot at the journal's end, --to past it", []string{"--set", "node.data_dir=" + snapAt(3), "--from-snapshot", "--to", "7"}, "the journal ends at input 3, before --to 7"},
	} {
		out, err := ringex(t, nil, append([]string{"replay"}, tc.args...)...)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v\n%s", tc.name, err, out)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one saying %q\n%s", tc.name, err, tc.wantErr, out)
		case !strings.Contains(out, "state hash"):
			t.Errorf("%s: no state hash printed:\n%s", tc.name, out)
		}
	}
	// A negative --to is no input: it was taken for "the end", and the
	// end's state printed as the one asked for.
	if out, err := ringex(t, nil, "replay", "--set", "node.data_dir="+snapAt(1), "--to", "-5"); err == nil || !strings.Contains(err.Error(), "--to -5") {
		t.Errorf("--to -5: error %v, want it refused\n%s", err, out)
	}
}

// damageMiddleByte flips the byte in the middle of the file at path: a
// bad sector in a snapshot's payload.
func damageMiddleByte(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	damageByteAt(t, path, st.Size()/2)
}

// damageByteAt flips the byte at offset at of the file at path.
func damageByteAt(t *testing.T, path string, at int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[at] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A short replay prints what its time went on, not a rate: the journal's
// reading (each segment whole, its preallocated tail checked to be
// zeros) is most of it, and "2 records in 31ms: 64 records/s" read as
// an engine or a disk that slow ("0 records in 501ms" on a 64 MiB
// segment).
func TestReplayTimesSayWhatTheTimeWentOn(t *testing.T) {
	dir := replayDir(t, func(ecfg engine.Config, empty []byte) []snapshot.Snapshot {
		return []snapshot.Snapshot{{Seq: 1, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(), Payload: empty}}
	})
	out := mustRingex(t, "replay", "--set", "node.data_dir="+dir, "--from-snapshot")
	wantLine(t, out, `^replayed 2 records \(to sequence \d+\) in \S+: the engine took \S+ of it, the rest went on reading the journal, each segment whole`)
	if strings.Contains(out, "records/s") {
		t.Fatalf("a replay of 2 records printed a rate:\n%s", out)
	}
	for _, c := range []struct {
		records int64
		checked bool
		want    string
	}{
		{0, false, "500ms, reading the journal, each segment whole (journal.segment_bytes, preallocated: its unused tail is checked to be zeros)"},
		{5, true, "500ms: the engine took 20µs of it, the rest went on reading the journal, each segment whole (journal.segment_bytes, preallocated: its unused tail is checked to be zeros) and comparing with the snapshots passed"},
		{1_000_000, false, "1s (1000000 records/s): the engine took 250ms of it (4000000 records/s), the rest went on reading the journal, each segment whole (journal.segment_bytes, preallocated: its unused tail is checked to be zeros)"},
	} {
		elapsed := 500 * time.Millisecond
		applying := 20 * time.Microsecond
		if c.records >= rateFloor {
			elapsed, applying = time.Second, 250*time.Millisecond
		}
		if got := replayTimes(c.records, elapsed, applying, c.checked, false); got != c.want {
			t.Errorf("%d records: %q\nwant %q", c.records, got, c.want)
		}
	}
}

// With --events, the event lines are formatted and written inside the
// engine's apply calls: "the engine took" counted their writing (into a
// pipe to less, most of a replay's time), and read as a slow engine. It
// is the rest's now, and the line says so.
func TestReplayEventsWritingIsNotTheEngines(t *testing.T) {
	dir := replayDir(t, func(ecfg engine.Config, empty []byte) []snapshot.Snapshot {
		return []snapshot.Snapshot{{Seq: 1, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(), Payload: empty}}
	})
	out := mustRingex(t, "replay", "--set", "node.data_dir="+dir, "--from-snapshot", "--events")
	wantLine(t, out, `^replayed 2 records \(to sequence \d+\) in \S+: the engine took \S+ of it, the rest went on reading the journal, .* and writing the events$`)

	// The writing is timed where it happens: a writer that takes 20ms
	// per line has its 20ms in writing, for the replay to take out.
	sink := &replayCounts{w: slowWriter{20 * time.Millisecond}, printEvents: true}
	sink.Emit(&engine.Event{Type: engine.EvAccepted, Seq: 1, Account: 4})
	if sink.writing < 20*time.Millisecond {
		t.Fatalf("writing %v for a line written in 20ms", sink.writing)
	}
}

// slowWriter takes d per Write.
type slowWriter struct{ d time.Duration }

func (w slowWriter) Write(p []byte) (int, error) {
	time.Sleep(w.d)
	return len(p), nil
}
