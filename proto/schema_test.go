package proto

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/proto/wire"
)

// The verifier's layouts are a hand copy of ringex.fbs: parse the schema
// and compare, so a field added to the schema cannot go unverified.
func TestLayoutsMatchSchema(t *testing.T) {
	src, err := os.ReadFile("ringex.fbs")
	if err != nil {
		t.Fatal(err)
	}
	schema := regexp.MustCompile(`(?m)//.*$`).ReplaceAllString(string(src), "")
	enums := map[string]bool{"bool": true, "ubyte": true}
	for _, m := range regexp.MustCompile(`enum (\w+)\s*:\s*ubyte`).FindAllStringSubmatch(schema, -1) {
		enums[m[1]] = true
	}
	tables := map[string][]field{}
	fieldRE := regexp.MustCompile(`(\w+)\s*:\s*([\w\[\]]+)\s*;`)
	for _, m := range regexp.MustCompile(`table (\w+)\s*\{([^}]*)\}`).FindAllStringSubmatch(schema, -1) {
		var l []field
		for _, f := range fieldRE.FindAllStringSubmatch(m[2], -1) {
			switch typ := f[2]; {
			case enums[typ]:
				l = append(l, u8)
			case typ == "uint":
				l = append(l, u32)
			case typ == "ulong" || typ == "long":
				l = append(l, u64)
			case typ == "string":
				l = append(l, str)
			case typ == "[Level]":
				l = append(l, levelVec)
			case typ == "Message":
				l = append(l, u8, union) // a union takes a type slot and a value slot
			default:
				t.Fatalf("table %s field %s: type %s unknown to this test", m[1], f[1], typ)
			}
		}
		tables[m[1]] = l
	}
	if got := tables["Envelope"]; !reflect.DeepEqual(got, envelopeLayout) {
		t.Fatalf("Envelope: schema %v, verifier %v", got, envelopeLayout)
	}
	if len(tables) != len(layouts) { // the members plus Envelope
		t.Fatalf("%d tables in the schema, %d union members", len(tables), len(layouts)-1)
	}
	for typ := wire.Message(1); int(typ) < len(layouts); typ++ {
		name := wire.EnumNamesMessage[typ]
		got, ok := tables[name]
		if !ok {
			t.Fatalf("union member %s has no table", name)
		}
		if len(got) > maxFields {
			t.Fatalf("%s has %d fields, maxFields is %d", name, len(got), maxFields)
		}
		if want := layouts[typ]; !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("%s: schema %v, verifier %v", name, got, want)
		}
	}
	if s := regexp.MustCompile(`struct Level \{([^}]*)\}`).FindStringSubmatch(schema); s == nil ||
		strings.Join(strings.Fields(s[1]), " ") != "price: long; quantity: long; count: uint;" {
		t.Fatalf("struct Level changed; update levelSize: %q", s)
	}
}

// Wire enum codes are the engine's, so decoding and encoding are plain
// conversions. The numbers themselves are part of the protocol.
func TestEnumCodesMatchEngine(t *testing.T) {
	pairs := []struct {
		name         string
		wire, engine int
	}{
		{"Side.None", int(wire.SideNone), int(engine.SideNone)},
		{"Side.Buy", int(wire.SideBuy), int(engine.Buy)},
		{"Side.Sell", int(wire.SideSell), int(engine.Sell)},
		{"OrderType.None", int(wire.OrderTypeNone), int(engine.OrderTypeNone)},
		{"OrderType.Limit", int(wire.OrderTypeLimit), int(engine.Limit)},
		{"OrderType.Market", int(wire.OrderTypeMarket), int(engine.Market)},
		{"TimeInForce.None", int(wire.TimeInForceNone), int(engine.TIFNone)},
		{"TimeInForce.GTC", int(wire.TimeInForceGTC), int(engine.GTC)},
		{"TimeInForce.IOC", int(wire.TimeInForceIOC), int(engine.IOC)},
		{"TimeInForce.FOK", int(wire.TimeInForceFOK), int(engine.FOK)},
		{"SelfTrade.Default", int(wire.SelfTradeDefault), int(engine.STPDefault)},
		{"SelfTrade.CancelIncoming", int(wire.SelfTradeCancelIncoming), int(engine.STPCancelIncoming)},
		{"SelfTrade.CancelResting", int(wire.SelfTradeCancelResting), int(engine.STPCancelResting)},
		{"SelfTrade.CancelBoth", int(wire.SelfTradeCancelBoth), int(engine.STPCancelBoth)},
		{"SelfTrade.Allow", int(wire.SelfTradeAllow), int(engine.STPAllow)},
		{"ExecKind.Accepted", int(wire.ExecKindAccepted), int(engine.EvAccepted)},
		{"ExecKind.Rejected", int(wire.ExecKindRejected), int(engine.EvRejected)},
		{"ExecKind.Fill", int(wire.ExecKindFill), int(engine.EvTrade)},
		{"ExecKind.Cancelled", int(wire.ExecKindCancelled), int(engine.EvCancelled)},
		{"ExecKind.Replaced", int(wire.ExecKindReplaced), int(engine.EvReplaced)},
	}
	for _, p := range pairs {
		if p.wire != p.engine {
			t.Errorf("%s: wire %d, engine %d", p.name, p.wire, p.engine)
		}
	}
	// Every wire enum value is covered above (None..max).
	counts := map[string]int{"Side": len(wire.EnumNamesSide), "OrderType": len(wire.EnumNamesOrderType),
		"TimeInForce": len(wire.EnumNamesTimeInForce), "SelfTrade": len(wire.EnumNamesSelfTrade)}
	for enum, n := range counts {
		covered := 0
		for _, p := range pairs {
			if strings.HasPrefix(p.name, enum+".") {
				covered++
			}
		}
		if covered != n {
			t.Errorf("%s has %d values, %d compared with the engine", enum, n, covered)
		}
	}
}
