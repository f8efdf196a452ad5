package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	iofs "io/fs"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/ringex/ringex/vfs"
)

// NewestFile is the record of the journal's newest segment: the first
// input of the segment the journal last rolled to. It is what tells a
// journal whose newest segments were lost (deleted, left behind by a
// copy) from one that ends where its segments do: the segments alone
// read the same, and the start went on at the previous segment's end,
// giving out the lost inputs' sequences (order ids) again. Readers
// ignore it; Open compares it with the newest segment (Recovery.Missing).
//
// Format, version 1 (part of the format: change it only with a new
// version), 20 bytes, little-endian:
//
//	offset 0   magic    [4]byte "RXNS"
//	offset 4   version  uint32  1
//	offset 8   first    int64   the newest segment's first input
//	offset 16  crc      uint32  CRC-32C of bytes 0–15
//
// It is written whole (a temporary file, fdatasynced, renamed over it,
// the directory fsynced) after the new segment's name is durable, off the
// roll's path (newestRecorder), so a crash leaves it naming that segment
// or an earlier one: never one that does not exist. A lower value is
// never a false alarm — it only narrows what a loss is seen in. A build that does not write it leaves an older one,
// naming a segment that is still there. Retirement (DeleteBefore,
// ArchiveBefore) never removes the newest segment.
const NewestFile = "newest-segment"

const (
	newestMagic   = "RXNS"
	newestVersion = 1
	newestSize    = 20
)

// writeNewest records first as the journal's newest segment in dir,
// durably (vfs.ReplaceFile): a crash leaves the record before or after,
// never a part.
func writeNewest(fs vfs.FS, dir string, first int64) error {
	b := make([]byte, newestSize)
	copy(b, newestMagic)
	binary.LittleEndian.PutUint32(b[4:], newestVersion)
	binary.LittleEndian.PutUint64(b[8:], uint64(first))
	binary.LittleEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	path := filepath.Join(dir, NewestFile)
	return vfs.ReplaceFile(fs, path, path+".tmp", b)
}

// newestRecorder writes the newest-segment record for a journal's rolls
// off the roll's path. The roll held the journaller for the record's two
// fsyncs (its file and the directory) once per segment; in a cluster,
// where a member's journal is otherwise unsynced, that cost the three
// members ~3 % of their throughput (E26, deploy/cluster-bench.sh).
//
// Invariants: the record only ever grows (one write at a time, each of
// the highest first asked for, never one already written); a first is
// asked for only after its segment's name is durable, so the record
// never names a segment that does not exist; wait returns only when no
// write is running or to come.
type newestRecorder struct {
	fs  vfs.FS
	dir string

	want    atomic.Int64          // the highest first asked for
	failure atomic.Pointer[error] // the first write that failed: the journal must stop
	pending sync.WaitGroup        // writes asked for and not ended

	mu      sync.Mutex // held while writing; guards written
	written int64      // the first last recorded by this recorder
}

// record asks for first to be recorded and returns at once. Called by
// the roll (rolls are serialized by the journal's lock, firsts grow).
func (r *newestRecorder) record(first int64) {
	r.want.Store(first)
	r.pending.Add(1)
	go func() {
		defer r.pending.Done()
		r.catchUp()
	}()
}

// catchUp writes the highest first asked for, unless it is written
// already or a write failed.
func (r *newestRecorder) catchUp() {
	r.mu.Lock()
	defer r.mu.Unlock()
	first := r.want.Load()
	if first <= r.written || r.failure.Load() != nil {
		return
	}
	if err := writeNewest(r.fs, r.dir, first); err != nil {
		err = fmt.Errorf("record the newest segment: %w", err)
		r.failure.Store(&err)
		return
	}
	r.written = first
}

// err is the failure of a write, nil if none has failed.
func (r *newestRecorder) err() error {
	if p := r.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// wait returns when every write asked for has ended, with err's value.
func (r *newestRecorder) wait() error {
	r.pending.Wait()
	return r.err()
}

// readNewest returns the first input of the newest segment recorded in
// dir; 0 when none is recorded (a journal of a build before it). A
// record that does not verify is ErrCorrupt naming it: a rename makes it
// whole, so it is damage, and the end of the journal is unknown.
func readNewest(fs vfs.FS, dir string) (int64, error) {
	path := filepath.Join(dir, NewestFile)
	f, err := fs.Open(path)
	if errors.Is(err, iofs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	b := make([]byte, newestSize+1)
	n, _ := f.ReadAt(b, 0)
	b = b[:n]
	le := binary.LittleEndian
	if len(b) != newestSize || string(b[:4]) != newestMagic || le.Uint32(b[4:]) != newestVersion ||
		le.Uint32(b[16:]) != crc32.Checksum(b[:16], castagnoli) || int64(le.Uint64(b[8:])) < 1 {
		return 0, fmt.Errorf("%w: %s (%d bytes) is not a record of the journal's newest segment: it was damaged, so where the journal ended is unknown; "+
			"check with `ringex journal inspect %s` that the journal reads through to the inputs its clients were told of, then remove %s (the next roll writes it again)",
			ErrCorrupt, path, n, dir, path)
	}
	return int64(le.Uint64(b[8:])), nil
}

// MissingSegmentError says that the journal in dir lacks the newest
// segment it rolled to, the one of input missing (Recovery.Missing),
// and ends at input last: the inputs from missing on, acknowledged ones
// too, are in no segment. It names the remedies a node's refused start
// and `ringex journal inspect` both give: the segment back, checked with
// inspect; or, only if the inputs are lost for good, NewestFile removed
// to give them up — giveUp, when not "", says another way for the last
// (a cluster member's). Wraps ErrMissingSegment.
func MissingSegmentError(dir string, missing, last int64, giveUp string) error {
	if giveUp == "" {
		giveUp = "only if they are lost for good, remove " + filepath.Join(dir, NewestFile) + " and start: the journal goes on after input " +
			strconv.FormatInt(last, 10) + " and their sequences (order ids) are given out again — reconcile with the clients"
	}
	return fmt.Errorf("%w: the journal's newest segment %s (inputs from %d on) is missing from %s: the journal rolled to it (%s records it) but ends at input %d, "+
		"so the inputs from %d on, acknowledged ones too, are in no segment; put it and any after it back from where they went (a backup, the old disk) "+
		"and check with `ringex journal inspect %s`; %s",
		ErrMissingSegment, SegmentName(missing), missing, dir, NewestFile, last, missing, dir, giveUp)
}

// CheckNewest refuses, as a node's start and Inspect do, a journal in dir
// that ends at input last without the newest segment it rolled to
// (NewestFile): for a reader of the segments alone — `ringex replay` —
// which would otherwise end at the previous segment's end without a
// word. It judges the files, not last: a segment at or after the one
// recorded is there, or the error (ErrMissingSegment) names it; a
// NewestFile that does not verify is its ErrCorrupt; none is no
// refusal.
func CheckNewest(fs vfs.FS, dir string, last int64) error {
	if fs == nil {
		fs = vfs.Default
	}
	recorded, err := readNewest(fs, dir)
	if err != nil || recorded == 0 {
		return err
	}
	names, err := listSegments(fs, dir)
	if err != nil {
		return err
	}
	if len(names) > 0 && segmentFirst(names[len(names)-1]) >= recorded {
		return nil
	}
	return MissingSegmentError(dir, recorded, last, "")
}
