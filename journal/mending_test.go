package journal

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// failDirSyncOnce is a CrashFS whose next SyncDir of dir fails, once armed.
type failDirSyncOnce struct {
	*vfs.CrashFS
	dir   string
	armed bool
}

func (f *failDirSyncOnce) SyncDir(dir string) error {
	if f.armed && filepath.Clean(dir) == f.dir {
		f.armed = false
		return vfs.ErrInjected
	}
	return f.CrashFS.SyncDir(dir)
}

// A roll stopped between creating the next segment and fsyncing the
// directory (the process killed there, or the directory fsync failing:
// fail stop, the node restarts) leaves a segment whose name is not
// durable. Open makes it durable before anything is appended: it went on
// in it, acknowledging inputs there, without fsyncing the directory
// (contract 3), and a power loss before the next roll took every input
// acknowledged in it.
func TestOpenMakesTheLastSegmentsNameDurable(t *testing.T) {
	const dir = "/data/journal"
	crash := vfs.NewCrashFS()
	fs := &failDirSyncOnce{CrashFS: crash, dir: dir}
	j, _, err := Open(dir, testOptions(fs))
	if err != nil {
		t.Fatal(err)
	}
	// Fill the first segment (its roll is the one that fails).
	var s int64
	for s = 1; ; s++ {
		if err := j.Append(rec(s)); err != nil {
			t.Fatal(err)
		}
		if err := j.Sync(); err != nil {
			t.Fatal(err)
		}
		if j.Segments() > 1 {
			t.Fatal("rolled before armed")
		}
		if j.off+int64(encodedSize(len(rec(s+1).Payload))) > j.opts.SegmentBytes {
			break
		}
	}
	fs.armed = true
	if err := j.Append(rec(s + 1)); err == nil {
		t.Fatal("the roll's directory fsync did not fail")
	}
	// The process stops here (fail stop); the node restarts on the same
	// OS state.
	j2, _, err := Open(dir, testOptions(crash))
	if err != nil {
		t.Fatal(err)
	}
	if j2.LastSeq() != s {
		t.Fatalf("reopened at %d, want %d", j2.LastSeq(), s)
	}
	for x := s + 1; x <= s+5; x++ {
		if err := j2.Append(rec(x)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j2.Sync(); err != nil {
		t.Fatal(err)
	}
	acked := j2.Durable() // clients told: these are durable
	// Power loss.
	img := crash.Crash(vfs.CrashKeep{})
	j3, _, err := Open(dir, testOptions(img))
	if err != nil {
		t.Fatalf("after a power loss: %v", err)
	}
	defer j3.Close()
	if j3.LastSeq() < acked {
		t.Fatalf("after a power loss the journal ends at %d; inputs up to %d were acknowledged (fdatasynced)", j3.LastSeq(), acked)
	}
}

// hookListFS runs hook once, right after the first listing of dir.
type hookListFS struct {
	vfs.FS
	dir  string
	once sync.Once
	hook func()
}

func (h *hookListFS) List(dir string) ([]string, error) {
	names, err := h.FS.List(dir)
	if filepath.Clean(dir) == h.dir {
		h.once.Do(h.hook)
	}
	return names, err
}

// NewReaderOf finds segments retention moves from the journal to the
// archive between its listings of the two: listing the archive first, it
// missed them in both (a snapshot's ArchiveBefore while a resend or
// `ringex replay` opened its reader) and reported a gap — ErrCorrupt,
// "starts at sequence X, want Y" — in a journal that was whole; a resend
// answered "failed" and the runbook sent the operator after damage that
// did not exist.
func TestReaderOfFindsSegmentsArchivedBetweenListings(t *testing.T) {
	dir, archive := t.TempDir(), filepath.Join(t.TempDir(), "archive")
	j, _, err := Open(dir, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	appendN(t, j, 1, 6000, 100) // 7 segments
	// Some already archived.
	if n, err := j.ArchiveBefore(1500, archive); err != nil || n < 1 {
		t.Fatalf("ArchiveBefore: %d, %v", n, err)
	}
	fs := &hookListFS{FS: vfs.Default, dir: filepath.Clean(archive), hook: func() {
		if n, err := j.ArchiveBefore(4500, archive); err != nil || n < 1 {
			t.Errorf("ArchiveBefore in the hook: %d, %v", n, err)
		}
	}}
	r, err := NewReaderOf([]string{archive, dir}, fs, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := int64(1)
	for {
		var x Record
		err := r.Next(&x)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after record %d of a whole journal: %v", want-1, err)
		}
		if x.Seq != want {
			t.Fatalf("record %d, want %d", x.Seq, want)
		}
		want++
	}
	if want != 6001 {
		t.Fatalf("read to %d, want 6000", want-1)
	}
}

// A second cut at the offset of an earlier one keeps its bytes beside the
// first's. A node mended by a cut appends its next batch at that same
// offset; a second power loss tearing that batch leaves the same shape
// there, and the cut refused ("file exists": the first cut's bytes,
// created exclusively) — as after a cut interrupted between saving the
// bytes and zeroing the segment. The node could not start until someone
// moved the first cut's bytes by hand.
func TestSecondCutAtTheSameOffset(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1 << 20}
	hole, _ := tornBatchJournal(t, dir)
	if _, err := CutTornBatch(dir, nil, true); err != nil {
		t.Fatal(err)
	}
	// The node starts, its next batch lands at the hole, power fails
	// mid-batch again.
	j, _, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if j.off != hole {
		t.Fatalf("appends at %d, want %d", j.off, hole)
	}
	appendN(t, j, 4, 80, 100)
	j.Close()
	seg := filepath.Join(dir, SegmentName(1))
	data, _ := os.ReadFile(seg)
	clear(data[hole : (hole/4096+1)*4096])
	if err := os.WriteFile(seg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(dir, opts); !errors.Is(err, ErrTornBatch) {
		t.Fatalf("Open = %v, want ErrTornBatch", err)
	}
	second, err := CutTornBatch(dir, nil, true)
	if err != nil {
		t.Fatalf("the second cut: %v", err)
	}
	if want := seg + ".cut-" + strconv.FormatInt(hole, 10) + ".2"; second.SavedTo != want {
		t.Fatalf("the second cut's bytes in %s, want %s beside the first's", second.SavedTo, want)
	}
	if _, _, err := Open(dir, opts); err != nil {
		t.Fatalf("Open after the second cut: %v", err)
	}
}

// A journal Open refuses for damage outside the last segment (an earlier
// segment's header) gets that damage from the cut, not "nothing to cut:
// the journal opens as it is", which was false.
func TestCutOfAnEarlierSegmentsDamage(t *testing.T) {
	dir := t.TempDir()
	j, _, err := Open(dir, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 1, 2000, 50)
	j.Close()
	segs, _ := listSegments(vfs.Default, dir)
	corruptByte(t, filepath.Join(dir, segs[0]), 9)
	if _, _, err := Open(dir, testOptions(nil)); err == nil {
		t.Fatal("Open succeeded")
	}
	_, err = CutTornBatch(dir, nil, false)
	if err == nil || errors.Is(err, ErrNothingToCut) || !strings.Contains(err.Error(), segs[0]) {
		t.Fatalf("cut on a journal Open refuses for %s's header: %v", segs[0], err)
	}
}
