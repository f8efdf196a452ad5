package replicator

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
)

// BenchmarkFSMReadsGetLog: what fsmReads adds to a steady leader's reads
// of its log (its replication goroutines' AppendEntries), against raft's
// cache read alone, in the same run. "within" reads an entry up to the
// limit fsmReads keeps (an atomic load and compare); "past-limit" is the
// first read of an entry appended since the limit was last raised — a
// steady leader's every new entry — which asks raft's state and the log
// store how far the budget reaches (LogStore.Within).
func BenchmarkFSMReadsGetLog(b *testing.B) {
	addr := testkit.ReserveAddrs(b, 1)[0]
	r, err := Open(Config{NodeID: 1, Listen: addr, Peers: []Peer{{ID: 1, Raft: addr, Gateway: "gw-1"}}, Dir: b.TempDir(),
		Bootstrap: true, Incarnation: 1, Logger: zerolog.Nop(), HeartbeatTimeout: testHeartbeatTimeout,
		Deliver: func(*Batch) error { return nil }, OnFatal: func(error) {}})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for deadline := time.Now().Add(10 * time.Second); !r.Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("the member did not lead")
		}
	}
	const entries = 64
	for s := int64(1); s <= entries; s++ {
		e := batch(s, 1)
		copy(e[4:8], []byte{1, 0, 0, 0})
		copy(e[8:16], []byte{1, 0, 0, 0, 0, 0, 0, 0})
		if err := r.Propose(e); err != nil {
			b.Fatal(err)
		}
	}
	last := r.raft.LastIndex()
	var l raft.Log
	b.Run("cache", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := r.cache.GetLog(last, &l); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("within", func(b *testing.B) {
		r.reads.within(last)
		b.ReportAllocs()
		for b.Loop() {
			if err := r.reads.GetLog(last, &l); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("past-limit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.reads.limit.Store(0)
			if err := r.reads.GetLog(last, &l); err != nil {
				b.Fatal(err)
			}
		}
	})
}
