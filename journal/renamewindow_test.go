package journal

import (
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// spareRollRun journals records 1… in batches on fs (a CrashFS, or one
// wrapping it) with prepared segments until the journal rolls to a
// third segment, and past it; beforeOp, if set, sees crash's points. The
// first segment is the spare Open prepared; the second is created (a
// spare is prepared only after a segment of this run lasted
// spareMinLife); the third is the spare the second's roll prepared,
// renamed. It returns the third segment's first input and what the run
// acknowledged (Durable), the journal closed.
func spareRollRun(t *testing.T, fs vfs.FS, crash *vfs.CrashFS, beforeOp func(vfs.CrashOp, *Journal)) (third, acked int64) {
	t.Helper()
	j, _, err := Open("/j", preparedOptions(fs))
	if err != nil {
		t.Fatal(err)
	}
	stepClock(j, spareMinLife) // every segment lasts long enough for a spare
	j.waitSpare()
	if beforeOp != nil {
		crash.BeforeOp = func(op vfs.CrashOp) { beforeOp(op, j) }
	}
	for seq := int64(1); j.Segments() < 3 || seq < third+50; seq += 50 {
		appendN(t, j, seq, seq+49, 50)
		if j.Segments() == 3 && third == 0 {
			third = j.segFirst
		}
		j.waitSpare()
	}
	acked = j.Durable()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	crash.BeforeOp = nil
	return third, acked
}

// openedAt opens the journal in img and returns its last input.
func openedAt(t *testing.T, img vfs.FS) int64 {
	t.Helper()
	j, rec, err := Open("/j", testOptions(img))
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	return rec.LastSeq
}

// A roll that takes the prepared segment renames next.spare to the
// segment's name, which a crash keeps only once the directory is
// fsynced (CrashFS: the new name lost, the old kept). The roll fsyncs
// the journal's directory before any record in the renamed segment is
// acknowledged: a power loss just before that fsync finds the journal
// at the end of the segment before, no acknowledged input lost, and
// one just after finds the new segment. Without that fsync
// (skipDirSyncAfterRename) a power loss after the next acknowledged
// batch loses it: the window the model shows.
func TestSpareRenameDurableBeforeItsRecordsAreAcknowledged(t *testing.T) {
	crash := vfs.NewCrashFS()
	var before, after *vfs.CrashFS
	var renamedTo string
	var ackedBefore int64
	third, _ := spareRollRun(t, crash, crash, func(op vfs.CrashOp, j *Journal) {
		switch {
		case op.Op == vfs.OpRename && filepath.Base(op.Path) == spareName && filepath.Base(op.NewPath) != SegmentName(1):
			renamedTo = op.NewPath
		case renamedTo != "" && before == nil && op.Op == vfs.OpSyncDir && op.Path == "/j":
			before, ackedBefore = op.Crash(vfs.CrashKeep{}), j.Durable()
		case before != nil && after == nil:
			after = op.Crash(vfs.CrashKeep{})
		}
	})
	if renamedTo != filepath.Join("/j", SegmentName(third)) || before == nil {
		t.Fatalf("setup: the roll to %d renamed a spare to %q, the directory fsynced after it: %v", third, renamedTo, before != nil)
	}
	if ackedBefore >= third {
		t.Fatalf("input %d acknowledged before the directory's fsync made the name of its segment (%d on) durable", ackedBefore, third)
	}
	if after == nil { // the fsync was the run's last change
		after = crash.Crash(vfs.CrashKeep{})
	}
	names, _ := before.List("/j")
	if slices.Contains(names, SegmentName(third)) {
		t.Fatalf("a power loss before the directory's fsync kept the renamed segment: %v", names)
	}
	if last := openedAt(t, before); last < ackedBefore || last >= third {
		t.Fatalf("a power loss before the directory's fsync: the journal at %d, %d acknowledged (the renamed segment starts at %d)", last, ackedBefore, third)
	}
	if names, _ := after.List("/j"); !slices.Contains(names, SegmentName(third)) {
		t.Fatalf("a power loss after the directory's fsync lost the renamed segment: %v", names)
	}

	crash = vfs.NewCrashFS()
	third, acked := spareRollRun(t, &skipDirSyncAfterRename{CrashFS: crash, dir: "/j"}, crash, nil)
	if last := openedAt(t, crash.Crash(vfs.CrashKeep{})); last >= acked || last >= third {
		t.Fatalf("without the fsync after the rename a power loss leaves the journal at %d, %d acknowledged (segment %d on): the model missed the window", last, acked, third)
	}
}

// skipDirSyncAfterRename is a CrashFS whose fsyncs of dir do nothing once
// a spare was renamed to a segment after the first.
type skipDirSyncAfterRename struct {
	*vfs.CrashFS
	dir     string
	renamed atomic.Bool
}

func (s *skipDirSyncAfterRename) Rename(oldname, newname string) error {
	if err := s.CrashFS.Rename(oldname, newname); err != nil {
		return err
	}
	if filepath.Base(oldname) == spareName && filepath.Base(newname) != SegmentName(1) {
		s.renamed.Store(true)
	}
	return nil
}

func (s *skipDirSyncAfterRename) SyncDir(dir string) error {
	if s.renamed.Load() && filepath.Clean(dir) == s.dir {
		return nil
	}
	return s.CrashFS.SyncDir(dir)
}
