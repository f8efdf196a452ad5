//go:build linux

package replicator

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestLogStoreReservesItsSegment: a new segment has its blocks up to
// segmentBytes allocated (vfs.ReserveAhead), while its size stays the
// bytes written — what a reader, this build's or an older one's, goes by
// — and the log reopens, reads and appends as before.
func TestLogStoreReservesItsSegment(t *testing.T) {
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
	if got := st.Sys().(*syscall.Stat_t).Blocks * 512; got < segmentBytes {
		t.Errorf("segment holds %d bytes of blocks, want its %d reserved", got, segmentBytes)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestLog(t, dir, segmentBytes)
	defer s.Close()
	checkRange(t, s, 1, 3)
	storeRange(t, s, 4, 5)
	checkRange(t, s, 1, 5)
}

// BenchmarkLogStoreLargeWrites: one StoreLogs of 16 entries of 56 KiB per
// op (~900 KiB, a member's raft append under ringex bench --rate 0),
// with the process's CPU time per MiB stored (user and system: the
// kernel's page-cache and block work is most of it) — what the log costs
// each member's cores, the write to the disk aside.
func BenchmarkLogStoreLargeWrites(b *testing.B) {
	const batch, size = 16, 56 << 10
	before := processCPU()
	benchStoreLogs(b, batch, size, nil)
	mib := float64(b.N) * batch * size / (1 << 20)
	b.ReportMetric(float64((processCPU()-before).Microseconds())/1000/mib, "cpu-ms/MiB")
}

// processCPU is the time the process has run, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
