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
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
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
}
