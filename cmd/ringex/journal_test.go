package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/node"
)

// A node that lost power mid-batch refuses to start and names the tool;
// `journal cut` says what it would cut, then cuts it, and the node starts.
func TestJournalCutMendsATornBatch(t *testing.T) {
	cfg, j := demoJournal(t)
	appendRecords := func(from, to int64) {
		for s := from; s <= to; s++ {
			rec := journal.Record{Seq: s, Kind: 1, Payload: make([]byte, 100)}
			if err := j.Append(&rec); err != nil {
				t.Fatal(err)
			}
		}
		if err := j.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	appendRecords(1, 3)
	j.Close()
	seg := filepath.Join(cfg.JournalDir(), "00000000000000000001.journal")
	data, _ := os.ReadFile(seg)
	hole := int64(len(strings.TrimRight(string(data), "\x00"))+7) &^ 7 // the end of record 3
	j, _, err := journal.Open(cfg.JournalDir(), journal.Options{SegmentBytes: 1 << 20, Sync: journal.SyncBatch})
	if err != nil {
		t.Fatal(err)
	}
	appendRecords(4, 80) // the batch a power loss caught: its first page lost
	j.Close()
	data, _ = os.ReadFile(seg)
	clear(data[hole : (hole/4096+1)*4096])
	os.WriteFile(seg, data, 0o644)

	for k, v := range map[string]string{"gateway.listen": "127.0.0.1:0", "marketdata.listen": "127.0.0.1:0", "admin.listen": "127.0.0.1:0",
		"rings.input_slots": "1024", "rings.output_slots": "1024", "gateway.recent_reports": "1024", "snapshot.schedule": ""} {
		if err := cfg.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := node.New(cfg, zerolog.Nop()); !errors.Is(err, journal.ErrTornBatch) || !strings.Contains(err.Error(), "ringex journal cut "+cfg.JournalDir()) {
		t.Fatalf("start = %v; want the torn batch refused, naming the tool", err)
	}

	out := mustRingex(t, "journal", "cut", cfg.JournalDir())
	wantLine(t, out, `a bad record at offset \d+, \d+ bytes of data from there holding \d+ well-formed records, sequences \d+…80$`)
	wantLine(t, out, `^once cut, the journal ends at sequence 3$`)
	wantLine(t, out, `^nothing changed: run again with --yes`)
	out = mustRingex(t, "journal", "cut", "--yes", cfg.JournalDir())
	wantLine(t, out, `^cut: the bytes are kept in .*\.journal\.cut-\d+$`)

	n, rec, err := node.New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	if rec.Journal.LastSeq != 3 {
		t.Fatalf("after the cut the journal ends at %d, want 3", rec.Journal.LastSeq)
	}
	if out, err := ringex(t, nil, "journal", "cut", cfg.JournalDir()); !errors.Is(err, node.ErrDataDirInUse) {
		t.Fatalf("cut beside a running node: %v\n%s", err, out)
	}
}
