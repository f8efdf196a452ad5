package node

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/ringex/ringex/proto"
)

// A market-data connection's frame reader holds a read buffer of one
// frame at the port's limit (mdFrameLimit, 1024 bytes by default) and its
// prefix: it held the 64 KiB an order-entry session reads through, 64 MiB
// at 1024 idle subscribers. Here 64 readers are made and the bytes they
// allocated counted; the bound leaves room for the reader and bufio's
// structs, far below 64 KiB each.
func TestMDFrameReaderHoldsOneFrame(t *testing.T) {
	const readers, limit = 64, 1024
	kept := make([]*proto.FrameReader, 0, readers)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range readers {
		kept = append(kept, newMDFrameReader(bytes.NewReader(nil), limit))
	}
	runtime.ReadMemStats(&after)
	if each := (after.TotalAlloc - before.TotalAlloc) / readers; each > 2*(proto.PrefixSize+limit) {
		t.Fatalf("a market-data frame reader allocated %d bytes, want at most %d: a read buffer of one %d-byte frame and its prefix", each, 2*(proto.PrefixSize+limit), limit)
	}
	// Frames up to the limit still read through it, several in one read.
	stream := proto.AppendFrame(proto.AppendFrame(nil, bytes.Repeat([]byte{1}, limit)), []byte{2})
	fr := newMDFrameReader(bytes.NewReader(stream), limit)
	for _, n := range []int{limit, 1} {
		if f, err := fr.Next(); err != nil || len(f) != n {
			t.Fatalf("frame of %d bytes: %d bytes, %v", n, len(f), err)
		}
	}
	runtime.KeepAlive(kept)
}

// BenchmarkMDFrameReader: the bytes 1024 market-data connections' frame
// readers allocate, against the order-entry reader's 64 KiB buffer each
// (what every market-data connection held before newMDFrameReader).
func BenchmarkMDFrameReader(b *testing.B) {
	for _, tc := range []struct {
		name string
		make func() *proto.FrameReader
	}{
		{"order-entry-64KiB", func() *proto.FrameReader { return proto.NewFrameReader(bytes.NewReader(nil), 1024) }},
		{"market-data", func() *proto.FrameReader { return newMDFrameReader(bytes.NewReader(nil), 1024) }},
	} {
		b.Run(tc.name+"/1024-conns", func(b *testing.B) {
			b.ReportAllocs()
			kept := make([]*proto.FrameReader, 1024)
			for b.Loop() {
				for i := range kept {
					kept[i] = tc.make()
				}
			}
			runtime.KeepAlive(kept)
		})
	}
}
