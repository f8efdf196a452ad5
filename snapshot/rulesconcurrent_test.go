package snapshot

import (
	"sync/atomic"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// listHold is an FS whose List, once armed, makes its listing and then
// waits until released: the call that listed is held between its
// listing and its end.
type listHold struct {
	vfs.FS
	armed           atomic.Bool
	listed, release chan struct{}
}

func (h *listHold) List(dir string) ([]string, error) {
	names, err := h.FS.List(dir)
	if h.armed.CompareAndSwap(true, false) {
		close(h.listed)
		<-h.release
	}
	return names, err
}

// A RulesBetween that listed the directory before a snapshot was written
// does not forget that snapshot's header, which a call made meanwhile
// verified whole: the next call reads its header alone. Before, the first
// call's clean-up forgot every header of a snapshot its listing lacked —
// deleted, or written since — and the next call read the file whole
// again. (The resend worker and a raft snapshot's check run RulesBetween
// at once; a forgotten header costs one more whole read, the answer the
// same: a damaged file fails either way.)
func TestRulesBetweenKeepsAHeaderVerifiedAfterItsListing(t *testing.T) {
	counter := vfs.NewReadCounter(vfs.NewCrashFS())
	hold := &listHold{FS: counter, listed: make(chan struct{}), release: make(chan struct{})}
	s, err := OpenStore("/snaps", hold)
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 1<<20)
	write := func(seq int64) {
		t.Helper()
		if _, err := s.Write(Snapshot{Seq: seq, Rules: 0xA, Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	write(0)
	write(10)
	hold.armed.Store(true)
	early := make(chan error, 1)
	go func() { _, err := s.RulesBetween(0, 40); early <- err }()
	<-hold.listed // it listed 0 and 10
	write(30)
	if got, err := s.RulesBetween(0, 40); err != nil || len(got) != 2 {
		t.Fatalf("the call after the write: %v %v, want the records at 10 and 30", got, err)
	}
	close(hold.release)
	if err := <-early; err != nil {
		t.Fatal(err)
	}
	counter.Reset()
	if got, err := s.RulesBetween(0, 40); err != nil || len(got) != 2 {
		t.Fatalf("the last call: %v %v, want the records at 10 and 30", got, err)
	}
	if n := counter.Read(fileName(30)); n >= int64(len(payload)) {
		t.Errorf("the last call read %d bytes of %s, verified whole by the call after its write: want its header alone "+
			"(the call that had listed before the write forgot it)", n, fileName(30))
	}
}
