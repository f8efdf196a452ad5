package proto

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/ringex/ringex/proto/wire"
)

// InstrumentList is one InstrumentInfo frame per instrument, in increasing
// id whatever the config's order, then an InstrumentsDone with the count;
// every frame stays small however many instruments there are.
func TestInstrumentListFramesEachInstrument(t *testing.T) {
	var list []InstrumentInfo
	for id := uint32(3000); id > 0; id-- {
		list = append(list, InstrumentInfo{ID: id, Symbol: fmt.Sprintf("SYM-%d", id), TickSize: int64(id), LotSize: 1,
			PriceDecimals: 2, QtyDecimals: 3, PriceBand: 7 * int64(id), ReferencePrice: 100 * int64(id)})
	}
	stream := InstrumentList(list)
	if len(stream) <= 16<<10 {
		t.Fatalf("%d bytes: the list must be larger than a frame limit for this test", len(stream))
	}
	r := NewFrameReader(bytes.NewReader(stream), 256) // each frame alone is small
	var got []InstrumentInfo
	for {
		payload, err := r.Next()
		if err != nil {
			t.Fatalf("after %d instruments: %v", len(got), err)
		}
		typ, pos, err := Verify(payload)
		if err != nil || Seq(payload) != 0 {
			t.Fatalf("after %d instruments: %v seq %d", len(got), err, Seq(payload))
		}
		if typ == wire.MessageInstrumentsDone {
			if n := InstrumentsDoneAt(payload, pos); n != uint32(len(list)) {
				t.Fatalf("done counts %d, %d listed", n, len(list))
			}
			break
		}
		if typ != wire.MessageInstrumentInfo {
			t.Fatalf("%s in the list", typ)
		}
		got = append(got, InstrumentInfoAt(payload, pos))
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the done: %v", err)
	}
	if len(got) != len(list) {
		t.Fatalf("%d instruments read, %d listed", len(got), len(list))
	}
	for i, in := range got {
		if want := list[len(list)-1-i]; in != want {
			t.Fatalf("instrument %d: %+v, want %+v", i, in, want)
		}
	}
}
