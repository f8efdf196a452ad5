package replay

import (
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/unmarshal"
)

var engCfg = engine.Config{
	Instruments: []engine.Instrument{{ID: 1, Symbol: "T", TickSize: 1, LotSize: 1, PriceBand: 1000, ReferencePrice: 1000}},
	Accounts:    []engine.Account{{ID: 1}, {ID: 2}, {ID: 3}},
}

type events struct{ n int }

func (e *events) Emit(*engine.Event) { e.n++ }

// writeJournal journals n random inputs (orders that cross, cancels, and
// some garbage) in small segments, so a replay crosses many segment and
// batch boundaries. It returns the records as written.
func writeJournal(t *testing.T, dir string, n int) []journal.Record {
	t.Helper()
	j, _, err := journal.Open(dir, journal.Options{SegmentBytes: 1 << 20, Sync: journal.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	rng := rand.New(rand.NewSource(7))
	enc := proto.NewEncoder()
	recs := make([]journal.Record, 0, n)
	for seq := int64(1); seq <= int64(n); seq++ {
		var frame []byte
		switch rng.Intn(10) {
		case 0:
			frame = enc.Cancel(0, proto.Cancel{OrigClientOrderID: uint64(rng.Intn(int(seq))), Instrument: 1})
		case 1:
			frame = append([]byte(nil), "xxxxgarbage"...)
		default:
			frame = enc.NewOrder(0, proto.NewOrder{ClientOrderID: uint64(seq), Instrument: 1, Side: wire.Side(1 + rng.Intn(2)),
				Type: wire.OrderTypeLimit, TIF: wire.TimeInForceGTC, Price: int64(990 + rng.Intn(21)), Quantity: int64(1 + rng.Intn(9))})
		}
		acct := uint32(1 + rng.Intn(3))
		r := journal.Record{Seq: seq, RecvTime: seq * 1000, Session: uint64(acct), Account: acct, Kind: uint8(input.KindClient),
			Payload: append([]byte(nil), frame[proto.PrefixSize:]...)}
		if err := j.Append(&r); err != nil {
			t.Fatal(err)
		}
		if seq%500 == 0 {
			j.Sync()
		}
		recs = append(recs, r)
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// direct applies records one by one on one goroutine: the reference.
func direct(t *testing.T, recs []journal.Record) (uint64, int) {
	t.Helper()
	return directDropping(recs, 0)
}

func TestRunEqualsDirectApplication(t *testing.T) {
	dir := t.TempDir()
	recs := writeJournal(t, dir, 30000)
	for _, c := range []struct{ from, to int64 }{{1, 0}, {1, 30000}, {1, 12345}, {1, 1}, {1, 1024}, {1, 1025}} {
		var ev events
		eng, _ := engine.NewEngine(engCfg, &ev)
		st, err := Run(dir, nil, c.from, c.to, eng)
		if err != nil {
			t.Fatal(err)
		}
		last := c.to
		if last == 0 {
			last = 30000
		}
		wantHash, wantEvents := direct(t, recs[:last])
		if st.Records != last || st.Last != last || eng.StateHash() != wantHash || ev.n != wantEvents {
			t.Fatalf("[%d,%d]: %+v hash %x events %d; want %d records, hash %x, %d events",
				c.from, c.to, st, eng.StateHash(), ev.n, last, wantHash, wantEvents)
		}
	}
}

// Starting after a snapshot: the engine restored from a snapshot at k plus
// Run from k+1 ends in the state of an uninterrupted run.
func TestRunFromSnapshot(t *testing.T) {
	dir := t.TempDir()
	recs := writeJournal(t, dir, 8000)
	wantHash, _ := direct(t, recs)
	for _, k := range []int64{1, 999, 4096, 7999, 8000} {
		eng, _ := engine.NewEngine(engCfg, &events{})
		if _, err := Run(dir, nil, 1, k, eng); err != nil {
			t.Fatal(err)
		}
		restored, err := engine.RestoreEngine(engCfg, eng.AppendSnapshot(nil), &events{})
		if err != nil {
			t.Fatal(err)
		}
		st, err := Run(dir, nil, k+1, 0, restored)
		if err != nil || st.Records != 8000-k || restored.StateHash() != wantHash {
			t.Fatalf("cut %d: %+v %v, hash %x want %x", k, st, err, restored.StateHash(), wantHash)
		}
	}
}

// A corrupt record mid-journal: the records before it are applied, the
// error names the corruption, and the reader goroutine is gone.
func TestRunStopsAtCorruption(t *testing.T) {
	dir := t.TempDir()
	writeJournal(t, dir, 20000)
	segs, _ := filepath.Glob(filepath.Join(dir, "*"))
	sort.Strings(segs)
	if len(segs) < 3 {
		t.Fatalf("%d segments", len(segs))
	}
	data, _ := os.ReadFile(segs[1])
	data[len(data)/3] ^= 0xff
	os.WriteFile(segs[1], data, 0o644)
	before := runtime.NumGoroutine()
	eng, _ := engine.NewEngine(engCfg, &events{})
	st, err := Run(dir, nil, 1, 0, eng)
	if !errors.Is(err, journal.ErrCorrupt) {
		t.Fatalf("err %v", err)
	}
	if st.Records == 0 || st.Records >= 20000 || st.Last != st.Records {
		t.Fatalf("applied %+v before the corruption", st)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Fatalf("%d goroutines after Run, %d before", g, before)
	}
}

func TestRunEmptyAndMissing(t *testing.T) {
	eng, _ := engine.NewEngine(engCfg, &events{})
	st, err := Run(t.TempDir(), nil, 1, 0, eng)
	if err != nil || st.Records != 0 || st.Last != 0 {
		t.Fatalf("empty journal: %+v %v", st, err)
	}
}

// A journal that starts after the input the replay starts from — its
// early segments retired, and no snapshot to start after them — is an
// error, not a replay of what is left.
func TestRunMissingStart(t *testing.T) {
	dir := t.TempDir()
	writeJournal(t, dir, 30000) // a few 1 MiB segments
	j, _, err := journal.Open(dir, journal.Options{SegmentBytes: 1 << 20, Sync: journal.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	removed, err := j.DeleteBefore(20000)
	j.Close()
	if err != nil || removed == 0 {
		t.Fatalf("DeleteBefore: %d removed, %v", removed, err)
	}
	eng, _ := engine.NewEngine(engCfg, &events{})
	st, err := Run(dir, nil, 1, 0, eng)
	if !errors.Is(err, ErrMissing) || st.Records != 0 {
		t.Fatalf("replay from 1 of a journal without it: %+v, %v; want ErrMissing and nothing applied", st, err)
	}
	st, err = Run(dir, nil, 25000, 0, eng)
	if err != nil || st.Records != 5001 {
		t.Fatalf("replay from 25000: %+v, %v", st, err)
	}
}

// A journal whose early segments were retired and whose only segment
// holds no record yet — a roll made its header durable, the power went
// before its first batch — is missing the inputs before it too. Before,
// ErrMissing fired only on reading a record after from: the replay from
// input 1 read none and succeeded, and a node restarting from the
// snapshot of input 0 started an empty exchange.
func TestRunMissingStartBeforeAnEmptySegment(t *testing.T) {
	dir := t.TempDir()
	writeJournal(t, dir, 30000)
	// The roll: the header naming input 30001 (with the journal's
	// cluster id, as the journal writes it), then preallocated zeros.
	st, err := journal.Inspect(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	scratch := t.TempDir()
	sj, _, err := journal.Open(scratch, journal.Options{SegmentBytes: 1 << 20, ID: st.ID})
	if err != nil {
		t.Fatal(err)
	}
	err = sj.BeginAt(30001)
	sj.Close()
	if err != nil {
		t.Fatal(err)
	}
	roll, err := os.ReadFile(filepath.Join(scratch, journal.SegmentName(30001)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, journal.SegmentName(30001)), roll, 0o644); err != nil {
		t.Fatal(err)
	}
	j, _, err := journal.Open(dir, journal.Options{SegmentBytes: 1 << 20, Sync: journal.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	removed, err := j.DeleteBefore(30001)
	last := j.LastSeq()
	j.Close()
	if err != nil || removed == 0 || last != 30000 {
		t.Fatalf("setup: DeleteBefore removed %d (%v); the journal ends at %d, want 30000", removed, err, last)
	}
	eng, _ := engine.NewEngine(engCfg, &events{})
	if st, err := Run(dir, nil, 1, 0, eng); !errors.Is(err, ErrMissing) {
		t.Fatalf("replay from 1 of a journal holding no input before 30001: %+v, %v; want ErrMissing", st, err)
	}
	if st, err := Run(dir, nil, 30001, 0, eng); err != nil || st.Records != 0 {
		t.Fatalf("replay from 30001, the empty segment's first input: %+v, %v; want nothing to replay", st, err)
	}
}

// A replay to a sequence reads no record past it: a corrupt (or half
// written) record right after `to` does not fail it — a node replays its
// own live journal up to an input while the journaller appends after it.
func TestRunReadsNothingPastTo(t *testing.T) {
	dir := t.TempDir()
	writeJournal(t, dir, 20000)
	segs, _ := filepath.Glob(filepath.Join(dir, "*"))
	sort.Strings(segs)
	data, _ := os.ReadFile(segs[1])
	data[len(data)/3] ^= 0xff
	os.WriteFile(segs[1], data, 0o644)
	eng, _ := engine.NewEngine(engCfg, &events{})
	st, err := Run(dir, nil, 1, 0, eng)
	if !errors.Is(err, journal.ErrCorrupt) {
		t.Fatalf("whole journal: %v", err)
	}
	damaged := st.Last + 1 // the record that failed its check
	eng, _ = engine.NewEngine(engCfg, &events{})
	st, err = Run(dir, nil, 1, damaged-1, eng)
	if err != nil || st.Last != damaged-1 || st.Records != damaged-1 {
		t.Fatalf("to %d, just before the damage: %+v %v", damaged-1, st, err)
	}
}

// RunWith gives up once its stop channel is closed.
func TestRunWithStops(t *testing.T) {
	dir := t.TempDir()
	writeJournal(t, dir, 20000)
	stop := make(chan struct{})
	close(stop)
	eng, _ := engine.NewEngine(engCfg, &events{})
	st, err := RunWith(dir, nil, 1, 0, eng, Options{Stop: stop})
	if !errors.Is(err, ErrStopped) || st.Records != 0 {
		t.Fatalf("%+v %v", st, err)
	}
}

// RunWith ends after the record at which Until first says so, inside a
// batch, without an error: the engine is in the state after that record
// (a resend cut short carries on from it), as a replay to it leaves it.
func TestRunWithUntilEndsAfterARecord(t *testing.T) {
	dir := t.TempDir()
	recs := writeJournal(t, dir, 5000)
	const at = 2*batchSlots + 17 // not at a batch's end
	wantHash, _ := direct(t, recs[:at])
	applied := int64(0)
	eng, _ := engine.NewEngine(engCfg, &events{})
	st, err := RunWith(dir, nil, 1, 0, eng, Options{Until: func() bool { applied++; return applied == at }})
	if err != nil || st.Last != at || st.Records != at || eng.StateHash() != wantHash {
		t.Fatalf("until record %d: %+v %v, hash %x want %x", at, st, err, eng.StateHash(), wantHash)
	}
}

// panicky panics on the first event of an input at or after at, noting
// which input that was.
type panicky struct{ at, seq int64 }

func (p *panicky) Emit(ev *engine.Event) {
	if ev.Seq >= p.at && p.seq == 0 {
		p.seq = ev.Seq
		panic("test: poisoned input")
	}
}

// An engine panic mid-batch ends the replay with a PanicError naming
// the input and where it is journaled, after the inputs before it —
// not a crash of the caller's goroutine.
func TestRunReportsAnEnginePanic(t *testing.T) {
	dir := t.TempDir()
	writeJournal(t, dir, 3000)
	sink := &panicky{at: 1500} // mid-batch: batches hold 1024 inputs
	eng, _ := engine.NewEngine(engCfg, sink)
	st, err := Run(dir, nil, 1, 0, eng)
	var perr *PanicError
	if !errors.As(err, &perr) || !errors.Is(err, ErrEnginePanicked) {
		t.Fatalf("Run over a poisoned input: %+v, %v; want a PanicError", st, err)
	}
	if perr.Seq != sink.seq || st.Last != sink.seq-1 || st.Records != sink.seq-1 || perr.Value != "test: poisoned input" || perr.Stack == "" {
		t.Fatalf("%+v, %+v; want input %d named, the ones before applied", st, perr, sink.seq)
	}
	fi, serr := os.Stat(perr.Segment)
	if serr != nil || perr.Offset <= 0 || perr.Offset >= fi.Size() {
		t.Fatalf("segment %q offset %d: %v", perr.Segment, perr.Offset, serr)
	}
	r, _ := journal.NewReader(dir, nil, perr.Seq)
	defer r.Close()
	var rec journal.Record
	if r.Next(&rec); rec.Seq != perr.Seq {
		t.Fatalf("read from %d: record %d", perr.Seq, rec.Seq)
	}
	if seg, off := r.Position(); seg != perr.Segment || off != perr.Offset {
		t.Fatalf("record %d is at %s offset %d, the error says %s offset %d", rec.Seq, seg, off, perr.Segment, perr.Offset)
	}
	if perr.Checksum != journal.Checksum(&rec) {
		t.Fatalf("the error names checksum %08x, the record's is %08x", perr.Checksum, journal.Checksum(&rec))
	}
}

// An input listed in the journal's drops file with its checksum is
// rejected (dropped-by-operator), not applied: the replay ends as a
// direct application of the same inputs with that one made the reject.
// One listed with another checksum — another input the sequence once
// had — is applied, and reported.
func TestRunDropsListedInputs(t *testing.T) {
	dir := t.TempDir()
	recs := writeJournal(t, dir, 3000)
	plain, _ := direct(t, recs)
	// mid-batch (batches hold 1024 inputs): the first input from 1500 on
	// whose drop changes the state (an order that rests or trades)
	i := 1499
	refHash, refEvents := directDropping(recs, recs[i].Seq)
	for ; refHash == plain; refHash, refEvents = directDropping(recs, recs[i].Seq) {
		i++
	}
	drop, stale := recs[i], recs[2000]
	if _, err := journal.AddDrop(nil, dir, journal.Drop{Seq: drop.Seq, Checksum: journal.Checksum(&drop)}); err != nil {
		t.Fatal(err)
	}
	if _, err := journal.AddDrop(nil, dir, journal.Drop{Seq: stale.Seq, Checksum: journal.Checksum(&stale) + 1}); err != nil {
		t.Fatal(err)
	}
	var got rejects
	eng, _ := engine.NewEngine(engCfg, &got)
	st, err := Run(dir, nil, 1, 0, eng)
	if err != nil {
		t.Fatal(err)
	}
	if eng.StateHash() != refHash || got.n != refEvents {
		t.Fatalf("hash %x, %d events; want %x, %d", eng.StateHash(), got.n, refHash, refEvents)
	}
	if len(st.Dropped) != 1 || st.Dropped[0] != drop.Seq || len(st.NotDropped) != 1 || st.NotDropped[0] != stale.Seq {
		t.Fatalf("dropped %v, not dropped %v; want [%d], [%d]", st.Dropped, st.NotDropped, drop.Seq, stale.Seq)
	}
	if got.dropped != 1 {
		t.Fatalf("%d dropped-by-operator rejects, want 1", got.dropped)
	}

	// Given the list (KnownDrops), the file is not read: none given,
	// none dropped.
	eng3, _ := engine.NewEngine(engCfg, &events{})
	if st, err := RunWith(dir, nil, 1, 0, eng3, Options{KnownDrops: true}); err != nil || len(st.Dropped) != 0 || eng3.StateHash() != plain {
		t.Fatalf("with no list given: dropped %v, %v; want the plain state", st.Dropped, err)
	}

	// A replay that ends before the dropped input reports none.
	eng2, _ := engine.NewEngine(engCfg, &events{})
	if st, err := Run(dir, nil, 1, drop.Seq-1, eng2); err != nil || len(st.Dropped) != 0 {
		t.Fatalf("replay to %d: dropped %v, %v", drop.Seq-1, st.Dropped, err)
	}
}

// directDropping is direct with the input drop (0: none) made a
// dropped one.
func directDropping(recs []journal.Record, drop int64) (uint64, int) {
	var ev events
	eng, _ := engine.NewEngine(engCfg, &ev)
	var slot input.Slot
	for _, r := range recs {
		slot.RecvTime, slot.Session, slot.Account, slot.Kind = r.RecvTime, r.Session, r.Account, input.Kind(r.Kind)
		slot.SetPayload(r.Payload)
		if r.Seq == drop {
			unmarshal.Drop(r.Seq, &slot)
		} else {
			unmarshal.Decode(r.Seq, &slot)
		}
		eng.Apply(&slot.Cmd)
	}
	return eng.StateHash(), ev.n
}

// rejects counts events, and the dropped-by-operator rejects apart.
type rejects struct{ n, dropped int }

func (r *rejects) Emit(ev *engine.Event) {
	r.n++
	if ev.Type == engine.EvRejected && engine.RejectReason(ev.Reason) == engine.ReasonDroppedByOperator {
		r.dropped++
	}
}

// A drops file that does not parse ends the replay before it applies
// anything: applied without it, the inputs it lists would be.
func TestRunRefusesABadDropsFile(t *testing.T) {
	dir := t.TempDir()
	writeJournal(t, dir, 10)
	if err := os.WriteFile(filepath.Join(dir, journal.DropsFile), []byte("5 nothex!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var ev events
	eng, _ := engine.NewEngine(engCfg, &ev)
	st, err := Run(dir, nil, 1, 0, eng)
	if !errors.Is(err, journal.ErrBadDrops) || st.Records != 0 || ev.n != 0 {
		t.Fatalf("%+v, %v; want ErrBadDrops before anything is applied", st, err)
	}
}
