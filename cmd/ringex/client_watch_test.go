package main

import (
	"strings"
	"testing"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/proto/wire"
)

// The watch view follows the trading state: from the snapshot, then from
// TradingStatus messages, which take their place in md_seq like updates.
func TestWatchViewTradingStatus(t *testing.T) {
	cfg := config.Default()
	in := newInstruments(cfg.Instruments)
	v := newBookView(cfg.Instruments[0], in)
	id := cfg.Instruments[0].ID
	render := func() string {
		var b strings.Builder
		v.render(&b, 5)
		return b.String()
	}
	steps := []struct {
		m      client.Message
		ok     bool
		halted bool
	}{
		{client.Message{Type: wire.MessageBookSnapshot, Instrument: id, MDSeq: 4, Halted: true}, true, true},
		{client.Message{Type: wire.MessageTradingStatus, Instrument: id, MDSeq: 5}, true, false},
		{client.Message{Type: wire.MessageTradingStatus, Instrument: id, MDSeq: 6, Halted: true}, true, true},
		{client.Message{Type: wire.MessageTradingStatus, Instrument: id, MDSeq: 8}, false, true}, // a gap: stale until the next snapshot
	}
	for i, s := range steps {
		if ok := v.apply(&s.m); ok != s.ok || v.halted != s.halted {
			t.Fatalf("step %d: apply %v, halted %v; want %v, %v", i, ok, v.halted, s.ok, s.halted)
		}
		if got := strings.Contains(render(), "HALTED"); got != s.halted {
			t.Fatalf("step %d: rendered HALTED %v:\n%s", i, got, render())
		}
	}
}
