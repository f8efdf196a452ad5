package node

import (
	"slices"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/journal"
)

// The input dropped on every member, two of which hold it in their
// journals and one of which was down when it came: the two drop it in
// their recovery (and snapshot past it), the third as its unmarshaler
// takes it from the leader's log. The cluster goes on, and every member
// reaches the same state.
func TestEveryMemberDropsTheInputAlike(t *testing.T) {
	ns := startTestClusterWith(t, map[string]string{"snapshot.on_stop": "false"})
	down := ns[2]
	if l := readyLeader(t, ns, nil); l == down {
		down = ns[0]
	}
	if err := down.Stop(); err != nil {
		t.Fatal(err)
	}
	l := publishBids(t, ns, down, 1, 5)
	waitUntil(t, func() bool { return l.State().Seq >= 5 })
	waitUntil(t, func() bool {
		for _, n := range ns {
			if n != down && n.State().Seq < l.State().Seq {
				return false
			}
		}
		return true
	})
	last := l.State().Seq
	poison := last - 2
	var wg sync.WaitGroup
	for _, n := range ns {
		if n != down {
			wg.Go(func() { n.Stop() })
		}
	}
	wg.Wait()
	crc, found, err := journal.ChecksumAt([]string{l.cfg.JournalDir()}, nil, poison)
	if err != nil || !found {
		t.Fatal(poison, found, err)
	}
	for _, n := range ns {
		if _, err := journal.AddDrop(nil, n.cfg.JournalDir(), journal.Drop{Seq: poison, Checksum: crc}); err != nil {
			t.Fatal(err)
		}
	}
	poisonReplay(t, poison)
	for i, n := range ns {
		n2, rec, err := NewWithOptions(n.cfg, zerolog.Nop(), Options{})
		if err != nil {
			t.Fatalf("member %d: %v", i+1, err)
		}
		if want := []int64{poison}; n == down {
			if len(rec.Dropped) != 0 {
				t.Errorf("member %d, down, dropped %v in its recovery", i+1, rec.Dropped)
			}
		} else if !slices.Equal(rec.Dropped, want) {
			t.Errorf("member %d dropped %v, want %v", i+1, rec.Dropped, want)
		}
		ns[i] = n2
	}
	for _, n := range ns {
		if _, err := n.Start(); err != nil {
			t.Fatal(err)
		}
	}
	l = publishBids(t, ns, nil, 6, 9)
	waitUntil(t, func() bool { return l.State().Seq >= last+4 })
	waitUntil(t, func() bool {
		for _, n := range ns {
			if n.State().Seq < l.State().Seq {
				return false
			}
		}
		return true
	})
	h := l.State().Hash
	for i, n := range ns {
		if s := n.State(); s.Hash != h || s.Seq != l.State().Seq {
			t.Errorf("member %d at %d hash %s, the leader at %d hash %s", i+1, s.Seq, s.Hash, l.State().Seq, h)
		}
	}
}
