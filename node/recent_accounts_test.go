package node

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// The recent reports find the chain of an account up to
// maxIndexedAccount by index, of one above it through a map. Accounts on
// either side of the bound, and the largest id there may be, trade with
// one on the other side, as maker and as taker, and a resend from memory
// gives each its reports as it does account 4 (TestResendFromMemory):
// the fills its resting order missed, and the very reports the
// journal's replay rebuilds.
func TestResendFromMemoryAboveTheIndexedAccounts(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Gateway.StatusRate = 0
	last, first, top := uint32(maxIndexedAccount), uint32(maxIndexedAccount+1), uint32(1<<20-1)
	for _, id := range []uint32{last, first, top} {
		cfg.Accounts = append(cfg.Accounts, config.Account{ID: id, Name: fmt.Sprint("high-", id), Secret: fmt.Sprint("secret-", id)})
	}
	n, addrs, _ := startNode(t, cfg)
	in := cfg.Instruments[0]
	logon := func(id uint32) *client.Client {
		i := slices.IndexFunc(cfg.Accounts, func(a config.Account) bool { return a.ID == id })
		return dialWith(t, addrs.Gateway, id, cfg.Accounts[i].Secret)
	}

	// resend answers c's resend of the inputs after seen from memory,
	// and checks the journal's replay rebuilds the same reports.
	resend := func(c *client.Client, seen int64) []proto.Report {
		t.Helper()
		replayed, fromMemory := n.stats.resends.replayed.Load(), n.stats.resends.fromMemory.Load()
		tag, _ := c.Resend(seen)
		resent, done, _ := resendAnswer(t, c, tag)
		through := done.ThroughInputSeq
		if done.Reason != proto.ResendComplete || n.stats.resends.replayed.Load() != replayed ||
			n.stats.resends.fromMemory.Load() != fromMemory+1 {
			t.Fatalf("resend after %d: done %+v, %d inputs replayed, %d from memory", seen, done,
				n.stats.resends.replayed.Load()-replayed, n.stats.resends.fromMemory.Load()-fromMemory)
		}
		tag, _ = c.Resend(0) // before the kept events: replayed
		all, done, _ := resendAnswer(t, c, tag)
		var rebuilt []proto.Report
		for _, r := range all {
			if r.InputSeq > seen && r.InputSeq <= through {
				rebuilt = append(rebuilt, r)
			}
		}
		if done.Reason != proto.ResendComplete || n.stats.resends.replayed.Load() == replayed ||
			!slices.Equal(rebuilt, resent) {
			t.Fatalf("resend after %d: from memory %+v, rebuilt by the worker %+v (done %+v)", seen, resent, rebuilt, done)
		}
		return resent
	}

	// Account 1's reports come between first's (first mod 2^16 is 1):
	// a chain of one found for the other would be seen.
	for _, c := range []struct{ maker, taker uint32 }{{first, 1}, {last, top}} {
		taker := logon(c.taker)
		seen := missTwoFillsOf(t, n, in, logon(c.maker), c.maker, taker)
		back := logon(c.maker)
		checkTwoFillsOf(t, resend(back, seen), c.maker, seen, in)
		// The taker's two sells, each accepted and filled whole.
		got := resend(taker, seen)
		if len(got) != 4 {
			t.Fatalf("account %d, taker of two fills of account %d: resent %+v", c.taker, c.maker, got)
		}
		for i, r := range got {
			kind, leaves := wire.ExecKindAccepted, r.Quantity
			if i%2 == 1 {
				kind, leaves = wire.ExecKindFill, 0
			}
			if r.Kind != kind || r.Account != c.taker || r.ClientOrderID != uint64(21+i/2) || r.Leaves != leaves {
				t.Fatalf("account %d, taker: resent report %d: %+v", c.taker, i, r)
			}
		}
		// The rest of the maker's order leaves the book, and the
		// taker's session ends: the next case begins on an empty book.
		back.Cancel(proto.Cancel{OrigClientOrderID: 1, Instrument: 1})
		next(t, back, report(wire.ExecKindCancelled))
		taker.Close()
	}
}
