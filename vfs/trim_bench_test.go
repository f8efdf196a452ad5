package vfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ringex/ringex/internal/testkit"
)

// BenchmarkCacheTrimmer: the process's CPU time (user and system) per MiB
// appended to a file whose size is its write offset, as a raft log
// segment's is — each op one write of 200 KiB plus 1000 bytes (so the
// write offset moves through pages), then an fdatasync and Synced
// (`synced`) or Written alone (`written`, the journal of a cluster
// member); `none` appends the same without a trimmer, the baseline of the
// same run. The files roll over at 64 MiB, as a journal segment does:
// fdatasynced, dropped whole (`none`: synced only), removed — every byte
// is written back within the process's time. What trimming costs is the
// difference to `none`; what it saves is not here: the page cache stays
// small (see CacheTrimmer's doc). read-B/MiB is what the appends read
// from the disk: a page at the write offset dropped and read back before
// the next write into it.
func BenchmarkCacheTrimmer(b *testing.B) {
	const write, roll = 200<<10 + 1000, 64 << 20
	for _, mode := range []string{"synced", "written"} {
		for _, trim := range []bool{false, true} {
			name := mode + "/none"
			if trim {
				name = mode + "/trim"
			}
			b.Run(name, func(b *testing.B) {
				dir, data := b.TempDir(), make([]byte, write)
				var (
					f   File
					osf *os.File
					off int64
					tr  CacheTrimmer
				)
				next := func(i int) {
					if osf != nil {
						if err := f.Sync(); err != nil {
							b.Fatal(err)
						}
						if trim {
							f.DropCache(0, off)
						}
						osf.Close()
						os.Remove(osf.Name())
					}
					var err error
					if osf, err = os.Create(filepath.Join(dir, fmt.Sprint(i))); err != nil {
						b.Fatal(err)
					}
					f, off = FromOS(osf), 0
					tr.Reset(0)
				}
				next(0)
				defer func() { osf.Close() }()
				b.ResetTimer()
				before, read := testkit.CPUTime(), readBytes()
				for i := range b.N {
					if off+write > roll {
						next(i)
					}
					if _, err := f.WriteAt(data, off); err != nil {
						b.Fatal(err)
					}
					off += write
					if mode == "synced" {
						if err := f.Sync(); err != nil {
							b.Fatal(err)
						}
						if trim {
							tr.Synced(f, off)
						}
					} else if trim {
						tr.Written(f, off)
					}
				}
				mib := float64(b.N) * write / (1 << 20)
				b.ReportMetric(float64((testkit.CPUTime()-before).Microseconds())/mib, "cpu-µs/MiB")
				if read >= 0 {
					b.ReportMetric(float64(readBytes()-read)/mib, "read-B/MiB")
				}
			})
		}
	}
}

// readBytes is what the process has had read from storage so far
// (/proc/self/io's read_bytes), -1 where the system does not say.
func readBytes() int64 {
	io, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(io)) {
		if v, ok := strings.CutPrefix(line, "read_bytes: "); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}
