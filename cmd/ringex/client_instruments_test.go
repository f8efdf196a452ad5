package main

import (
	"testing"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testnode"
)

// With no --config, the client names and shows instruments as the node
// lists them: an instrument the embedded demo config does not have is
// traded and watched by its symbol, its prices in its own decimals.
func TestClientWithoutConfigUsesTheNodesInstruments(t *testing.T) {
	cfg := testnode.Config(t, t.TempDir(), map[string]string{"journal.sync": "none"})
	cfg.Instruments = append(cfg.Instruments, config.Instrument{ID: 9, Symbol: "SOL-USD", TickSize: 1, LotSize: 1,
		PriceDecimals: 3, QtyDecimals: 1})
	_, _, a := testnode.Open(t, cfg)

	out := mustRingex(t, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "sol-usd", "--qty", "2.5", "--price", "150.125")...)
	wantLine(t, out, `^accepted +SOL-USD buy 2\.5 @ 150\.125  order \d+`)
	out = mustRingex(t, clientArgs(a, 1, "watch", "--instrument", "SOL-USD", "--updates", "0")...)
	wantLine(t, out, `^SOL-USD \(instrument 9\)  md_seq \d+  1 bid / 0 ask levels$`)
	wantLine(t, out, `^  bid +150\.125 +2\.5 +1$`)
}
