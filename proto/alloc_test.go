package proto

import (
	"testing"

	"github.com/ringex/ringex/engine"
)

// sampleTrade is a trade event both sides of which get a report.
var sampleTrade = engine.Event{Type: engine.EvTrade, Seq: 9, Account: 1, MakerAccount: 2, Instrument: 3, Side: engine.Buy,
	OrderID: 4, MakerOrderID: 5, TradeID: 6, Price: 100, Quantity: 7, Leaves: 1, MakerLeaves: 2}

// The hot encoders reuse the builder: nothing allocates once it has grown.
func TestHotEncodersAllocateNothing(t *testing.T) {
	e := NewEncoder()
	trade := &sampleTrade
	cases := []struct {
		name string
		f    func()
	}{
		{"NewOrder", func() { e.NewOrder(1, sampleNewOrder) }},
		{"Cancel", func() { e.Cancel(1, Cancel{OrderID: 1}) }},
		{"Replace", func() { e.Replace(1, sampleReplace) }},
		{"ExecutionReport", func() { e.ExecutionReport(1, &sampleReport) }},
		{"LevelUpdate", func() {
			e.LevelUpdate(1, LevelUpdate{Instrument: 2, MDSeq: 3, Side: 1, Price: 4, Quantity: 5, Count: 6})
		}},
		{"Trade", func() { e.Trade(1, Trade{Instrument: 2, MDSeq: 3, TradeID: 4, Price: 5, Quantity: 6, Aggressor: 1}) }},
		{"Report(taker)", func() { e.Report(trade, false) }},
		{"Report(maker)", func() { e.Report(trade, true) }},
		{"Heartbeat", func() { e.Heartbeat(1) }},
	}
	for _, c := range cases {
		c.f() // grow the builder
		if n := testing.AllocsPerRun(200, c.f); n != 0 {
			t.Errorf("%s: %v allocs per frame", c.name, n)
		}
	}
}

// Verify allocates nothing, also when it rejects (the unmarshaler runs it
// on every slot, the gateway on every frame).
func TestVerifyAllocatesNothing(t *testing.T) {
	frames := sampleFrames()
	var m Msg
	for typ, f := range frames {
		p := f[PrefixSize:]
		if n := testing.AllocsPerRun(100, func() { VerifyMsg(p, &m) }); n != 0 {
			t.Errorf("type %d: %v allocs", typ, n)
		}
	}
	bad := [][]byte{nil, {1, 2, 3, 4, 5, 6, 7, 8}, make([]byte, 64)}
	for _, b := range bad {
		if n := testing.AllocsPerRun(100, func() { VerifyMsg(b, &m) }); n != 0 {
			t.Errorf("rejecting %x: %v allocs", b, n)
		}
	}
}

// loopReader serves the same stream forever without allocating.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

// A FrameReader reuses its buffer: no allocation per frame once it has
// seen the largest frame.
func TestFrameReaderAllocatesNothing(t *testing.T) {
	var stream []byte
	for _, f := range sampleFrames() {
		stream = append(stream, f...)
	}
	r := NewFrameReader(&loopReader{data: stream}, 1024)
	for range 100 { // grow to the largest frame
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocs per frame", n)
	}
}
