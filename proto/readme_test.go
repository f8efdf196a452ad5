package proto

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/proto/wire"
)

// README.md is the protocol document for client writers; its code tables
// must say what the code does.
func TestREADMECodeTables(t *testing.T) {
	doc := readREADME(t)
	want := func(row string) {
		t.Helper()
		if !strings.Contains(doc, row) {
			t.Errorf("README.md lacks the row %q", row)
		}
	}
	for _, r := range engine.RejectReasons() {
		want(fmt.Sprintf("| %d | %s |", r, r))
	}
	for c := engine.CancelReason(1); c.String() != "unknown"; c++ {
		want(fmt.Sprintf("| %d | %s |", c, c))
	}
	for m := wire.Message(1); int(m) < len(wire.EnumNamesMessage); m++ {
		want(fmt.Sprintf("| %d | %s |", m, wire.EnumNamesMessage[m]))
	}
	for r := wire.LogonRejectReason(1); int(r) < len(wire.EnumNamesLogonRejectReason); r++ {
		want(fmt.Sprintf("| %d | %s |", r, wire.EnumNamesLogonRejectReason[r]))
	}
	for c := wire.ClosingCause(1); int(c) < len(wire.EnumNamesClosingCause); c++ {
		want(fmt.Sprintf("| %d | %s |", c, wire.EnumNamesClosingCause[c]))
	}
	for r := wire.SubscribeRejectReason(1); int(r) < len(wire.EnumNamesSubscribeRejectReason); r++ {
		want(fmt.Sprintf("| %d | %s |", r, wire.EnumNamesSubscribeRejectReason[r]))
	}
}

// The field tables spell each enum value a client sends or reads as
// "code Name" — ExecutionReport's kind, NewOrder's side, type, tif and
// stp: a client written from README.md alone encodes these numbers, so
// they must be the schema's.
func TestREADMEEnumValues(t *testing.T) {
	doc := readREADME(t)
	wantSpelled(t, doc, wire.EnumNamesExecKind, 1)
	wantSpelled(t, doc, wire.EnumNamesSide, 1)
	wantSpelled(t, doc, wire.EnumNamesOrderType, 1)
	wantSpelled(t, doc, wire.EnumNamesTimeInForce, 1)
	wantSpelled(t, doc, wire.EnumNamesSelfTrade, 0) // 0 is Default, not None
}

// wantSpelled checks that doc spells every value of names from from on
// as "code Name".
func wantSpelled[E ~uint8](t *testing.T, doc string, names map[E]string, from E) {
	t.Helper()
	for v := from; int(v) < len(names); v++ {
		if s := fmt.Sprintf("%d %s", v, names[v]); !strings.Contains(doc, s) {
			t.Errorf("README.md does not spell %q", s)
		}
	}
}

func readREADME(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
