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

// BenchmarkMembershipDecodes: Open's check of a log of 100,000 entries of
// 512 bytes, one a membership entry, for membership entries that do not
// decode (membershipDecodes) — against raft's own scan at NewRaft, which
// reads every entry whole (GetLog), measured in the same run. The log is
// in the page cache: a cold start adds the disk's reads to raft's scan.
// A scan reading each entry's type alone (entryType) took 150–300 ms
// here, as long as raft's (150–420 ms, 2 cores shared, 2026-12-07); the
// check, reading only the membership entries OpenLogStore found, takes
// 11–31 µs against raft's 130–170 ms in one run.
func BenchmarkMembershipDecodes(b *testing.B) {
	const entries = 100_000
	s := longLogAtStart(b, entries)
	b.Run("membershipDecodes", func(b *testing.B) {
		for b.Loop() {
			if err := membershipDecodes(s, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raft's scan (GetLog each)", func(b *testing.B) {
		var l raft.Log
		for b.Loop() {
			for i := uint64(1); i <= entries; i++ {
				if err := s.GetLog(i, &l); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkMembershipBefore: a start's look for the membership raft held
// before the raft snapshot it starts from (membershipBefore), the
// snapshot at the last of a log of 100,000 entries of 512 bytes whose
// only membership entry is its first — a member killed under a leader's
// install, its log since its newest snapshot of its own kept whole. In
// the page cache, 2 cores shared (2026-12-07): reading each entry's type
// back from the snapshot (entryType) took 84–99 ms; reading only the
// membership entries OpenLogStore found, 4.6–6.3 µs.
func BenchmarkMembershipBefore(b *testing.B) {
	const entries = 100_000
	s := longLogAtStart(b, entries)
	metas := []*raft.SnapshotMeta{{Index: entries}}
	for b.Loop() {
		if servers, err := membershipBefore(s, metas); err != nil || len(servers) != 1 {
			b.Fatalf("membership before: %v (%v), want the first entry's", servers, err)
		}
	}
}

// longLogAtStart is a log store of entries entries of 512 bytes, the
// first a membership entry of one member, the others batches — closed
// and opened again, as at a start, so OpenLogStore found the membership
// entry (membershipAtOpen). Closed when b ends.
func longLogAtStart(b *testing.B, entries uint64) *LogStore {
	dir := b.TempDir()
	s, err := OpenLogStore(dir)
	if err != nil {
		b.Fatal(err)
	}
	membership := raft.EncodeConfiguration(raft.Configuration{Servers: []raft.Server{{ID: "1", Address: "127.0.0.1:1"}}})
	data := make([]byte, 512)
	logs := make([]*raft.Log, 0, raftBatchEntries)
	for i := uint64(1); i <= entries; i++ {
		l := &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: data}
		if i == 1 {
			l.Type, l.Data = raft.LogConfiguration, membership
		}
		if logs = append(logs, l); len(logs) == cap(logs) || i == entries {
			if err := s.StoreLogs(logs); err != nil {
				b.Fatal(err)
			}
			logs = logs[:0]
		}
	}
	s.Close()
	if s, err = OpenLogStore(dir); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if at := s.membershipAtOpen(); len(at) != 1 {
		b.Fatalf("membership entries at open: %v, want [1]", at)
	}
	return s
}
