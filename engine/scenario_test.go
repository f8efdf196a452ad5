package engine

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// recorder is a Sink that keeps every event.
type recorder struct{ events []Event }

func (r *recorder) Emit(ev *Event) { r.events = append(r.events, *ev) }

// TestScenarios runs the datadriven scripts in testdata/scenarios. Commands:
//
//	init                         config in the input: "instrument id= tick= lot= band= ref=" / "account id= max-qty= max-notional= max-open="
//	place [seq=] account= side= [type=limit|market] [tif=gtc|ioc|fok] [price=] qty= [clord=] [post] [stp=incoming|resting|both|allow] [instrument=]
//	cancel account= (order=|clord=) [instrument=]
//	replace account= (order=|clord=) price= qty= [new-clord=]
//	mass-cancel account= [instrument=]
//	status account= [order=|clord=] [instrument=]
//	resend account= after= tag=
//	halt instrument= [cancel-orders]
//	resume instrument=
//	suspend-account|resume-account account=
//	invalid account= reason=<code>
//	raw type=<n> account=          a command with an arbitrary type
//	marketdata on|off
//	print-book [instrument=]
//	print-events                  every event since the start, numbered
//	hash                          snapshot, restore, compare hashes and books
//
// Every command is given the next input sequence (1, 2, …) and a timestamp
// of seq×1000; it prints its events and checks the book invariants.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/scenarios", func(t *testing.T, path string) {
		var (
			cfg Config
			e   *Engine
			rec recorder
			seq int64
		)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd == "init" {
				cfg = parseConfig(t, d.Input)
				rec = recorder{}
				var err error
				if e, err = NewEngine(cfg, &rec); err != nil {
					return err.Error()
				}
				seq = 0
				return "ok"
			}
			if e == nil {
				t.Fatalf("%s: init first", d.Pos)
			}
			before := len(rec.events)
			switch d.Cmd {
			case "print-book":
				return printBook(e, uint32(argInt(d, "instrument", 1)))
			case "print-events":
				var b strings.Builder
				for i := range rec.events {
					fmt.Fprintf(&b, "%d: %s\n", i+1, formatEvent(&rec.events[i]))
				}
				return b.String()
			case "marketdata":
				e.SetMarketData(len(d.CmdArgs) > 0 && d.CmdArgs[0].Key == "on")
				return formatEvents(rec.events[before:])
			case "hash":
				return checkSnapshotRoundTrip(t, cfg, e)
			}
			seq++
			cmd := Command{Seq: argInt(d, "seq", seq), Timestamp: seq * 1000, Session: uint64(argInt(d, "session", 7)),
				Account: uint32(argInt(d, "account", 0)), Instrument: uint32(argInt(d, "instrument", 1))}
			switch d.Cmd {
			case "place":
				cmd.Type = CmdNewOrder
				cmd.Side = parseSide(argStr(d, "side", ""))
				cmd.OrderType = map[string]OrderType{"limit": Limit, "market": Market, "bad": 9}[argStr(d, "type", "limit")]
				cmd.TIF = map[string]TimeInForce{"gtc": GTC, "ioc": IOC, "fok": FOK, "bad": 9}[argStr(d, "tif", "gtc")]
				cmd.Price = argInt(d, "price", 0)
				cmd.Quantity = argInt(d, "qty", 0)
				cmd.ClientOrderID = uint64(argInt(d, "clord", 0))
				cmd.PostOnly = d.HasArg("post")
				cmd.STP = map[string]STP{"": STPDefault, "incoming": STPCancelIncoming, "resting": STPCancelResting,
					"both": STPCancelBoth, "allow": STPAllow, "bad": 9}[argStr(d, "stp", "")]
			case "cancel", "replace":
				cmd.Type = CmdCancel
				if d.Cmd == "replace" {
					cmd.Type = CmdReplace
				}
				cmd.Instrument = uint32(argInt(d, "instrument", 0))
				cmd.OrderID = uint64(argInt(d, "order", 0))
				cmd.OrigClientOrderID = uint64(argInt(d, "clord", 0))
				cmd.ClientOrderID = uint64(argInt(d, "new-clord", 0))
				cmd.Price = argInt(d, "price", 0)
				cmd.Quantity = argInt(d, "qty", 0)
			case "mass-cancel":
				cmd.Type = CmdMassCancel
				cmd.Instrument = uint32(argInt(d, "instrument", 0))
			case "status":
				cmd.Type = CmdOrderStatus
				cmd.Instrument = uint32(argInt(d, "instrument", 0))
				cmd.OrderID = uint64(argInt(d, "order", 0))
				cmd.OrigClientOrderID = uint64(argInt(d, "clord", 0))
			case "resend":
				cmd.Type = CmdResend
				cmd.OrderID = uint64(argInt(d, "after", 0))
				cmd.ClientOrderID = uint64(argInt(d, "tag", 0))
			case "suspend-account":
				cmd.Type = CmdSuspendAccount
			case "resume-account":
				cmd.Type = CmdResumeAccount
			case "halt":
				cmd.Type = CmdHalt
				cmd.CancelOrders = d.HasArg("cancel-orders")
			case "resume":
				cmd.Type = CmdResume
			case "snapshot":
				cmd.Type = CmdSnapshot
			case "invalid":
				cmd.Type = CmdInvalid
				cmd.Reason = RejectReason(argInt(d, "reason", 0))
			case "raw":
				cmd.Type = CommandType(argInt(d, "type", 0))
			default:
				t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
			}
			e.Apply(&cmd)
			if err := checkInvariants(e); err != nil {
				t.Fatalf("%s: %v", d.Pos, err)
			}
			return formatEvents(rec.events[before:])
		})
	})
}

func parseConfig(t *testing.T, input string) Config {
	var cfg Config
	for _, line := range strings.Split(strings.TrimSpace(input), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		kv := map[string]int64{}
		sym := ""
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, "=")
			if k == "symbol" {
				sym = v
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("config %q: %v", line, err)
			}
			kv[k] = n
		}
		switch fields[0] {
		case "instrument":
			cfg.Instruments = append(cfg.Instruments, Instrument{ID: uint32(kv["id"]), Symbol: sym,
				TickSize: kv["tick"], LotSize: kv["lot"], PriceBand: kv["band"], ReferencePrice: kv["ref"]})
		case "account":
			cfg.Accounts = append(cfg.Accounts, Account{ID: uint32(kv["id"]), MaxOrderQty: kv["max-qty"],
				MaxNotional: kv["max-notional"], MaxOpenOrders: kv["max-open"]})
		default:
			t.Fatalf("config line %q", line)
		}
	}
	return cfg
}

func argStr(d *datadriven.TestData, key, def string) string {
	for _, a := range d.CmdArgs {
		if a.Key == key && len(a.Vals) > 0 {
			return a.Vals[0]
		}
	}
	return def
}

func argInt(d *datadriven.TestData, key string, def int64) int64 {
	s := argStr(d, key, "")
	if s == "" {
		return def
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic(fmt.Sprintf("%s: %s=%q: %v", d.Pos, key, s, err))
	}
	return n
}

func parseSide(s string) Side {
	switch s {
	case "buy":
		return Buy
	case "sell":
		return Sell
	}
	return Side(9)
}

func formatEvents(evs []Event) string {
	if len(evs) == 0 {
		return "(no events)"
	}
	var b strings.Builder
	for i := range evs {
		b.WriteString(formatEvent(&evs[i]))
		b.WriteByte('\n')
	}
	return b.String()
}

func formatEvent(ev *Event) string {
	switch ev.Type {
	case EvAccepted, EvReplaced, EvOrderStatus:
		return fmt.Sprintf("%s order=%d clord=%d acct=%d %s %d@%d leaves=%d", ev.Type, ev.OrderID, ev.ClientOrderID,
			ev.Account, ev.Side, ev.Quantity, ev.Price, ev.Leaves)
	case EvRejected:
		return fmt.Sprintf("rejected %s acct=%d order=%d clord=%d", RejectReason(ev.Reason), ev.Account, ev.OrderID, ev.ClientOrderID)
	case EvTrade:
		return fmt.Sprintf("trade id=%d:%d %d@%d taker=%d/acct%d %s leaves=%d maker=%d/acct%d leaves=%d",
			ev.TradeID>>16, ev.TradeID&0xffff, ev.Quantity, ev.Price, ev.OrderID, ev.Account, ev.Side, ev.Leaves,
			ev.MakerOrderID, ev.MakerAccount, ev.MakerLeaves)
	case EvCancelled:
		return fmt.Sprintf("cancelled order=%d clord=%d acct=%d %s leaves=%d reason=%s", ev.OrderID, ev.ClientOrderID,
			ev.Account, ev.Side, ev.Leaves, CancelReason(ev.Reason))
	case EvBookLevel:
		return fmt.Sprintf("level inst=%d %s %d qty=%d count=%d", ev.Instrument, ev.Side, ev.Price, ev.Quantity, ev.Count)
	case EvBookClear, EvHalted, EvResumed:
		return fmt.Sprintf("%s inst=%d", ev.Type, ev.Instrument)
	case EvSnapshot:
		return fmt.Sprintf("snapshot seq=%d", ev.Seq)
	case EvResend:
		return fmt.Sprintf("resend acct=%d session=%d after=%d before=%d tag=%d", ev.Account, ev.Session, ev.OrderID, ev.Seq,
			ev.ClientOrderID)
	case EvStatusDone:
		return fmt.Sprintf("status-done acct=%d order=%d clord=%d inst=%d count=%d", ev.Account, ev.OrderID,
			ev.ClientOrderID, ev.Instrument, ev.Quantity)
	case EvMassCancelDone:
		return fmt.Sprintf("mass-cancel-done acct=%d inst=%d cancelled=%d", ev.Account, ev.Instrument, ev.Quantity)
	}
	return fmt.Sprintf("%s %+v", ev.Type, *ev)
}

func printBook(e *Engine, inst uint32) string {
	var b strings.Builder
	for _, s := range []Side{Sell, Buy} {
		var lines []string
		e.Levels(inst, s, func(l LevelInfo) bool {
			var ids []string
			e.Orders(inst, s, func(o OrderInfo) bool {
				if o.Price == l.Price {
					ids = append(ids, fmt.Sprintf("%d:%d", o.ID, o.Leaves))
				}
				return true
			})
			lines = append(lines, fmt.Sprintf("%s %d qty=%d count=%d [%s]", s, l.Price, l.Quantity, l.Count, strings.Join(ids, " ")))
			return true
		})
		if s == Sell { // asks printed worst first, so the spread is in the middle
			for i := len(lines) - 1; i >= 0; i-- {
				b.WriteString(lines[i] + "\n")
			}
		} else {
			b.WriteString(strings.Join(lines, "\n"))
		}
	}
	if b.Len() == 0 {
		return "(empty)"
	}
	return strings.TrimSpace(b.String())
}

func checkSnapshotRoundTrip(t *testing.T, cfg Config, e *Engine) string {
	snap := e.AppendSnapshot(nil)
	r, err := RestoreEngine(cfg, snap, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if r.StateHash() != e.StateHash() {
		t.Fatal("restored hash differs")
	}
	for _, id := range e.Instruments() {
		if printBook(r, id) != printBook(e, id) {
			t.Fatalf("restored book %d differs", id)
		}
	}
	return fmt.Sprintf("snapshot %d bytes, restored hash equal", len(snap))
}
