package journal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// BenchmarkAppend: 100-byte payloads, fdatasync once per batch, on the
// machine's own disk (t.TempDir). One op = one record. Small batches are
// the latency case (at 100 k orders/s a batch holds tens of records):
// their cost is the fdatasync, reported as µs/fsync.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{16, 256, 1024, 4096} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			j, _, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			r := Record{Kind: 1, Payload: make([]byte, 100)}
			syncs := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 1; i <= b.N; i++ {
				r.Seq = int64(i)
				if err := j.Append(&r); err != nil {
					b.Fatal(err)
				}
				if i%batch == 0 || i == b.N {
					if err := j.Sync(); err != nil {
						b.Fatal(err)
					}
					syncs++
				}
			}
			b.StopTimer()
			secs := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N)/secs, "records/s")
			b.ReportMetric(float64(b.N)*float64(encodedSize(100))/secs/1e6, "MB/s")
			b.ReportMetric(float64(syncs)/secs, "fsyncs/s")
			b.ReportMetric(secs*1e6/float64(syncs), "µs/fsync")
			b.ReportMetric(float64(batch), "batch")
			j.Close()
		})
	}
}

// BenchmarkRead: replaying 100-byte records.
func BenchmarkRead(b *testing.B) {
	dir := b.TempDir()
	j, _, _ := Open(dir, Options{Sync: SyncNone})
	r := Record{Kind: 1, Payload: make([]byte, 100)}
	const n = 1_000_000
	for i := 1; i <= n; i++ {
		r.Seq = int64(i)
		j.Append(&r)
	}
	j.Close()
	b.ReportAllocs()
	b.ResetTimer()
	read := 0
	for read < b.N {
		rd, _ := NewReader(dir, nil, 0)
		for read < b.N {
			if err := rd.Next(&r); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
			read++
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkAppendWritten: the journaller's CPU per record where the
// journal is written without fsync (a cluster member's; raft's log is the
// durable copy), in batches of 256 — `each` through Append, `batch`
// through AppendBatch, one lock per batch. One op = one record.
func BenchmarkAppendWritten(b *testing.B) {
	const batch = 256
	for _, way := range []string{"each", "batch"} {
		b.Run(way, func(b *testing.B) {
			j, _, err := Open(b.TempDir(), Options{Sync: SyncNone})
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			payload := make([]byte, 100)
			b.ReportAllocs()
			b.ResetTimer()
			for lo := 1; lo <= b.N; lo += batch {
				n := min(batch, b.N-lo+1)
				var err error
				if way == "each" {
					var r Record
					for s := lo; s < lo+n && err == nil; s++ {
						r.Seq, r.Kind, r.Payload = int64(s), 1, payload
						err = j.Append(&r)
					}
				} else {
					err = j.AppendBatch(n, func(i int, r *Record) { r.Seq, r.Kind, r.Payload = int64(lo+i), 1, payload })
				}
				if err != nil {
					b.Fatal(err)
				}
				if err := j.Sync(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFsyncOverlap: would a journal that started the next batch's
// fdatasync before the last one returned answer sooner? Each of `in
// flight` goroutines writes 4 KiB into its own block of a file written
// before (as a prepared segment is) and fdatasyncs it, in a closed loop;
// µs/fsync is each call's mean time. On the 2-core dev machine's disk
// (2026-12-05, `go test ./journal -run '^$' -bench FsyncOverlap
// -benchtime 3s -count 2`): one in flight 128–131 µs, two 211–213 µs
// each, four 342 µs — the disk serves them nearly one after another. An
// input arriving during an fdatasync waits, on average, for the rest of
// it and the next (~65 + 130 µs); one of its own started beside it would
// take ~210: no sooner.
func BenchmarkFsyncOverlap(b *testing.B) {
	for _, inFlight := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("in_flight=%d", inFlight), func(b *testing.B) {
			const size = 64 << 20
			f, err := os.Create(filepath.Join(b.TempDir(), "overlap"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			zeros := make([]byte, 1<<20)
			for off := int64(0); off < size; off += int64(len(zeros)) {
				if _, err := f.WriteAt(zeros, off); err != nil {
					b.Fatal(err)
				}
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			block := make([]byte, 4096)
			errs := make([]error, inFlight)
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range inFlight {
				wg.Go(func() {
					for i := next.Add(1) - 1; i < int64(b.N) && errs[w] == nil; i = next.Add(1) - 1 {
						if _, errs[w] = f.WriteAt(block, i*4096%size); errs[w] == nil {
							errs[w] = vfs.FromOS(f).Sync() // fdatasync on Linux
						}
					}
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				b.Fatal(err)
			}
			secs := b.Elapsed().Seconds()
			b.ReportMetric(secs*1e6*float64(inFlight)/float64(b.N), "µs/fsync")
			b.ReportMetric(float64(b.N)/secs, "fsyncs/s")
		})
	}
}

// BenchmarkNewReaderManySegments: a Reader from the last of 10 000
// segments (header-only files), which checks every segment's header
// (checkIDs); remembered: with a CheckedHeaders that has seen them, as a
// node's resends use one. On the 2-vCPU dev VM of 2026-12-06 (two runs):
// 186–348 ms a Reader checking them all; remembered 18 ms, as before
// Readers checked the headers of segments before their start (19 ms: the
// listing's cost).
func BenchmarkNewReaderManySegments(b *testing.B) {
	dir := b.TempDir()
	const n = 10000
	for i := range int64(n) {
		first := 1 + i*10
		if err := os.WriteFile(filepath.Join(dir, SegmentName(first)), segmentHeader(first, "prod"), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	for _, remembered := range []bool{false, true} {
		b.Run(fmt.Sprintf("remembered=%v", remembered), func(b *testing.B) {
			var opts ReaderOptions
			if remembered {
				opts.Checked = NewCheckedHeaders()
			}
			b.ReportAllocs()
			for i := 0; i < b.N+1; i++ {
				if i == 1 {
					b.ResetTimer() // the first fills Checked
				}
				r, err := NewReaderWith([]string{dir}, nil, 1+(n-1)*10, opts)
				if err != nil {
					b.Fatal(err)
				}
				r.Close()
			}
		})
	}
}
