package replicator

import (
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
)

// lastHolding runs while raft compacts the log: the node's Compact
// (after its own snapshot) removes a prefix while forgetDropped's
// search reads entries. An entry removed under the search read as "not
// holding", and the binary search, its first probe on a removed entry,
// went left all the way: no entry holds the input — forgetThrough
// reported done, forgetDropped logged "the raft log holds no dropped
// input now" and never looked again, while the entries after the
// compaction, holding the dropped input, stayed for a member behind.
func TestLastHoldingWhileTheLogIsCompacted(t *testing.T) {
	s, err := OpenLogStore(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var logs []*raft.Log
	for i := uint64(1); i <= 100; i++ { // entry i holds input i
		logs = append(logs, &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: batch(int64(i), 1)})
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	compacted := false
	s.probed = func(uint64) {
		if !compacted {
			compacted = true
			if err := s.DeleteRange(1, 60); err != nil { // raft's compaction, under the search
				t.Error(err)
			}
		}
	}
	index, ok := s.lastHolding(90)
	s.probed = nil
	if !ok || index != 90 {
		t.Fatalf("lastHolding(90) = %d, %v with entries 61…100 holding inputs 61…100; want 90, true", index, ok)
	}
	// forgetThrough, in the same race, takes the log for done.
	compacted = false
	s.probed = func(uint64) {
		if !compacted {
			compacted = true
			if err := s.DeleteRange(61, 70); err != nil {
				t.Error(err)
			}
		}
	}
	_, done, err := forgetThrough(s, s, 90, 0) // no snapshot: nothing may be removed
	s.probed = nil
	if err != nil {
		t.Fatal(err)
	}
	if done {
		t.Fatal("forgetThrough reported done while entries 71…90 hold the dropped input 90")
	}
}
