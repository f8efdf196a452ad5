package node

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

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
	leader := publishBids(t, ns, nil, 1, 20)
	want := appliedAll(t, leader).Seq
	m := ns[0]
	if m == leader {
		m = ns[1]
	}
	waitUntil(t, func() bool { return m.stateNow().Seq >= want }, m)
	var wg sync.WaitGroup
	for _, n := range ns {
		wg.Go(func() { n.Stop() })
	}
	wg.Wait()
	cfg := m.cfg

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
	last := x.Seq
	if last < want {
		t.Fatalf("setup: the member's journal ends at %d, it applied %d", last, want)
	}
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
