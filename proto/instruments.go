package proto

import (
	"cmp"
	"slices"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ringex/ringex/proto/wire"
)

// InstrumentInfo is one instrument as the node's config lists it, the
// reference data a ListInstruments is answered with (README.md, "Reference
// data"). PriceBand and ReferencePrice are in price units.
type InstrumentInfo struct {
	ID             uint32
	Symbol         string
	TickSize       int64
	LotSize        int64
	PriceDecimals  uint8
	QtyDecimals    uint8
	PriceBand      int64
	ReferencePrice int64
}

// ListInstruments encodes the request for the node's instruments.
func (e *Encoder) ListInstruments(seq uint64) []byte {
	return e.Empty(seq, wire.MessageListInstruments)
}

// InstrumentInfo encodes one instrument of the answer to a
// ListInstruments.
func (e *Encoder) InstrumentInfo(seq uint64, in *InstrumentInfo) []byte {
	b := e.b
	b.Reset()
	s := b.CreateString(in.Symbol)
	wire.InstrumentInfoStart(b)
	wire.InstrumentInfoAddTickSize(b, in.TickSize)
	wire.InstrumentInfoAddLotSize(b, in.LotSize)
	wire.InstrumentInfoAddPriceBand(b, in.PriceBand)
	wire.InstrumentInfoAddReferencePrice(b, in.ReferencePrice)
	wire.InstrumentInfoAddId(b, in.ID)
	wire.InstrumentInfoAddSymbol(b, s)
	wire.InstrumentInfoAddPriceDecimals(b, in.PriceDecimals)
	wire.InstrumentInfoAddQtyDecimals(b, in.QtyDecimals)
	return e.finish(seq, wire.MessageInstrumentInfo, wire.InstrumentInfoEnd(b))
}

// InstrumentsDone encodes the end of the answer to a ListInstruments:
// count InstrumentInfo frames came before it.
func (e *Encoder) InstrumentsDone(seq uint64, count uint32) []byte {
	b := e.b
	b.Reset()
	wire.InstrumentsDoneStart(b)
	wire.InstrumentsDoneAddCount(b, count)
	return e.finish(seq, wire.MessageInstrumentsDone, wire.InstrumentsDoneEnd(b))
}

// InstrumentList is the whole answer to a ListInstruments, as the node
// sends it: an InstrumentInfo frame per instrument, in increasing id, then
// an InstrumentsDone naming how many — frames back to back, envelope seq 0.
// One frame per instrument keeps every frame small however many
// instruments there are (each is ~100 bytes and the symbol). The node
// builds it once: its instruments change only with its config, at a
// restart.
func InstrumentList(list []InstrumentInfo) []byte {
	sorted := slices.SortedFunc(slices.Values(list), func(a, b InstrumentInfo) int { return cmp.Compare(a.ID, b.ID) })
	e := NewEncoder()
	var out []byte
	for i := range sorted {
		out = append(out, e.InstrumentInfo(0, &sorted[i])...)
	}
	return append(out, e.InstrumentsDone(0, uint32(len(sorted)))...)
}

// InstrumentInfoAt reads an InstrumentInfo.
func InstrumentInfoAt(buf []byte, pos uint32) InstrumentInfo {
	var m wire.InstrumentInfo
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return InstrumentInfo{ID: m.Id(), Symbol: string(m.Symbol()), TickSize: m.TickSize(), LotSize: m.LotSize(),
		PriceDecimals: m.PriceDecimals(), QtyDecimals: m.QtyDecimals(), PriceBand: m.PriceBand(), ReferencePrice: m.ReferencePrice()}
}

// InstrumentsDoneAt reads an InstrumentsDone: how many instruments the
// answer listed.
func InstrumentsDoneAt(buf []byte, pos uint32) uint32 {
	var m wire.InstrumentsDone
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return m.Count()
}
