package testkit

import (
	"fmt"

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
