//go:build linux

package replicator

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ringex/ringex/internal/testkit"
	"golang.org/x/sys/unix"
)

// TestLogStoreReservesItsSegment: a new segment has its blocks up to
// segmentBytes allocated (vfs.ReserveAhead), while its size stays the
// bytes written — what a reader, this build's or an older one's, goes by
// — and the log reopens, reads and appends as before.
func TestLogStoreReservesItsSegment(t *testing.T) {
	dir := reservingDir(t)
	const segmentBytes = 1 << 20
	s := openTestLog(t, dir, segmentBytes)
	storeRange(t, s, 1, 3)
	written := s.active().size
	st, err := os.Stat(segmentPath(dir, 1))
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != written {
		t.Errorf("segment size %d, want the %d bytes written", st.Size(), written)
	}
	checkReserved(t, segmentPath(dir, 1), segmentBytes)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestLog(t, dir, segmentBytes)
	defer s.Close()
	checkRange(t, s, 1, 3)
	storeRange(t, s, 4, 5)
	checkRange(t, s, 1, 5)
}

// The last segment reopened — written by a build that reserved nothing,
// or cut by Open's torn-write truncate — and the segment a DeleteRange
// truncated (raft overwriting entries a new leader does not hold: the
// truncate frees the blocks past the new end) have their blocks reserved
// again before their next append, as a new segment has: before, only a
// roll reserved, and every append to them until the next roll allocated
// its blocks as it went.
func TestLogStoreReservesAReopenedOrTruncatedSegment(t *testing.T) {
	dir := reservingDir(t)
	const segmentBytes = 1 << 20
	path := segmentPath(dir, 1)
	s := openTestLog(t, dir, segmentBytes)
	storeRange(t, s, 1, 10)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The same bytes in a file with no blocks reserved past its end.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := allocated(t, path); got >= segmentBytes {
		t.Fatalf("the rewritten segment holds %d bytes of blocks: the test proves nothing", got)
	}
	s = openTestLog(t, dir, segmentBytes)
	defer func() { s.Close() }()
	storeRange(t, s, 11, 12)
	checkReserved(t, path, segmentBytes)

	if err := s.DeleteRange(6, 12); err != nil {
		t.Fatal(err)
	}
	if got := allocated(t, path); got >= segmentBytes {
		t.Fatalf("the truncated segment still holds %d bytes of blocks: the test proves nothing", got)
	}
	storeRange(t, s, 6, 7)
	checkReserved(t, path, segmentBytes)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestLog(t, dir, segmentBytes)
	checkRange(t, s, 1, 7)
}

// reservingDir is a test directory on a filesystem that reserves blocks
// (fallocate KEEP_SIZE); the test is skipped elsewhere.
func reservingDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	probe, err := os.Create(filepath.Join(dir, "probe"))
	if err != nil {
		t.Fatal(err)
	}
	err = unix.Fallocate(int(probe.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, 1<<20)
	probe.Close()
	os.Remove(probe.Name())
	if err != nil {
		t.Skipf("the filesystem reserves no blocks: %v", err)
	}
	return dir
}

// allocated is the bytes of blocks the file at path holds (st_blocks).
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Blocks * 512
}

// checkReserved fails the test unless the file at path holds blocks for
// its first want bytes.
func checkReserved(t *testing.T, path string, want int64) {
	t.Helper()
	if got := allocated(t, path); got < want {
		t.Errorf("segment holds %d bytes of blocks, want its %d reserved", got, want)
	}
}

// BenchmarkLogStoreLargeWrites: one StoreLogs of 16 entries of 56 KiB per
// op (~900 KiB, a member's raft append under ringex bench --rate 0),
// with the process's CPU time per MiB stored (user and system: the
// kernel's page-cache and block work is most of it) — what the log costs
// each member's cores, the write to the disk aside.
func BenchmarkLogStoreLargeWrites(b *testing.B) {
	const batch, size = 16, 56 << 10
	before := testkit.CPUTime()
	benchStoreLogs(b, batch, size, nil)
	mib := float64(b.N) * batch * size / (1 << 20)
	b.ReportMetric(float64((testkit.CPUTime()-before).Microseconds())/1000/mib, "cpu-ms/MiB")
}
