package node

import (
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/proto/wire"
)

// A snapshot's sessions are those of the inputs up to its sequence, not
// of the inputs before its request nor of those after it: each round, a
// session that logged on after the last snapshot sends orders after the
// request and before the snapshot's copy begins (the test holds copyMu,
// which the copy's driver takes), so they are in it, and more once it is
// written, which are not; every snapshot's table is each member's
// highest id among the journal's records up to its input.
func TestSnapshotSessionsAreTheInputsUpToItsSeq(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"snapshot.keep": "10", "gateway.logon_rate": "0"})
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	restBids(t, dial(t, addrs.Gateway, 3), in, 1, 100)
	const rounds = 3
	for round := range rounds {
		c := dial(t, addrs.Gateway, 2) // a session id above every earlier one
		id := uint64(0)
		send := func() {
			for range 20 {
				id++
				c.NewOrder(limit(id, wire.SideSell, in.ReferencePrice+int64(1+id%40)*in.TickSize, 1))
			}
			next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == id })
		}
		n.copyMu.Lock()
		if err := n.RequestSnapshot(); err != nil {
			n.copyMu.Unlock()
			t.Fatal(err)
		}
		send() // applied after the snapshot input, before its copy: in it
		n.copyMu.Unlock()
		waitUntil(t, func() bool { return n.stats.snapshots[snapshotWritten].Load() == int64(round+1) })
		send() // after it
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}

	r, err := journal.NewReader(cfg.JournalDir(), nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var recs []journal.Record
	for {
		var rec journal.Record
		if err := r.Next(&rec); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, journal.Record{Seq: rec.Seq, Session: rec.Session})
	}
	seqs, _ := n.snaps.List()
	straddled := 0
	for _, seq := range seqs[1:] { // past the fresh directory's, of input 0
		snap, err := n.snaps.Read(seq)
		if err != nil {
			t.Fatal(err)
		}
		highest := map[uint32]uint64{}
		before, after := map[uint64]bool{}, map[uint64]bool{}
		for _, rec := range recs {
			if rec.Seq > seq {
				after[rec.Session] = true
				continue
			}
			before[rec.Session] = true
			if rec.Session != 0 {
				m := gateway.SessionMember(rec.Session)
				highest[m] = max(highest[m], rec.Session)
			}
		}
		var got, want []uint64
		for _, id := range snap.Sessions {
			if id != 0 {
				got = append(got, id)
			}
		}
		for _, id := range highest {
			want = append(want, id)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("snapshot at %d records sessions %v, the inputs up to it %v", seq, got, want)
		}
		for s := range after {
			if before[s] && s != 0 {
				straddled++
				break
			}
		}
	}
	if straddled < rounds {
		t.Fatalf("%d of %d snapshots fell inside a session's inputs: the test did not take them while inputs of a new session were applied", straddled, rounds)
	}
}
