package node

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/journal"
)

// A standalone node whose journal's last segment was cut short exactly
// between two records — a copy of the data directory that did not
// finish — refuses to start, naming the segment, where it ends and the
// remedy; grown to a segment's size (accepted) it starts at that end.
// It started on it and gave the left-out input's sequence (order id) out
// again, and preallocated the file, so the start after saw nothing. The
// intact journal starts.
func TestStartRefusesALastSegmentCutShortBetweenRecords(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.Snapshot.OnStop = false // the journal holds the inputs the start reads
	n, a, _ := startNode(t, cfg)
	restBids(t, dial(t, a.Gateway, 3), cfg.Instruments[0], 1, 20)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n2, rec, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("the intact journal: %v", err)
	}
	n2.discard()
	last := rec.Journal.LastSeq

	// Cut the last segment where its last record begins.
	r, err := journal.NewReader(cfg.JournalDir(), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var x journal.Record
	var seg string
	var at int64
	for {
		if err := r.Next(&x); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seg, at = r.Position()
	}
	r.Close()
	if x.Seq != last {
		t.Fatalf("setup: read to %d, the journal ends at %d", x.Seq, last)
	}
	if err := os.Truncate(seg, at); err != nil {
		t.Fatal(err)
	}

	n3, rec, err := New(cfg, zerolog.Nop())
	if err == nil {
		n3.discard()
		t.Fatalf("started %+v on a journal cut short before input %d", rec, last)
	}
	if !errors.Is(err, journal.ErrEndsShort) {
		t.Fatalf("refused with %v; want ErrEndsShort", err)
	}
	for _, want := range []string{
		fmt.Sprintf("%s ends at input %d", seg, last-1),
		fmt.Sprintf("%d bytes, smaller than a segment", at),
		"ringex journal inspect " + cfg.JournalDir(),
		fmt.Sprintf("truncate -s %d %s", cfg.Journal.SegmentBytes, seg),
	} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("refused with %v; want it saying %q", err, want)
		}
	}
	if err := os.Truncate(seg, cfg.Journal.SegmentBytes); err != nil { // accepted
		t.Fatal(err)
	}
	n4, rec, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("accepted: %v", err)
	}
	n4.discard()
	if rec.Journal.LastSeq != last-1 {
		t.Fatalf("accepted: recovered %+v, want the journal at %d", rec, last-1)
	}
}
