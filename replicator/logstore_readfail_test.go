package replicator

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
)

// An entry that reads back damaged (the disk changed it after Open
// checked it) is damage to what the member acknowledged: the store fails
// stop, as it does on a write error, rather than leave raft to retry
// (the leader's replication to a follower that needs the entry stops for
// good, while the leader goes on leading) — ARCHITECTURE rule 8.
func TestLogStoreReadOfDamagedEntryFailsTheStore(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenLogStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var failed error
	s.OnFail = func(err error) { failed = err }
	storeRange(t, s, 1, 10)
	names, _ := filepath.Glob(filepath.Join(dir, "*.rlog"))
	f, err := os.OpenFile(names[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	off := s.segs[0].offs[4] + logRecHeader + logBodyFixed // entry 5's data
	if _, err := f.WriteAt([]byte{0xff}, off); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var l raft.Log
	if err := s.GetLog(5, &l); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("GetLog of a damaged entry: %v, want ErrCorrupt", err)
	}
	if failed == nil {
		t.Fatal("a damaged entry read back: OnFail not told (the member goes on; raft only logs \"failed to get log\")")
	}
	if _, err := s.LastIndex(); err == nil {
		t.Fatal("the store goes on after reading a damaged entry")
	}
}
