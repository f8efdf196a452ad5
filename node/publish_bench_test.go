package node

import (
	"fmt"
	"testing"
	"time"

	"github.com/ringex/ringex/disruptor"
	"github.com/ringex/ringex/input"
)

// BenchmarkPublish: the publish path — claim, copy, publish — into an
// input ring that a consumer drains, so that the claim finds room (the
// common case): its cost, and its allocations (none). control is
// Publish (the gateway's own inputs, the admin's), batch=K the
// gateway's PublishBatch of K frames, its claim's wait bounded.
//
//	go test -run '^$' -bench 'Publish' -count=3 ./node
func BenchmarkPublish(b *testing.B) {
	frame := make([]byte, 64)
	for _, k := range []int{0, 1, 16} {
		name := fmt.Sprintf("batch=%d", k)
		if k == 0 {
			name = "control"
		}
		b.Run(name, func(b *testing.B) {
			in, err := newRing[input.Slot]("input", 1<<16, true, disruptor.Adaptive, func(name string, err error) { b.Error(name, err) })
			if err != nil {
				b.Fatal(err)
			}
			if _, err := in.add("drain", func(lo, hi int64) error { return nil }); err != nil {
				b.Fatal(err)
			}
			if err := in.start(); err != nil {
				b.Fatal(err)
			}
			defer in.halt()
			n := &Node{in: in}
			payloads := make([][]byte, k)
			for i := range payloads {
				payloads[i] = frame
			}
			b.ReportAllocs()
			for b.Loop() {
				if k == 0 {
					if err := n.Publish(input.KindClient, 1, 1, 0, frame); err != nil {
						b.Fatal(err)
					}
				} else if _, err := n.PublishBatch(input.KindClient, 1, 1, 0, payloads, time.Second); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
