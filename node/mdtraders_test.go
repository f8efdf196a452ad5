package node

import (
	"maps"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// drainedTraders are trading sessions of accounts 1…n whose reports are
// read as they come, so that no session is cut as a slow consumer, for
// the market-data tests that trade at random and then compare books.
type drainedTraders struct {
	t       *testing.T
	n       *Node
	gateway string
	readFor time.Duration // each reader's deadline
	c       []*client.Client
	markers []chan uint64 // the marker cancels' answers, by session
	marker  uint64
	wg      sync.WaitGroup
}

func newDrainedTraders(t *testing.T, n *Node, gateway string, count int, readFor time.Duration) *drainedTraders {
	d := &drainedTraders{t: t, n: n, gateway: gateway, readFor: readFor,
		c: make([]*client.Client, count), markers: make([]chan uint64, count), marker: 1 << 40}
	for k := range d.c {
		d.connect(k)
	}
	return d
}

// connect logs account k+1 on, in session k's place, and reads its
// reports; the session it replaces must be closed.
func (d *drainedTraders) connect(k int) {
	c := dial(d.t, d.gateway, uint32(k+1))
	ch := make(chan uint64, 64)
	d.c[k], d.markers[k] = c, ch
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		c.SetReadDeadline(time.Now().Add(d.readFor))
		for {
			m, err := c.Next()
			if err != nil {
				return
			}
			if m.Type == wire.MessageExecutionReport && m.Report.ClientOrderID >= 1<<40 {
				ch <- m.Report.ClientOrderID
			}
		}
	}()
}

// quiesce returns once the node has answered everything each session
// sent (a marker cancel per session, answered after it), account 3 is
// resumed, and the engine and the market-data hub have taken everything
// published.
func (d *drainedTraders) quiesce() {
	d.t.Helper()
	for k, c := range d.c {
		d.marker++
		c.Cancel(proto.Cancel{OrigClientOrderID: d.marker, Instrument: 1})
		if got := received(d.t, d.markers[k], "no answer to the marker"); got != d.marker {
			d.t.Fatalf("marker %d answered, want %d", got, d.marker)
		}
	}
	n := d.n
	n.ResumeAccount(3)
	waitUntil(d.t, func() bool { return n.stats.engine.Sequence().Load()+1 >= n.in.published() })
	waitUntil(d.t, func() bool { s := n.mdHub.consumerSeq(); return s == nil || s.Load() >= n.md.published() })
}

// close closes every session and waits for their readers.
func (d *drainedTraders) close() {
	for _, c := range d.c {
		c.Close()
	}
	d.wg.Wait()
}

// mdRand is a test's random source, seeded from the clock or, to run a
// failed run's workload again, from RINGEX_MD_SEED (the interleaving
// differs); stream tells the tests apart.
func mdRand(t *testing.T, stream uint64) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("RINGEX_MD_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (RINGEX_MD_SEED=%d runs its workload again)", seed, seed)
	return rand.New(rand.NewPCG(seed, stream))
}

// mdBookSeqs reads the md_seq of each of insts' books in the market-data
// hub: a subscriber that has read up to them has read everything sent.
func mdBookSeqs(n *Node, insts []uint32) map[uint32]uint64 {
	n.mdHub.mu.Lock()
	defer n.mdHub.mu.Unlock()
	seqs := map[uint32]uint64{}
	for _, i := range insts {
		seqs[i] = n.mdHub.feeds[i].book.Seq
	}
	return seqs
}

// wantBookEqual fails the test, saying what was checked, when got, a
// subscriber's book of instrument i, is not eng, the engine's.
func wantBookEqual(t *testing.T, what string, i uint32, got, eng *testkit.MarketBook) {
	t.Helper()
	if !maps.Equal(got.Bids, eng.Bids) || !maps.Equal(got.Asks, eng.Asks) || got.Halted != eng.Halted || got.LastPrice != eng.LastPrice {
		t.Fatalf("%s instrument %d at md_seq %d:\nsubscriber bids %v asks %v halted %v last %d\nengine     bids %v asks %v halted %v last %d",
			what, i, got.MDSeq, got.Bids, got.Asks, got.Halted, got.LastPrice, eng.Bids, eng.Asks, eng.Halted, eng.LastPrice)
	}
}
