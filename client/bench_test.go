package client

import (
	"bytes"
	"testing"

	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// BenchmarkNext: one message read per op, from a stream in memory —
// execution reports (the client's side of every order; the load
// generator's readers use NextInto) and market-data level updates.
func BenchmarkNext(b *testing.B) {
	const frames = 4096
	var reports, levels []byte
	for i := range frames {
		r := proto.Report{Kind: wire.ExecKindAccepted, Side: wire.SideBuy, Instrument: 1, Account: 2, OrderID: uint64(i + 1),
			ClientOrderID: uint64(i + 1), Price: 6_000_000, Quantity: 1, Leaves: 1, InputSeq: int64(i + 1), Timestamp: 1}
		reports = append(reports, enc().ExecutionReport(0, &r)...) // a whole frame, prefix included
		u := proto.LevelUpdate{Instrument: 1, MDSeq: uint64(i + 1), Side: wire.SideBuy, Price: 6_000_000, Quantity: 3, Count: 2}
		levels = append(levels, enc().LevelUpdate(0, u)...)
	}
	run := func(b *testing.B, stream []byte, next func(c *Client, m *Message) error) {
		src := bytes.NewReader(stream)
		c := &Client{fr: proto.NewFrameReader(src, 1<<12)}
		var m Message
		var ids uint64
		for i := 0; b.Loop(); i++ {
			if i%frames == 0 {
				src.Reset(stream)
			}
			if err := next(c, &m); err != nil {
				b.Fatal(err)
			}
			ids += m.Report.OrderID + m.Level.MDSeq
		}
		if ids == 0 {
			b.Fatal("nothing read")
		}
	}
	next := func(c *Client, m *Message) (err error) {
		*m, err = c.Next()
		return err
	}
	b.Run("Next", func(b *testing.B) { run(b, reports, next) })
	b.Run("NextInto", func(b *testing.B) { run(b, reports, (*Client).NextInto) })
	b.Run("NextInto/level", func(b *testing.B) { run(b, levels, (*Client).NextInto) })
}
