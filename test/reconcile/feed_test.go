package reconcile

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// subscriber is one market-data connection subscribed to every
// instrument: it rebuilds their books and keeps every trade it saw.
type subscriber struct {
	connection

	// Guarded by mu.
	books    map[uint32]*testkit.MarketBook
	trades   map[uint64]proto.Trade // by trade id
	problems []string               // where the feed broke its own rules
}

// subscribe connects to the market-data port, subscribes to every
// instrument of cfg and waits for their snapshots.
func subscribe(t testing.TB, cfg *config.Config, addr string) *subscriber {
	t.Helper()
	c, err := client.DialMarketData(addr, client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	sub := &subscriber{books: map[uint32]*testkit.MarketBook{}, trades: map[uint64]proto.Trade{}}
	sub.start(t, c, sub.apply)
	for _, in := range cfg.Instruments {
		if err := c.Subscribe(in.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := sub.await(time.Now().Add(hangAfter), func() bool { return len(sub.books) == len(cfg.Instruments) }); err != nil {
		t.Fatalf("market data: no snapshot of every instrument: %v", err)
	}
	return sub
}

// apply takes in m, noting where the feed breaks its rules: an update
// before its book's snapshot, a gap in md_seq, a trade twice, a
// subscription refused.
func (sub *subscriber) apply(m client.Message) {
	if err := testkit.ApplyMarketData(sub.books, m); err != nil {
		sub.problems = append(sub.problems, err.Error())
	}
	switch m.Type {
	case wire.MessageTrade:
		if _, seen := sub.trades[m.Trade.TradeID]; seen {
			sub.problems = append(sub.problems, fmt.Sprintf("trade %d twice on the feed", m.Trade.TradeID))
		}
		sub.trades[m.Trade.TradeID] = m.Trade
	case wire.MessageSubscribeReject:
		sub.problems = append(sub.problems, fmt.Sprintf("instrument %d: subscription refused, reason %d", m.Instrument, m.SubscribeReject))
	}
}

// levels is one side of a book: price → level.
type levels = map[int64]proto.Level

// bookLines renders a book as `ringex replay --books` prints it: sells
// from the best (lowest) price, then buys from the best (highest); prices
// and quantities in the instrument's units.
func bookLines(in config.Instrument, bids, asks levels) string {
	var b strings.Builder
	for _, side := range []struct {
		name   string
		levels levels
		best   func(a, b int64) int
	}{
		{"sell", asks, func(a, b int64) int { return cmp.Compare(a, b) }},
		{"buy", bids, func(a, b int64) int { return cmp.Compare(b, a) }},
	} {
		for _, price := range slices.SortedFunc(maps.Keys(side.levels), side.best) {
			l := side.levels[price]
			fmt.Fprintf(&b, "  %s %s qty=%s orders=%d\n", side.name, units(price, in.PriceDecimals), units(l.Quantity, in.QtyDecimals), l.Count)
		}
	}
	return b.String()
}

// units writes v with the given decimals, as the ringex command does
// (6000050 with 2 decimals is "60000.50").
func units(v int64, decimals int) string {
	s := fmt.Sprintf("%0*d", decimals+1, v)
	if decimals == 0 {
		return s
	}
	return s[:len(s)-decimals] + "." + s[len(s)-decimals:]
}

// lineDiff lists the lines only one of two renderings has: "-" the
// first's, "+" the second's.
func lineDiff(first, second string) string {
	count := map[string]int{}
	for _, l := range strings.SplitAfter(first, "\n") {
		count[l]--
	}
	for _, l := range strings.SplitAfter(second, "\n") {
		count[l]++
	}
	var b strings.Builder
	for _, l := range slices.Sorted(maps.Keys(count)) {
		for ; count[l] < 0; count[l]++ {
			b.WriteString("-" + l)
		}
		for ; count[l] > 0; count[l]-- {
			b.WriteString("+" + l)
		}
	}
	return b.String()
}
