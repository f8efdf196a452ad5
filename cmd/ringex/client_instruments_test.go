package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
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

// A node that refuses the instrument list (over the account's
// gateway.status_rate) fails a command with no --config, naming the
// refusal and --config: it does not fall back to the demo config, whose
// symbols may name other instruments on that node. Here they do — the
// node's instrument 1 is ETH-USD and its BTC-USD is 2 — and an order for
// BTC-USD resolved against the demo config went to the node's ETH-USD.
func TestClientRefusedTheListDoesNotGuess(t *testing.T) {
	cfg := testnode.Config(t, t.TempDir(), map[string]string{"journal.sync": "none", "gateway.status_rate": "1"})
	for i := range cfg.Instruments {
		switch cfg.Instruments[i].ID {
		case 1:
			cfg.Instruments[i].ID = 2
		case 2:
			cfg.Instruments[i].ID = 1
		}
	}
	_, _, a := testnode.Open(t, cfg)
	other, err := client.Dial(a.Gateway, 4, "demo-secret-4", client.Options{AutoFlush: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	order := clientArgs(a, 4, "order", "--side", "buy", "--instrument", "BTC-USD", "--qty", "0.0005", "--price", "59000")
	// The account's one request a second is spent by other's, and the
	// command asks within that second — or, a second gone by, gets the
	// node's list and orders its BTC-USD; tried until a refusal is seen.
	for try := 0; try < 10; try++ {
		for {
			if _, err := other.Instruments(); errors.Is(err, client.ErrInstrumentsRefused) {
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
		out, err := ringex(t, nil, order...)
		if err == nil {
			wantLine(t, out, `^accepted +BTC-USD buy 0\.0005 @ 59000\.00  order \d+`)
			continue
		}
		if !errors.Is(err, client.ErrInstrumentsRefused) || !strings.Contains(err.Error(), "--config") {
			t.Fatalf("the command given a refused list: %v\n%s", err, out)
		}
		return
	}
	t.Fatal("the list was never refused in 10 tries")
}
