package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// instruments knows how a person writes an instrument's prices and
// quantities: `ringex client` reads and prints them with the instrument's
// price_decimals and qty_decimals — as the node lists them
// (ListInstruments: fromNode), or as --config says — so "60000.50" is
// 6000050 price units of BTC-USD. An instrument the list does not hold is
// shown by id with 0 decimals (raw units).
type instruments struct {
	byID     map[uint32]config.Instrument
	bySymbol map[string]config.Instrument
}

func newInstruments(list []config.Instrument) instruments {
	in := instruments{byID: map[uint32]config.Instrument{}, bySymbol: map[string]config.Instrument{}}
	for _, i := range list {
		in.byID[i.ID] = i
		in.bySymbol[upperASCII(i.Symbol)] = i
	}
	return in
}

// upperASCII is s with a-z upper-cased and every other byte as it is.
// Symbols are ASCII words (config's symbolFault) matched in ASCII's
// cases only: strings.ToUpper turned look-alikes into real symbols —
// "BTC-U\u017fD" (ſ, the long s) read as BTC-USD, "\u0131" (dotless ı) as I.
func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

// lookup resolves a symbol (in any ASCII case) or a numeric id.
func (in instruments) lookup(s string) (config.Instrument, error) {
	if i, ok := in.bySymbol[upperASCII(s)]; ok {
		return i, nil
	}
	id, err := strconv.ParseUint(s, 10, 32)
	if err != nil || id == 0 {
		return config.Instrument{}, fmt.Errorf("unknown instrument %+q (a symbol the node or --config lists, or an id ≥ 1)", s) // %+q: a look-alike rune shown escaped
	}
	if i, ok := in.byID[uint32(id)]; ok {
		return i, nil
	}
	return config.Instrument{ID: uint32(id), Symbol: strconv.FormatUint(id, 10)}, nil
}

// fromNode is in (the config's), or with no --config the instruments the
// node c is connected to lists (client.Instruments), which may differ from
// the embedded demo config's. Without the list — a node built before the
// request, which refuses it on order entry (client.ErrNoInstrumentList)
// and leaves it unanswered on the market-data port, or a connection that
// ended first — in stands: what c read meanwhile, a refusal of the logon
// or the end of the connection, its caller reads next, as before.
// A node answers at once; the wait is bounded by listWait. A node that
// knows the request and refused it (client.ErrInstrumentsRefused: over
// the account's gateway.status_rate) is an error: its list exists and may
// not be the demo config's, and a symbol resolved against the wrong list
// would send an order to another instrument.
func (o *clientOptions) fromNode(c *client.Client, in instruments) (instruments, error) {
	if o.configPath != "" {
		return in, nil
	}
	c.SetReadDeadline(time.Now().Add(min(o.timeout, listWait)))
	list, err := c.Instruments()
	c.SetReadDeadline(time.Time{})
	if errors.Is(err, client.ErrInstrumentsRefused) {
		return in, fmt.Errorf("%w — give --config naming the node's instruments, or try again in a second", err)
	}
	if err != nil {
		return in, nil
	}
	listed := make([]config.Instrument, 0, len(list))
	for _, i := range list {
		var band int64
		if i.TickSize > 0 {
			band = i.PriceBand / i.TickSize
		}
		listed = append(listed, config.Instrument{ID: i.ID, Symbol: i.Symbol, TickSize: i.TickSize, LotSize: i.LotSize,
			PriceBandTicks: band, ReferencePrice: i.ReferencePrice, PriceDecimals: int(i.PriceDecimals), QtyDecimals: int(i.QtyDecimals)})
	}
	return newInstruments(listed), nil
}

// listWait bounds fromNode's wait for the node's list: what an older
// node's market-data port, which answers nothing, costs a watch.
const listWait = time.Second

func (in instruments) get(id uint32) config.Instrument {
	if i, ok := in.byID[id]; ok {
		return i
	}
	return config.Instrument{ID: id, Symbol: strconv.FormatUint(uint64(id), 10)}
}

// maxDecimals is the most decimals an instrument's prices or quantities
// take (config: price_decimals and qty_decimals are 0…18): 10^18 is the
// largest power of ten an int64 holds, so an instrument of 18 decimals
// still has 9 whole units in its largest price.
const maxDecimals = 18

// pow10[d] is 10^d, a unit of d decimals in the smallest units.
var pow10 = [maxDecimals + 1]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// parseUnits reads a decimal such as "60000.5" as an integer number of
// units with the given decimals (6000050 for 2 decimals). More fractional
// digits than decimals is an error, never a silent rounding; so is a
// number an int64 of units does not hold, never a wrapped one. Decimals
// are 0…maxDecimals, what config accepts.
func parseUnits(s string, decimals int) (int64, error) {
	if decimals < 0 || decimals > maxDecimals {
		return 0, fmt.Errorf("%d decimals not supported (0…%d are)", decimals, maxDecimals)
	}
	neg := strings.HasPrefix(s, "-")
	body := strings.TrimPrefix(s, "-")
	whole, frac, hasDot := strings.Cut(body, ".")
	if whole == "" && frac == "" || hasDot && frac == "" || !decimalDigits(whole) || !decimalDigits(frac) {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if len(frac) > decimals {
		return 0, fmt.Errorf("%q has more than %d decimals", s, decimals)
	}
	// The magnitude an int64 holds: one more below zero (math.MinInt64).
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	tooLarge := func() error {
		most := formatUnits(math.MaxInt64, decimals)
		if neg {
			most = formatUnits(math.MinInt64, decimals)
		}
		return fmt.Errorf("%q is too large: the units of %d decimals reach %s", s, decimals, most)
	}
	var f uint64 // the fraction in units: below pow10[decimals]
	if frac != "" {
		v, err := strconv.ParseUint(frac, 10, 64) // at most maxDecimals digits: it fits
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", s)
		}
		f = v * pow10[decimals-len(frac)]
	}
	var w uint64
	if whole != "" {
		var err error
		if w, err = strconv.ParseUint(whole, 10, 64); errors.Is(err, strconv.ErrRange) {
			return 0, tooLarge()
		} else if err != nil {
			return 0, fmt.Errorf("%q is not a number", s)
		}
	}
	// w×p + f ≤ limit, checked without computing what may overflow
	// (f < p ≤ 10^18 < limit).
	p := pow10[decimals]
	if w > (limit-f)/p {
		return 0, tooLarge()
	}
	u := w*p + f
	v := int64(u) // math.MinInt64 when u is 2^63, which only a negative reaches
	if neg {
		v = -v
	}
	return v, nil
}

// decimalDigits reports whether s holds only the digits 0-9 (or
// nothing): no sign, space, underscore or other rune that strconv or a
// Unicode digit class would take.
func decimalDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// formatUnits is parseUnits' inverse: 6000050 with 2 decimals is
// "60000.50". With decimals outside 0…maxDecimals (none config accepts)
// it is the units, as with 0.
func formatUnits(v int64, decimals int) string {
	if decimals <= 0 || decimals > maxDecimals {
		return strconv.FormatInt(v, 10)
	}
	sign := ""
	u := uint64(v)
	if v < 0 {
		sign, u = "-", -u // two's complement: math.MinInt64's magnitude too
	}
	p := pow10[decimals]
	return fmt.Sprintf("%s%d.%0*d", sign, u/p, decimals, u%p)
}

func (in instruments) price(id uint32, v int64) string {
	return formatUnits(v, in.get(id).PriceDecimals)
}
func (in instruments) qty(id uint32, v int64) string { return formatUnits(v, in.get(id).QtyDecimals) }

// formatResendDone is the last line of a resend's answer.
func formatResendDone(d proto.ResendDone) string {
	if d.FirstInputSeq > d.ThroughInputSeq && d.Count == 0 {
		return fmt.Sprintf("resend %s: no inputs after %d (the last before the request was %d)", d.Reason, d.AfterInputSeq, d.ThroughInputSeq)
	}
	s := fmt.Sprintf("resend %s: %d reports of inputs %d..%d", d.Reason, d.Count, d.FirstInputSeq, d.ThroughInputSeq)
	if d.Reason == proto.ResendPartial || d.Reason == proto.ResendCut && d.FirstInputSeq > d.AfterInputSeq+1 {
		s += fmt.Sprintf(" (the reports of inputs %d..%d are no longer held)", d.AfterInputSeq+1, d.FirstInputSeq-1)
	}
	if d.Reason == proto.ResendCut {
		s += fmt.Sprintf(" (cut short: read too slowly while another resend waited; the rest is asked for after input %d)", d.ThroughInputSeq)
	}
	return s
}

// formatMessage is the line a client command prints for an execution
// report (a resent one marked so) or a ResendDone; ok is false for the
// messages they do not print.
func (in instruments) formatMessage(m *client.Message) (line string, ok bool) {
	switch {
	case m.Type == wire.MessageResendDone:
		return formatResendDone(m.ResendDone), true
	case m.Resent():
		return "resent " + in.formatReport(&m.Report), true
	case m.Type == wire.MessageExecutionReport:
		return in.formatReport(&m.Report), true
	}
	return "", false
}

// formatReport renders one execution report on one line, e.g.
//
//	fill       BTC-USD buy 0.0002 @ 60000.00  order 7 client 11  trade 458752  leaves 0.0003  seq 9
func (in instruments) formatReport(r *proto.Report) string {
	var b strings.Builder
	sym := in.get(r.Instrument).Symbol
	if r.Instrument == 0 {
		sym = "-"
	}
	side := strings.ToLower(r.Side.String())
	kind := strings.ToLower(r.Kind.String())
	fmt.Fprintf(&b, "%-10s %s", kind, sym)
	if r.Side != wire.SideNone { // a rejected cancel or mass cancel has none
		fmt.Fprintf(&b, " %s %s", side, in.qty(r.Instrument, r.Quantity))
		if r.Price != 0 {
			fmt.Fprintf(&b, " @ %s", in.price(r.Instrument, r.Price))
		} else if r.Kind != wire.ExecKindRejected {
			b.WriteString(" @ market")
		}
	}
	if r.OrderID != 0 && r.Kind != wire.ExecKindStatusDone { // a StatusDone's is the next page's cursor
		fmt.Fprintf(&b, "  order %d", r.OrderID)
	}
	if r.ClientOrderID != 0 {
		fmt.Fprintf(&b, " client %d", r.ClientOrderID)
	}
	switch r.Kind {
	case wire.ExecKindFill:
		fmt.Fprintf(&b, "  trade %d  leaves %s", r.TradeID, in.qty(r.Instrument, r.Leaves))
	case wire.ExecKindAccepted, wire.ExecKindReplaced:
		fmt.Fprintf(&b, "  leaves %s", in.qty(r.Instrument, r.Leaves))
	case wire.ExecKindStatus:
		fmt.Fprintf(&b, "  traded %s  leaves %s", in.qty(r.Instrument, r.Quantity-r.Leaves), in.qty(r.Instrument, r.Leaves))
	case wire.ExecKindStatusDone:
		fmt.Fprintf(&b, "  %d live order(s)", r.Quantity)
		if r.Reason == engine.StatusMore {
			b.WriteString(", more may follow")
		}
	case wire.ExecKindMassCancelDone:
		fmt.Fprintf(&b, "  %d order(s) cancelled", r.Quantity)
	case wire.ExecKindCancelled:
		fmt.Fprintf(&b, "  cancelled %s  reason %s", in.qty(r.Instrument, r.Leaves), engine.CancelReason(r.Reason))
	case wire.ExecKindRejected:
		fmt.Fprintf(&b, "  reason %s (%d)", engine.RejectReason(r.Reason), r.Reason)
	}
	fmt.Fprintf(&b, "  seq %d", r.InputSeq)
	return b.String()
}

// parseSide, parseType and parseTIF read the flag spellings.
func parseSide(s string) (wire.Side, error) {
	switch strings.ToLower(s) {
	case "buy", "b":
		return wire.SideBuy, nil
	case "sell", "s":
		return wire.SideSell, nil
	}
	return 0, fmt.Errorf("side %q: want buy or sell", s)
}

func parseType(s string) (wire.OrderType, error) {
	switch strings.ToLower(s) {
	case "limit":
		return wire.OrderTypeLimit, nil
	case "market":
		return wire.OrderTypeMarket, nil
	}
	return 0, fmt.Errorf("type %q: want limit or market", s)
}

func parseTIF(s string) (wire.TimeInForce, error) {
	switch strings.ToLower(s) {
	case "gtc":
		return wire.TimeInForceGTC, nil
	case "ioc":
		return wire.TimeInForceIOC, nil
	case "fok":
		return wire.TimeInForceFOK, nil
	}
	return 0, fmt.Errorf("tif %q: want gtc, ioc or fok", s)
}
