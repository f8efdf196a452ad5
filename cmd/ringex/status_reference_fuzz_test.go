package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ringex/ringex/config"
)

// FuzzInstrumentsAnswer: whatever two members answer to GET
// /instruments, ringex status's reading of them never panics: an answer
// is refused naming GET /instruments, or read as instruments by their
// own id that, encoded as the node encodes them, read back the same; and
// comparing two lists (referenceDiff) says nothing exactly when they
// serve every id under the same symbol and decimals, either way round,
// else names the first id that differs, on one line of bounded length.
func FuzzInstrumentsAnswer(f *testing.F) {
	node := func(t testing.TB, list []config.Instrument) []byte {
		var b bytes.Buffer
		if err := json.NewEncoder(&b).Encode(map[string]any{"instruments": list}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	demo := config.Default().Instruments
	renamed := slices.Clone(demo)
	renamed[0].Symbol, renamed[0].QtyDecimals = "XBT-USD", 8
	f.Add(node(f, demo), node(f, demo))
	f.Add(node(f, demo), node(f, renamed))
	f.Add(node(f, demo[:1]), node(f, demo))
	f.Add(node(f, nil), []byte(`{}`))
	f.Add([]byte(`{"instruments":[{"id":1,"symbol":"A"},{"id":1,"symbol":"B"}]}`), []byte(`{"Instruments":[{"ID":1,"Symbol":"A","price_decimals":-1}]}`))
	const addr, firstAt = "10.0.0.2:7480", "10.0.0.1:7480"
	f.Fuzz(func(t *testing.T, a, b []byte) {
		mine, err := instrumentsAnswer(a)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "GET /instruments: ") {
				t.Fatalf("refused with %v", err)
			}
			return
		}
		theirs, err := instrumentsAnswer(b)
		if err != nil {
			return
		}
		for _, list := range []map[uint32]config.Instrument{mine, theirs} {
			ids := slices.Sorted(maps.Keys(list))
			var in []config.Instrument
			for _, id := range ids {
				if list[id].ID != id {
					t.Fatalf("instrument %+v kept under id %d", list[id], id)
				}
				in = append(in, list[id])
			}
			again, err := instrumentsAnswer(node(t, in))
			if err != nil || !reflect.DeepEqual(again, list) {
				t.Fatalf("%+v, encoded as the node does, read back as %+v (%v)", list, again, err)
			}
		}
		// The first id, in order, that one lists and the other does not,
		// or that the two serve under another symbol or other decimals.
		first, found := uint32(0), false
		both := maps.Clone(mine) // for its ids
		maps.Copy(both, theirs)
		for _, id := range slices.Sorted(maps.Keys(both)) {
			x, xok := mine[id]
			y, yok := theirs[id]
			if xok != yok || x.Symbol != y.Symbol || x.PriceDecimals != y.PriceDecimals || x.QtyDecimals != y.QtyDecimals {
				first, found = id, true
				break
			}
		}
		diff, back := referenceDiff(addr, firstAt, mine, theirs), referenceDiff(firstAt, addr, theirs, mine)
		if (diff != "") != found || (back != "") != found {
			t.Fatalf("%+v and %+v: %q one way, %q the other; want them to differ at instrument %d: %v", mine, theirs, diff, back, first, found)
		}
		if !found {
			return
		}
		x, y := mine[first], theirs[first]
		if want := fmt.Sprintf("%s serves other reference data than %s: instrument %d is ", addr, firstAt, first); !strings.HasPrefix(diff, want) {
			t.Fatalf("%q, want it naming instrument %d first", diff, first)
		}
		if strings.ContainsAny(diff, "\n\r") || len(diff) > 300+4*(len(x.Symbol)+len(y.Symbol)) {
			t.Fatalf("%q: not one line of bounded length", diff)
		}
	})
}
