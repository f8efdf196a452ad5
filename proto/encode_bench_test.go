package proto

import (
	"testing"

	"github.com/ringex/ringex/engine"
)

// BenchmarkEncode: one frame per op, with the reused builder (the
// execution sender encodes every report this way).
func BenchmarkEncode(b *testing.B) {
	e := NewEncoder()
	trade := &sampleTrade
	accepted := &engine.Event{Type: engine.EvAccepted, Seq: 9, Account: 1, Instrument: 3, Side: engine.Buy,
		OrderID: 4, Price: 100, Quantity: 7, Leaves: 7}
	b.Run("ExecutionReport", func(b *testing.B) {
		for b.Loop() {
			e.ExecutionReport(1, &sampleReport)
		}
	})
	b.Run("Report(accepted)", func(b *testing.B) {
		for b.Loop() {
			e.Report(accepted, false)
		}
	})
	b.Run("Report(trade)", func(b *testing.B) {
		for b.Loop() {
			e.Report(trade, false)
		}
	})
	b.Run("NewOrder", func(b *testing.B) {
		for b.Loop() {
			e.NewOrder(1, sampleNewOrder)
		}
	})
}
