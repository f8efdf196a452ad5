package node

import (
	"encoding/json"
	"flag"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/snapshot"
	"github.com/ringex/ringex/unmarshal"
	"github.com/ringex/ringex/vfs"
)

var (
	restartRecords = flag.Int("restart.records", 10_000_000, "journal records after the snapshot in BenchmarkRestart")
	restartKeep    = flag.String("restart.dir", "", "BenchmarkRestart: build the data directory here and keep it (for `ringex replay`); "+
		"one built there before is restarted from instead")
)

// BenchmarkRestart measures the replay stage of a restart: the newest
// snapshot, then -restart.records journaled inputs after it, through
// unmarshal and the engine. The workload is a trading mix on the demo
// config: limit orders around the reference price from four accounts
// (crossing about a third of the time), cancels of earlier orders (at
// most 100k stay live), and IOC takers, so replay pays for matching, not
// just parsing.
//
//	go test ./node -run '^$' -bench BenchmarkRestart -benchtime 1x
//
// It builds the data directory in the same process, which makes its
// replay slower than a restart's (M207, 2026-12-04: 2.5–3.0 M records/s
// against 4.2–5.0 M cold in a fresh process). With -restart.dir, a second
// run restarts from the directory the first built, in a process of its
// own, as `ringex serve` would; drop the page cache between them
// (`sync; echo 3 > /proc/sys/vm/drop_caches`) to read it cold.
func BenchmarkRestart(b *testing.B) {
	dir := *restartKeep
	if dir == "" {
		dir = b.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	cfg.Set("node.data_dir", dir)
	cfg.Set("snapshot.schedule", "")
	built := filepath.Join(dir, "restart-bench.json")
	var want struct {
		SnapshotSeq int64
		Records     int64
		Hash        uint64
	}
	if js, err := os.ReadFile(built); err == nil {
		if err := json.Unmarshal(js, &want); err != nil {
			b.Fatalf("%s: %v", built, err)
		}
		b.Logf("restarting from %s: %d records after the snapshot at %d", dir, want.Records, want.SnapshotSeq)
	} else {
		const before = 1_000_000 // records before the snapshot
		start := time.Now()
		want.SnapshotSeq, want.Hash = writeWorkload(b, cfg, before, *restartRecords)
		want.Records = int64(*restartRecords)
		b.Logf("built %d+%d records in %v (snapshot at %d)", before, *restartRecords, time.Since(start), want.SnapshotSeq)
		evictJournal(b, cfg.JournalDir())
		if *restartKeep != "" {
			js, _ := json.Marshal(want)
			if err := os.WriteFile(built, js, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	var replay time.Duration
	for range b.N {
		n, rec, err := New(cfg, zerolog.Nop())
		replay += rec.ReplayTime
		if err != nil {
			b.Fatal(err)
		}
		n.discard()
		if rec.SnapshotSeq != want.SnapshotSeq || rec.Replayed != want.Records || rec.Hash != want.Hash {
			b.Fatalf("recovered %+v; want snapshot %d, %d replayed, hash %x", rec, want.SnapshotSeq, want.Records, want.Hash)
		}
	}
	b.StopTimer()
	perRestart := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(perRestart.Seconds(), "s/restart")
	b.ReportMetric(float64(want.Records)/(replay/time.Duration(b.N)).Seconds(), "replayed/s")
}

// writeWorkload journals before+after inputs into cfg's data directory,
// snapshotting the engine after the first before, and returns the
// snapshot's sequence and the final state hash.
func writeWorkload(b *testing.B, cfg *config.Config, before, after int) (int64, uint64) {
	j, _, err := journal.Open(cfg.JournalDir(), journal.Options{SegmentBytes: cfg.Journal.SegmentBytes, Sync: journal.SyncNone})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	if j.LastSeq() != 0 {
		b.Fatalf("%s is not empty", cfg.JournalDir())
	}
	store, err := snapshot.OpenStore(cfg.SnapshotDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	ecfg := EngineConfig(cfg)
	eng, err := engine.NewEngine(ecfg, discard{})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	enc := proto.NewEncoder()
	inst := cfg.Instruments[0]
	type live struct {
		account uint32
		clOrd   uint64
	}
	var resting []live
	var clOrd uint64
	var slot input.Slot
	var snapSeq int64
	now := time.Now().UnixNano()
	for seq := int64(1); seq <= int64(before+after); seq++ {
		account := uint32(1 + rng.Intn(4))
		var frame []byte
		switch r := rng.Intn(100); {
		case (r < 45 || len(resting) > 100_000) && len(resting) > 0: // cancel an earlier order (maybe already filled)
			i := rng.Intn(len(resting))
			o := resting[i]
			resting[i] = resting[len(resting)-1]
			resting = resting[:len(resting)-1]
			account = o.account
			frame = enc.Cancel(uint64(seq), proto.Cancel{OrigClientOrderID: o.clOrd, Instrument: inst.ID})
		case r < 50: // IOC taker through the touch
			clOrd++
			side := wire.Side(1 + rng.Intn(2))
			px := inst.ReferencePrice + int64(5-rng.Intn(11))*inst.TickSize
			frame = enc.NewOrder(uint64(seq), proto.NewOrder{ClientOrderID: clOrd, Instrument: inst.ID, Side: side,
				Type: wire.OrderTypeLimit, TIF: wire.TimeInForceIOC, Price: px, Quantity: int64(1 + rng.Intn(5))})
		default: // GTC limit around the reference
			clOrd++
			side := wire.Side(1 + rng.Intn(2))
			off := int64(1 + rng.Intn(40))
			if rng.Intn(3) == 0 {
				off = -off / 4 // through the spread: trades
			}
			px := inst.ReferencePrice - off*inst.TickSize
			if side == wire.SideSell {
				px = inst.ReferencePrice + off*inst.TickSize
			}
			frame = enc.NewOrder(uint64(seq), proto.NewOrder{ClientOrderID: clOrd, Instrument: inst.ID, Side: side,
				Type: wire.OrderTypeLimit, TIF: wire.TimeInForceGTC, Price: px, Quantity: int64(1 + rng.Intn(10))})
			resting = append(resting, live{account, clOrd})
		}
		payload := frame[proto.PrefixSize:]
		now += 1000
		rec := journal.Record{Seq: seq, RecvTime: now, Session: uint64(account), Account: account,
			Kind: uint8(input.KindClient), Payload: payload}
		if err := j.Append(&rec); err != nil {
			b.Fatal(err)
		}
		if seq%4096 == 0 {
			if err := j.Sync(); err != nil { // writes the batch out
				b.Fatal(err)
			}
		}
		slot.RecvTime, slot.Session, slot.Account, slot.Kind = now, uint64(account), account, input.KindClient
		slot.SetPayload(payload)
		unmarshal.Decode(seq, &slot)
		eng.Apply(&slot.Cmd)
		if seq == int64(before) {
			snap := eng.AppendSnapshot(nil)
			if _, err := store.Write(snapshot.Snapshot{Seq: seq, Hash: engine.SnapshotHash(snap), Rules: ecfg.Fingerprint(), Payload: snap}); err != nil {
				b.Fatal(err)
			}
			snapSeq = seq
		}
	}
	if err := j.Sync(); err != nil {
		b.Fatal(err)
	}
	return snapSeq, eng.StateHash()
}

// evictJournal makes the journal in dir durable and drops its pages from
// the page cache, as a crash leaves it: recovery reads it from the disk.
// Without it the replay competed with the writeback of the journal just
// written (M207, 2026-12-04: 2.3–2.9 M records/s, 4.2–4.8 M cold).
func evictJournal(b *testing.B, dir string) {
	names, err := vfs.Default.List(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range names {
		f, err := vfs.Default.Open(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		size, err := f.Size()
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			b.Fatal(err)
		}
		f.DropCache(0, size)
		f.Close()
	}
}

type discard struct{}

func (discard) Emit(*engine.Event) {}
