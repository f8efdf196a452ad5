package replicator

import (
	"testing"

	"github.com/hashicorp/raft"
)

// BenchmarkLogStoreStoreLogs: one StoreLogs of 16 entries of 512 bytes
// per op (encoding, write and fsync) — what each raft append costs a
// member. The fsync dominates and varies with the disk: compare runs of
// one machine, alternating.
func BenchmarkLogStoreStoreLogs(b *testing.B) {
	b.ReportAllocs()
	benchStoreLogs(b, 16, 512, []byte("ext"))
}

// benchStoreLogs stores batch entries of size bytes of data (and ext) per
// op with one StoreLogs, into a fresh log.
func benchStoreLogs(b *testing.B, batch, size int, ext []byte) {
	s, err := OpenLogStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := make([]byte, size)
	logs := make([]*raft.Log, batch)
	for i := range logs {
		logs[i] = &raft.Log{Term: 1, Type: raft.LogCommand, Data: data, Extensions: ext}
	}
	b.SetBytes(int64(batch * size))
	next := uint64(1)
	for b.Loop() {
		for _, l := range logs {
			l.Index = next
			next++
		}
		if err := s.StoreLogs(logs); err != nil {
			b.Fatal(err)
		}
	}
}
