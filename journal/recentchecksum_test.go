package journal

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// recPayload is a record of seq with a payload of n bytes.
func recPayload(seq int64, n int) *Record {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(seq*31 + int64(i))
	}
	return &Record{Seq: seq, RecvTime: seq * 10, Session: uint64(seq % 7), Account: uint32(seq % 5), Kind: 2, Payload: p}
}

// RecentChecksum against a model and ChecksumAt on random workloads:
// records of random sizes (rolls every few), Append and AppendBatch (some
// stopping midway at a refused record), syncs, checkpoints, retention,
// reopens (with and without records in the last segment), journals begun
// at BeginAt, and failed fdatasyncs that stop the journal. Whenever
// RecentChecksum finds an input, its checksum is the input's; it finds
// every durable input appended since Open whose mark is still kept and
// whose segment is still there; it never finds one not yet durable.
func TestRecentChecksumProperty(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { recentChecksumRun(t, seed) })
	}
}

func recentChecksumRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed*7+1))
	fs := vfs.NewCrashFS()
	var failNext atomic.Bool // the next segment fdatasync fails (not the newest-segment record's)
	fs.FailSync = func(name string) bool {
		return strings.HasSuffix(name, ".journal") && failNext.Swap(false)
	}
	dir := "/j"
	segBytes := int64(headerSize+encodedSize(MaxPayload)) + int64(rng.IntN(3))*(64<<10)
	opts := Options{FS: fs, SegmentBytes: segBytes, Sync: SyncMode(rng.IntN(2))}
	model := map[int64]uint32{}
	j, _, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { j.Close() }()
	var last int64
	if rng.IntN(2) == 0 {
		last = 1 + int64(rng.IntN(1000))
		if err := j.BeginAt(last + 1); err != nil {
			t.Fatal(err)
		}
	}
	sinceOpen := last + 1 // first input appended since Open
	var deleted int64     // inputs below it are in retired segments
	size := func() int {
		switch rng.IntN(10) {
		case 0:
			return MaxPayload - rng.IntN(64)
		case 1, 2:
			return rng.IntN(MaxPayload)
		default:
			return rng.IntN(200)
		}
	}
	check := func(step int) {
		durable := j.Durable()
		for range 20 {
			seq := max(1, last+2-int64(rng.IntN(int(min(last+2, 400)))))
			if rng.IntN(4) == 0 {
				seq = 1 + rng.Int64N(last+2)
			}
			crc, found, err := j.RecentChecksum(seq)
			if err != nil {
				t.Fatalf("step %d: input %d: %v", step, seq, err)
			}
			want, known := model[seq]
			if found && (!known || crc != want || seq > durable) {
				t.Fatalf("step %d: input %d: found %08x, model %08x known %v, durable %d", step, seq, crc, want, known, durable)
			}
			if found {
				c2, f2, err := ChecksumAt([]string{dir}, fs, seq)
				if err != nil || !f2 || c2 != crc {
					t.Fatalf("step %d: input %d: ChecksumAt %08x %v %v, RecentChecksum %08x", step, seq, c2, f2, err, crc)
				}
			}
			// Recent inputs (the ring holds far more than these runs
			// write between reopens) must be found.
			if !found && known && seq <= durable && seq >= sinceOpen && seq >= deleted && j.Err() == nil {
				t.Fatalf("step %d: input %d, durable (%d), appended since Open (%d): not found", step, seq, durable, sinceOpen)
			}
		}
	}
	for step := range 300 {
		switch op := rng.IntN(20); {
		case op < 10: // a batch
			n := 1 + rng.IntN(8)
			if rng.IntN(2) == 0 {
				for range n {
					r := recPayload(last+1, size())
					if err := j.Append(r); err != nil {
						if j.Err() != nil {
							break
						}
						t.Fatal(err)
					}
					last++
					model[last] = Checksum(r)
				}
			} else {
				stopAt := -1
				if rng.IntN(4) == 0 {
					stopAt = rng.IntN(n)
				}
				sizes := make([]int, n)
				for i := range sizes {
					sizes[i] = size()
				}
				base := last
				err := j.AppendBatch(n, func(i int, r *Record) {
					seq := base + 1 + int64(i)
					if i == stopAt {
						seq += 5 // refused: out of sequence
					}
					*r = *recPayload(seq, sizes[i])
				})
				good := n
				if stopAt >= 0 {
					good = stopAt
					if !errors.Is(err, ErrSequence) && j.Err() == nil {
						t.Fatalf("batch stopping at %d: %v", stopAt, err)
					}
				} else if err != nil && j.Err() == nil {
					t.Fatal(err)
				}
				if j.Err() == nil {
					for i := range good {
						last++
						model[last] = Checksum(recPayload(last, sizes[i]))
					}
				}
			}
		case op < 13:
			j.Sync()
		case op < 15:
			j.Checkpoint()
		case op < 16:
			failNext.Store(true)
			j.Checkpoint() // fails: the journal stops
			failNext.Store(false)
		case op < 17 && last > 0:
			below := 1 + rng.Int64N(last)
			if _, err := j.DeleteBefore(below); err != nil {
				t.Fatal(err)
			}
			segs, _ := listSegments(fs, dir)
			if len(segs) > 0 {
				deleted = max(deleted, segmentFirst(segs[0]))
			}
		case op < 19 || j.Err() != nil:
			j.Close()
			var rec Recovery
			if j, rec, err = Open(dir, opts); err != nil {
				t.Fatalf("step %d: reopen: %v", step, err)
			}
			for s := range model {
				if s > rec.LastSeq && !(rec.LastSeq == 0 && s <= last) {
					delete(model, s)
				}
			}
			if rec.LastSeq != 0 {
				last = rec.LastSeq
			}
			sinceOpen = last + 1
		}
		check(step)
	}
}

// RecentChecksum beside the journaller, with -race: each answer found is
// the input's checksum.
func TestRecentChecksumBesideTheJournaller(t *testing.T) {
	dir := t.TempDir()
	j, _, err := Open(dir, Options{SegmentBytes: 1 << 20, Sync: SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	const n = 6000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for s := int64(1); s <= n; s++ {
			if err := j.Append(recPayload(s, int(s%700))); err != nil {
				t.Error(err)
				return
			}
			if s%16 == 0 {
				j.Sync()
			}
		}
		j.Sync()
	}()
	for d := j.Durable(); d < n; d = j.Durable() {
		if d == 0 {
			continue
		}
		crc, found, err := j.RecentChecksum(d)
		if err != nil || !found || crc != Checksum(recPayload(d, int(d%700))) {
			t.Fatalf("input %d: %08x %v %v", d, crc, found, err)
		}
	}
	wg.Wait()
}

// The mark ring wraps: across many small segments (a mark each) and
// within one large segment (a mark every markBytes), inputs whose marks
// are gone are not found, every later one is, with its checksum.
func TestRecentChecksumMarksWrap(t *testing.T) {
	for _, tc := range []struct {
		name     string
		segBytes int64
		payload  int
		records  int64
	}{
		{"segments", int64(headerSize + encodedSize(MaxPayload)), MaxPayload - 100, maxMarks + 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			j, _, err := Open(dir, Options{SegmentBytes: tc.segBytes, Sync: SyncNone})
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			for s := int64(1); s <= tc.records; s++ {
				if err := j.Append(recPayload(s, tc.payload)); err != nil {
					t.Fatal(err)
				}
			}
			if err := j.Sync(); err != nil {
				t.Fatal(err)
			}
			if j.marks.n != maxMarks {
				t.Fatalf("%d marks, want the ring full (%d)", j.marks.n, maxMarks)
			}
			oldest := j.marks.ring[j.marks.next].seq
			for _, seq := range []int64{1, oldest - 1, oldest, oldest + 1, (oldest + tc.records) / 2, tc.records - 1, tc.records} {
				crc, found, err := j.RecentChecksum(seq)
				if err != nil || found != (seq >= oldest) || (found && crc != Checksum(recPayload(seq, tc.payload))) {
					t.Fatalf("input %d (oldest mark %d): %08x found %v, %v", seq, oldest, crc, found, err)
				}
			}
		})
	}
}
