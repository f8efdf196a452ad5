package config

import (
	"slices"
	"testing"
)

// The reference fingerprint changes with each instrument's id, symbol
// and decimals — what a client reads of it that the rules fingerprint
// leaves out — and with nothing else: not the instruments' order, not
// what the rules fingerprint covers (a member with other rules stops at
// the first raft entry), not the accounts.
func TestReferenceFingerprint(t *testing.T) {
	base := Default()
	fp := base.ReferenceFingerprint()
	same := func(name string, edit func(c *Config), want bool) {
		t.Helper()
		c := *base
		c.Instruments, c.Accounts = slices.Clone(base.Instruments), slices.Clone(base.Accounts)
		edit(&c)
		if got := c.ReferenceFingerprint() == fp; got != want {
			t.Errorf("%s: reference fingerprint unchanged %v, want %v", name, got, want)
		}
	}
	same("itself", func(*Config) {}, true)
	same("instruments reordered", func(c *Config) { slices.Reverse(c.Instruments) }, true)
	same("a tick size", func(c *Config) { c.Instruments[0].TickSize *= 2 }, true)
	same("a price band", func(c *Config) { c.Instruments[0].PriceBandTicks++ }, true)
	same("an account removed", func(c *Config) { c.Accounts = c.Accounts[1:] }, true)
	same("a symbol renamed", func(c *Config) { c.Instruments[0].Symbol = "BTC-EUR" }, false)
	same("two symbols swapped", func(c *Config) {
		c.Instruments[0].Symbol, c.Instruments[1].Symbol = c.Instruments[1].Symbol, c.Instruments[0].Symbol
	}, false)
	same("a symbol's end moved to the next", func(c *Config) {
		c.Instruments[0].Symbol, c.Instruments[1].Symbol = c.Instruments[0].Symbol+"E", c.Instruments[1].Symbol[1:]
	}, false)
	same("price decimals", func(c *Config) { c.Instruments[1].PriceDecimals++ }, false)
	same("quantity decimals", func(c *Config) { c.Instruments[1].QtyDecimals++ }, false)
	same("an instrument's id", func(c *Config) { c.Instruments[2].ID = 99 }, false)
	same("an instrument removed", func(c *Config) { c.Instruments = c.Instruments[1:] }, false)
	if (&Config{}).ReferenceFingerprint() == 0 {
		t.Error("no instruments: 0, which /state readers take for unknown")
	}
}
