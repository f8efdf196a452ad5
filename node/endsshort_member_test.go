package node

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/journal"
)

// A cluster member whose journal — written by its replication, not
// fdatasynced per batch — was cut short exactly between two records (a
// copy of its data directory that did not finish) refuses to start as a
// standalone node does, naming the segment, where it ends and the
// remedies, its cluster's copy among them (rejoinWay); grown to a
// segment's size (accepted) it opens at that end. (Its journal opened
// unsynced truncates a record the cut goes through, as a torn tail its
// raft log holds again: only a cut between records reads as a whole
// journal ending early.)
func TestMemberRefusesAJournalCutShortBetweenRecords(t *testing.T) {
	ns := startTestClusterWith(t, map[string]string{"snapshot.on_stop": "false"}) // the journal holds the inputs the start reads
	publishBids(t, ns, nil, 1, 20)
	// A majority applied inputs: a follower's journal holds them. (Under
	// load the lead may move, and a leader that lost inputs with it
	// stops: no member need reach 20.)
	waitUntil(t, func() bool {
		return len(slices.DeleteFunc(slices.Clone(ns), func(n *Node) bool { return n.stateNow().Seq < 1 })) >= 2
	}, ns...)
	stopped := make([]error, len(ns))
	var wg sync.WaitGroup
	for i, n := range ns {
		wg.Go(func() { stopped[i] = n.Stop() })
	}
	wg.Wait()
	var cfg *config.Config
	var seg string
	var at, last int64
	for i, n := range ns {
		if stopped[i] == nil {
			if seg, at, last = lastRecord(t, n.cfg.JournalDir()); last >= 1 {
				cfg = n.cfg
				break
			}
		}
	}
	if cfg == nil {
		t.Fatalf("setup: no member stopped with inputs in its journal (stops: %v)", stopped)
	}

	// Cut the last segment where its last record begins.
	if err := os.Truncate(seg, at); err != nil {
		t.Fatal(err)
	}

	n, rec, err := New(cfg, zerolog.Nop())
	if err == nil {
		n.discard()
		t.Fatalf("the member started %+v on a journal cut short before input %d", rec, last)
	}
	if !errors.Is(err, journal.ErrEndsShort) {
		t.Fatalf("refused with %v; want ErrEndsShort", err)
	}
	for _, s := range []string{
		fmt.Sprintf("%s ends at input %d", seg, last-1),
		fmt.Sprintf("%d bytes, smaller than a segment", at),
		fmt.Sprintf("truncate -s %d %s", cfg.Journal.SegmentBytes, seg),
		rejoinWay,
	} {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("refused with %v; want it saying %q", err, s)
		}
	}
	if fi, err := os.Stat(seg); err != nil || fi.Size() != at {
		t.Fatalf("the refused segment is %v bytes (%v), was cut to %d", fi.Size(), err, at)
	}
	if err := os.Truncate(seg, cfg.Journal.SegmentBytes); err != nil { // accepted
		t.Fatal(err)
	}
	n, rec, err = New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("accepted: %v", err)
	}
	n.discard()
	if rec.Journal.LastSeq != last-1 {
		t.Fatalf("accepted: recovered %+v, want the journal at %d", rec, last-1)
	}
}

// lastRecord reads the journal in dir through and returns the segment
// its last record is in, the record's offset there and its sequence (0:
// none).
func lastRecord(t *testing.T, dir string) (seg string, at, last int64) {
	t.Helper()
	r, err := journal.NewReader(dir, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var x journal.Record
	for {
		if err := r.Next(&x); err == io.EOF {
			return seg, at, x.Seq
		} else if err != nil {
			t.Fatal(err)
		}
		seg, at = r.Position()
	}
}
