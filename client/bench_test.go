package client

import (
	"bytes"
	"testing"

	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// BenchmarkNext: one execution report read per op, from a stream in
// memory — the client's side of every order (the load generator's
// readers use NextInto).
func BenchmarkNext(b *testing.B) {
	const frames = 4096
	var stream []byte
	for i := range frames {
		r := proto.Report{Kind: wire.ExecKindAccepted, Side: wire.SideBuy, Instrument: 1, Account: 2, OrderID: uint64(i + 1),
			ClientOrderID: uint64(i + 1), Price: 6_000_000, Quantity: 1, Leaves: 1, InputSeq: int64(i + 1), Timestamp: 1}
		stream = append(stream, enc().ExecutionReport(0, &r)...) // a whole frame, prefix included
	}
	run := func(b *testing.B, next func(c *Client, m *Message) error) {
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
			ids += m.Report.OrderID
		}
		if ids == 0 {
			b.Fatal("no reports read")
		}
	}
	b.Run("Next", func(b *testing.B) {
		run(b, func(c *Client, m *Message) (err error) {
			*m, err = c.Next()
			return err
		})
	})
	b.Run("NextInto", func(b *testing.B) { run(b, (*Client).NextInto) })
}
