package journal

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// TestCrashSweepFromVersion1 crashes a journal upgraded in place: its
// segment of format version 1 (testdata/v1, inputs 1 and 2), appended to
// and rolled into segments of version 2, with and without prepared
// segments, on a CrashFS; at every crash point, under every crash of
// crashKeeps, the journal opens, reads from input 1 through a version 1
// segment and version 2 ones to at least the last input acknowledged,
// the version 1 inputs as written, carries one cluster id (the one
// Options gave when it first rolled, kept by a reopen under another),
// and takes the next input.
func TestCrashSweepFromVersion1(t *testing.T) {
	v1, err := os.ReadFile(filepath.Join("testdata", "v1", SegmentName(1)))
	if err != nil {
		t.Fatal(err)
	}
	var want []Record
	if _, err := Inspect(filepath.Join("testdata", "v1"), nil, func(r *Record) {
		c := *r
		c.Payload = bytes.Clone(r.Payload)
		want = append(want, c)
	}); err != nil || len(want) != 2 {
		t.Fatalf("fixture: %d records, %v", len(want), err)
	}
	const dir, last = "/data/journal", 150
	for _, prepare := range []bool{false, true} {
		t.Run(fmt.Sprintf("prepare=%v", prepare), func(t *testing.T) {
			fs := vfs.NewCrashFS()
			if err := fs.MkdirAll(dir); err != nil {
				t.Fatal(err)
			}
			f, err := fs.Create(filepath.Join(dir, SegmentName(1)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(v1, 0); err != nil {
				t.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if err := fs.SyncDir(dir); err != nil {
				t.Fatal(err)
			}
			opts := func(fs vfs.FS) Options {
				o := testOptions(fs)
				o.PrepareSegments = prepare
				return o
			}
			var acked atomic.Int64
			acked.Store(2)
			type image struct {
				at    string
				img   *vfs.CrashFS
				acked int64
			}
			var images []image
			fs.BeforeOp = func(op vfs.CrashOp) {
				for _, keep := range crashKeeps(op) {
					images = append(images, image{fmt.Sprintf("%v, keeping %+v", op, keep), op.Crash(keep), acked.Load()})
				}
			}
			j, _, err := Open(dir, opts(fs))
			if err != nil {
				t.Fatal(err)
			}
			stepClock(j, spareMinLife)
			j.waitSpare()
			for first := int64(3); first <= last; first += 7 {
				err := j.AppendBatch(7, func(i int, r *Record) { sweepRecord(first+int64(i), r) })
				if err != nil {
					t.Fatal(err)
				}
				j.waitSpare()
				if err := j.Sync(); err != nil {
					t.Fatal(err)
				}
				acked.Store(j.Durable())
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			fs.BeforeOp = nil
			images = append(images, image{"the end", fs.Crash(vfs.CrashKeep{}), acked.Load()})
			if st, err := Inspect(dir, fs, nil); err != nil || st.Segments < 3 || st.ID != testID {
				t.Fatalf("the run: %+v %v; want rolls into segments of id %s", st, err, testID)
			}
			failed := 0
			for _, c := range images {
				if err := recoverUpgraded(c.img, dir, c.acked, want); err != nil {
					failed++
					if failed <= 10 {
						t.Errorf("crash at %s (%d acknowledged): %v", c.at, c.acked, err)
					}
				}
			}
			t.Logf("recovered from %d crashes, %d failed", len(images), failed)
		})
	}
}

// recoverUpgraded opens the journal in dir of img as a node's start does
// (under another id: the journal's, once it has one, is kept), checks it
// holds inputs 1 to at least acked as journaled — 1 and 2 as want — in
// segments of one id, and appends the next input.
func recoverUpgraded(img *vfs.CrashFS, dir string, acked int64, want []Record) error {
	o := testOptions(img)
	o.ID = "another-id"
	j, found, err := Open(dir, o)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer j.Close()
	if found.LastSeq < acked {
		return fmt.Errorf("the journal ends at %d, %d was acknowledged", found.LastSeq, acked)
	}
	r, err := NewReader(dir, img, 0)
	if err != nil {
		return err
	}
	defer r.Close()
	var got, exp Record
	for seq := int64(1); ; seq++ {
		err := r.Next(&got)
		if err == io.EOF {
			if seq-1 != found.LastSeq {
				return fmt.Errorf("the Reader ends at %d, Open at %d", seq-1, found.LastSeq)
			}
			break
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if seq <= 2 {
			exp = want[seq-1]
		} else {
			sweepRecord(seq, &exp)
		}
		if got.Seq != seq || got.RecvTime != exp.RecvTime || !bytes.Equal(got.Payload, exp.Payload) {
			return fmt.Errorf("input %d read as %d (%d bytes), journaled %d bytes", seq, got.Seq, len(got.Payload), len(exp.Payload))
		}
	}
	// The Reader saw one id; it is the run's, or — a crash before the
	// first version 2 header was durable, so none records the run's —
	// the one this Open was given.
	switch id := r.ID(); {
	case id != "" && id != testID && id != "another-id":
		return fmt.Errorf("segments carry %q, want %q", id, testID)
	case id != "" && found.ID != id:
		return fmt.Errorf("segments carry %q, Open says the journal's id is %q", id, found.ID)
	case id == "" && found.ID != "another-id":
		return fmt.Errorf("no version 2 segment, and Open gave id %q, not Options' another-id", found.ID)
	}
	var next Record
	sweepRecord(found.LastSeq+1, &next)
	if err := j.Append(&next); err != nil {
		return err
	}
	return j.Sync()
}
