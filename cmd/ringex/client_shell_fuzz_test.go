package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/proto/wire"
)

// FuzzShellLine: whatever line is typed at ringex client shell, its
// reading (commandFields, shell.parse) never panics; a line that is no
// command is refused with an error of bounded length; a command read,
// written back as a line (shellLine), reads as the same command; and no
// word of it is passed over — that line with one word more is refused,
// or reads as another command.
func FuzzShellLine(f *testing.F) {
	for _, line := range []string{
		"buy BTC-USD 0.0005 60000", "sell eth-usd 1.5 3000.25 ioc post", "buy AAPL 10 market", "sell 1 0.0001 market fok",
		"buy 7 3 12", "buy BTC-USD -1 0", "cancel 42", "replace 42 0.001 60001", "replace 43 5 100 9", "replace 44 1 1",
		"mass-cancel", "mass-cancel ETH-USD", "orders", "orders aapl", "resend", "resend 17", "resend -1",
		"help", "?", "quit", "exit now", "# buy BTC-USD 1 1", "", "  \t ", "bid BTC-USD 1 1",
	} {
		f.Add(line)
	}
	in := newInstruments(config.Default().Instruments)
	extra := []string{"post", "gtc", "ioc", "fok", "market", "1", "BTC-USD", "x"}
	f.Fuzz(func(t *testing.T, line string) {
		// Orders the session has seen: 42 in BTC-USD, 43 in an instrument
		// the list does not hold.
		sh := &shell{s: &session{in: in}, orders: map[uint64]uint32{42: 1, 43: 9}, nextID: 1000}
		fields, quit := commandFields(line)
		if quit || len(fields) == 0 {
			return
		}
		cmd, err := sh.parse(fields)
		if err != nil {
			if len(err.Error()) > 300+4*len(line) {
				t.Fatalf("%q refused at length %d: %v", line, len(err.Error()), err)
			}
			return
		}
		written := shellLine(in, cmd)
		again, err := sh.parse(strings.Fields(written))
		if err != nil || !sameCommand(again, cmd) {
			t.Fatalf("%q read as %+v, written back as %q, read as %+v (%v)", line, cmd, written, again, err)
		}
		if cmd.verb == "help" || cmd.verb == "?" {
			return // help takes no words, and ignores any
		}
		for _, w := range extra {
			more := written + " " + w
			if other, err := sh.parse(strings.Fields(more)); err == nil && sameCommand(other, cmd) {
				t.Fatalf("%q reads as %q does (%+v): the word %q is passed over", more, written, cmd, w)
			}
		}
	})
}

// sameCommand compares two commands but for the client order ids parse
// gave them (the shell's next, at each).
func sameCommand(a, b shellCommand) bool {
	a.order.ClientOrderID, b.order.ClientOrderID = 0, 0
	a.replace.ClientOrderID, b.replace.ClientOrderID = 0, 0
	return a == b
}

// shellLine is a command as a person types it: instruments by symbol,
// quantities and prices in their decimals, every option spelled out.
func shellLine(in instruments, c shellCommand) string {
	symbol := func(id uint32) string { return in.get(id).Symbol }
	switch c.verb {
	case "buy", "sell":
		o := c.order
		price := in.price(o.Instrument, o.Price)
		if o.Type == wire.OrderTypeMarket {
			price = "market"
		}
		line := fmt.Sprintf("%s %s %s %s %s", c.verb, symbol(o.Instrument), in.qty(o.Instrument, o.Quantity), price,
			strings.ToLower(wire.EnumNamesTimeInForce[o.TIF]))
		if o.PostOnly {
			line += " post"
		}
		return line
	case "cancel":
		return fmt.Sprintf("cancel %d", c.cancel.OrderID)
	case "replace":
		x := c.replace
		return fmt.Sprintf("replace %d %s %s %s", x.OrderID, in.qty(x.Instrument, x.Quantity), in.price(x.Instrument, x.Price), symbol(x.Instrument))
	case "mass-cancel":
		if c.instrument == 0 {
			return "mass-cancel"
		}
		return "mass-cancel " + symbol(c.instrument)
	case "orders":
		if c.status.Instrument == 0 {
			return "orders"
		}
		return "orders " + symbol(c.status.Instrument)
	case "resend":
		return fmt.Sprintf("resend %d", c.after)
	}
	return c.verb
}
