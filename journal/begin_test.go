package journal

import (
	"errors"
	"io"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// BeginAt makes where an empty journal begins durable, in either sync
// mode (a cluster member's journal is not fsynced per batch): after a
// power loss right after it, the journal opens ending at first-1, a
// Reader from first starts there and finds no record, and the next
// record must be first. Without it the directory held nothing, and a
// node could not tell a journal that began there from one moved away.
func TestBeginAtSurvivesAPowerLoss(t *testing.T) {
	for _, mode := range []SyncMode{SyncBatch, SyncNone} {
		fs := vfs.NewCrashFS()
		opts := testOptions(fs)
		opts.Sync = mode
		j, _, err := Open("/j", opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := j.BeginAt(101); err != nil {
			t.Fatalf("mode %d: BeginAt: %v", mode, err)
		}
		if j.LastSeq() != 100 || j.Durable() != 100 || j.Segments() != 1 {
			t.Fatalf("mode %d: after BeginAt(101): last %d, durable %d, %d segments; want 100, 100, 1", mode, j.LastSeq(), j.Durable(), j.Segments())
		}
		if err := j.Append(rec(5)); !errors.Is(err, ErrSequence) {
			t.Fatalf("mode %d: appending 5 to a journal begun at 101: %v, want ErrSequence", mode, err)
		}
		img := fs.Crash(vfs.CrashKeep{}) // a power loss: only what was made durable
		j.Close()

		opts.FS = img
		j, _, err = Open("/j", opts)
		if err != nil {
			t.Fatal(err)
		}
		if j.LastSeq() != 100 || j.Segments() != 1 {
			t.Fatalf("mode %d: reopened after a power loss: last %d, %d segments; want 100, 1", mode, j.LastSeq(), j.Segments())
		}
		r, err := NewReader("/j", img, 101)
		if err != nil {
			t.Fatal(err)
		}
		var x Record
		if start, err := r.Start(), r.Next(&x); start != 101 || err != io.EOF {
			t.Fatalf("mode %d: reader from 101 starts at %d, reads %v; want 101, io.EOF", mode, start, err)
		}
		r.Close()
		if err := j.BeginAt(500); !errors.Is(err, ErrSequence) {
			t.Fatalf("mode %d: BeginAt on a journal holding a segment: %v, want ErrSequence", mode, err)
		}
		appendN(t, j, 101, 103, 3)
		j.Close()
	}
}
