package testkit

import (
	"fmt"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// MarketBook is one instrument's book as a market-data subscriber
// rebuilds it (proto/README.md "Market data"): a BookSnapshot, then every
// LevelUpdate, Trade and TradingStatus after it.
type MarketBook struct {
	MDSeq      uint64
	Bids, Asks map[int64]proto.Level // by price
	LastPrice  int64
	Halted     bool
}

// NewMarketBook is an empty book.
func NewMarketBook() *MarketBook {
	return &MarketBook{Bids: map[int64]proto.Level{}, Asks: map[int64]proto.Level{}}
}

// ApplyMarketData applies m to books (by instrument): a BookSnapshot
// replaces its instrument's book, an update changes it; other messages
// are ignored. An update before its instrument's snapshot, or one whose
// md_seq does not follow the book's, is an error (the update is applied
// all the same, so that a caller may go on and see what else differs).
func ApplyMarketData(books map[uint32]*MarketBook, m client.Message) error {
	switch m.Type {
	case wire.MessageBookSnapshot:
		b := NewMarketBook()
		b.MDSeq, b.LastPrice, b.Halted = m.MDSeq, m.LastPrice, m.Halted
		for _, l := range m.Bids {
			b.Bids[l.Price] = l
		}
		for _, l := range m.Asks {
			b.Asks[l.Price] = l
		}
		books[m.Instrument] = b
		return nil
	case wire.MessageLevelUpdate, wire.MessageTrade, wire.MessageTradingStatus:
	default:
		return nil
	}
	b := books[m.Instrument]
	if b == nil {
		return fmt.Errorf("instrument %d: %s before the book's snapshot", m.Instrument, wire.EnumNamesMessage[m.Type])
	}
	var err error
	if m.MDSeq != b.MDSeq+1 {
		err = fmt.Errorf("instrument %d: md_seq %d after %d (%s)", m.Instrument, m.MDSeq, b.MDSeq, wire.EnumNamesMessage[m.Type])
	}
	b.MDSeq = m.MDSeq
	switch m.Type {
	case wire.MessageLevelUpdate:
		side := b.Asks
		if m.Level.Side == wire.SideBuy {
			side = b.Bids
		}
		if m.Level.Quantity <= 0 { // the level is gone
			delete(side, m.Level.Price)
		} else {
			side[m.Level.Price] = proto.Level{Price: m.Level.Price, Quantity: m.Level.Quantity, Count: m.Level.Count}
		}
	case wire.MessageTrade:
		b.LastPrice = m.Trade.Price
	case wire.MessageTradingStatus:
		b.Halted = m.Halted
	}
	return err
}

// notCurrentRetry is how long SubscribeCurrent waits before it sends a
// Subscribe refused NotCurrent again.
const notCurrentRetry = 20 * time.Millisecond

// SubscribeCurrent subscribes c to instrument until the market-data port
// answers it the book snapshot, which it returns with how many
// Subscribes were refused NotCurrent before, reading until deadline (the
// read deadline is cleared when it returns). A cluster member is not
// current from its start until it is the ready leader or has applied
// what its leader committed (node/mdcurrent.go, 4), and refuses each
// Subscribe before; the refusal leaves the connection open, and the
// Subscribe goes again on it every 20 ms. Another refusal, or a read
// that fails, is an error; other messages are skipped.
func SubscribeCurrent(c *client.Client, instrument uint32, deadline time.Time) (client.Message, int, error) {
	c.SetReadDeadline(deadline)
	defer c.SetReadDeadline(time.Time{})
	refused := 0
	for {
		if err := c.Subscribe(instrument); err != nil {
			return client.Message{}, refused, err
		}
		m, err := nextAnswer(c, instrument)
		switch {
		case err != nil:
			return client.Message{}, refused, fmt.Errorf("subscribing to instrument %d (%d refused NotCurrent before): %w", instrument, refused, err)
		case m.Type == wire.MessageBookSnapshot:
			return m, refused, nil
		case m.SubscribeReject != wire.SubscribeRejectReasonNotCurrent:
			return client.Message{}, refused, fmt.Errorf("instrument %d: the Subscribe refused: %s", instrument, m.SubscribeReject)
		}
		refused++
		time.Sleep(notCurrentRetry)
	}
}

// nextAnswer reads c until the answer to a Subscribe to instrument: its
// BookSnapshot or a SubscribeReject.
func nextAnswer(c *client.Client, instrument uint32) (client.Message, error) {
	for {
		m, err := c.Next()
		if err != nil || m.Instrument == instrument && (m.Type == wire.MessageBookSnapshot || m.Type == wire.MessageSubscribeReject) {
			return m, err
		}
	}
}
