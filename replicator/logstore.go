package replicator

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ringex/ringex/vfs"
)

// Log store format, version 2. These constants and layouts are part of
// the format: change them only with a new version.
//
// The raft log is a directory of segment files named
// "<first index, 20 decimal digits>.rlog". A segment starts with a 16-byte
// header:
//
//	offset 0  magic    [4]byte "RXRL"
//	offset 4  version  uint32  2 (1: see below)
//	offset 8  first    uint64  index of the segment's first entry
//
// then entries, back to back:
//
//	offset 0  length   uint32  bytes of body (37 + data + extensions)
//	offset 4  crc      uint32  CRC-32C (Castagnoli) of the body
//	offset 8  body:
//	            index       uint64
//	            term        uint64
//	            type        uint8   raft.LogType
//	            appendedAt  int64   Unix ns
//	            writeFirst  uint64  index of the first entry of the write
//	                                that stored this one
//	            dataLen     uint32
//	            data        [dataLen]byte
//	            extensions  [length-37-dataLen]byte
//
// All integers are little-endian. Indexes increase by one within a
// segment and from one segment to the next.
//
// A write is one WriteAt and one fsync: StoreLogs writes its batch with
// one, or with one per segment when the batch fills a segment and goes on
// in the next (then writeFirst in the next segment is that segment's
// first index). Invariant: first ≤ writeFirst ≤ index in a segment.
// writeFirst tells a torn last write from damage (OpenLogStore): entries
// after a bad entry at index i with writeFirst ≤ i belong to its write.
//
// Version 1, the layout before version 2, has no writeFirst: bodies of
// 29 + data + extensions, dataLen at body offset 25. Its segments are
// read, never appended to (the next StoreLogs starts a version 2
// segment), and a bad entry in one followed by any valid entry is
// ErrCorrupt: there writes cannot be told apart.
const (
	logMagic       = "RXRL"
	logVersion     = 2
	logHeaderSize  = 16
	logRecHeader   = 8
	logBodyFixed   = 37 // dataLen is the last fixed field, in either version
	logBodyFixedV1 = 29
	logWriteFirst  = 25 // body offset of writeFirst
	logSegmentSize = 64 << 20
)

// ErrCorrupt marks a damaged log segment or stable store.
var ErrCorrupt = errors.New("replicator: corrupt log")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type segment struct {
	first uint64
	// version of its entries' layout: logVersion, or 1 for a segment
	// written by an older ringex (read, never appended to).
	version uint32
	path    string
	f       *os.File
	offs    []int64 // offset of entry first+i
	// membership holds the indexes of its membership entries
	// (raft.LogConfiguration) openSegment read, ascending; not kept up
	// after the open: for Open's check before raft runs
	// (LogStore.membershipAtOpen).
	membership []uint64
	size       int64
	trim       vfs.CacheTrimmer // drops the pages behind size
	// reserved: its blocks up to segmentBytes were asked for
	// (vfs.ReserveAhead) since it was opened or last truncated — a
	// truncate frees the blocks past its new end, and a segment opened may
	// have been written without (by a build before reservation, or cut by
	// Open's torn-write truncate). Under the store's mu.
	reserved bool
}

// LogStore is a durable raft.LogStore over segment files: StoreLogs
// writes the whole batch and fsyncs once (fsync, not fdatasync: for
// appends, which change the file's size, fdatasync measured no faster —
// 50 KB appends on the 2-core dev machine's disk, mean 335–380 µs with
// fsync, 386–516 with fdatasync, alternating), then lets the OS drop the
// synced pages (vfs.CacheTrimmer): raft's LogCache serves recent entries
// from memory, and older ones are read back with ReadAt. The segment
// appended to has its blocks reserved up to its end (vfs.ReserveAhead)
// before its first append — a new one, the last one reopened, one a
// DeleteRange truncated — its size left at the bytes written: an append
// that had to allocate its blocks as it went cost a fifth more CPU
// (BenchmarkLogStoreLargeWrites).
//
// Fail stop: after a write or sync error every call returns that error,
// and OnFail is told. Raft itself would go on: a leader whose log fails
// steps down, and the member stays up as a follower that can store
// nothing — and may be elected again.
type LogStore struct {
	dir string

	mu sync.RWMutex
	// removing is held while compaction removes the files of segments it
	// took out of segs (outside mu, so that appends go on: each removal
	// syncs the directory), and by any other removal, so that removals
	// stay in order on disk: a crash never leaves a gap. Taken after mu.
	removing sync.Mutex
	segs     []*segment // ascending; the last one is appended to
	first    uint64     // first visible index; 0 when empty
	last     uint64     // last index; 0 when empty
	buf      []byte     // StoreLogs' entry headers
	vec      [][]byte   // StoreLogs' write: headers, data and extensions
	err      error
	// segmentBytes is where a segment ends: logSegmentSize, smaller in
	// tests of many segments.
	segmentBytes int64
	// OnSync, when set, is told how long each durable write (write and
	// fdatasync) took. Set it before use.
	OnSync func(time.Duration)
	// OnFail, when set, is told once, with the store's lock held, of the
	// error that failed the store. Set it before use.
	OnFail func(error)
	// Pending times the StoreLogs and DeleteRange calls under way (write
	// and fsync, removals, and the wait for the lock) and the reads of
	// entries (GetLog): a disk that stopped answering shows there
	// (Replicator.LogWaiting) where OnSync never hears of it.
	Pending vfs.Pending
	// dropped is what OpenLogStore cut off the end of the log; nil when
	// nothing. Written by OpenLogStore only.
	dropped *Dropped
	// probed, when set (tests), is told of each entry prefixEnd is about
	// to read: a compaction may run in between.
	probed func(index uint64)
	// storing, when set (tests), is told once StoreLogs has begun timing
	// its write (Pending), before it takes the lock.
	storing func()
	// deleting, when set (tests), is told once DeleteRange has begun,
	// before it takes the lock.
	deleting func()
	// reading, when set (tests; under mu, read under its read lock), is
	// told before each read of an entry from a segment file, once it is
	// timed: a test's hook to hold it.
	reading func()
}

// Dropped is what OpenLogStore cut off the end of the log: a torn last
// write (never acknowledged, see OpenLogStore), or a segment file a crash
// left without its header. The caller logs it: an operator who finds
// fewer entries than a member stored hears why.
type Dropped struct {
	Segment string // the file
	// Offset is where the segment now ends; Bytes how many were cut off
	// there. A removed unfinished roll: 0, and the file's size.
	Offset, Bytes int64
	// FirstIndex…LastIndex are the entries dropped: from the first that
	// fails its check to the last of its write found intact after it
	// (FirstIndex alone when none is: the bytes of that write past the
	// cut are unreadable). 0, 0: no entry (an unfinished roll).
	FirstIndex, LastIndex uint64
}

// Dropped reports what OpenLogStore cut off the end of the log, if any.
func (s *LogStore) Dropped() (Dropped, bool) {
	if s.dropped == nil {
		return Dropped{}, false
	}
	return *s.dropped, true
}

// OpenLogStore opens or creates the log in dir. A torn last write in the
// last segment is truncated at its first bad entry: an entry that fails
// its check with no valid entry after it, or — in a version 2 segment —
// with valid entries after it of its own write only (writeFirst at or
// before the bad entry's index: a power cut during the write's fsync kept
// a later page of it and lost an earlier one). That write's fsync never
// returned, so StoreLogs never acknowledged any of it. A last segment
// without a header — empty or zeros, a roll a crash cut short — is
// removed. Damage anywhere else, or followed by an entry of a later write
// (so its own write was fsynced), is ErrCorrupt naming file and offset: a
// member never silently forgets entries it acknowledged. What it cut off
// or removed, Dropped reports.
func OpenLogStore(dir string) (*LogStore, error) {
	if err := vfs.MkdirAllDurable(dir); err != nil {
		return nil, fmt.Errorf("replicator: %w", err)
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.rlog"))
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	s := &LogStore{dir: dir, segmentBytes: logSegmentSize}
	for i, name := range names {
		seg, dropped, err := openSegment(name, i == len(names)-1)
		if err != nil {
			s.Close()
			return nil, err
		}
		if dropped != nil {
			s.dropped = dropped
		}
		if seg == nil {
			continue // an unfinished roll, removed
		}
		if s.last != 0 && len(seg.offs) > 0 && seg.first != s.last+1 {
			s.Close()
			seg.f.Close()
			return nil, fmt.Errorf("%w: %s starts at %d after %d", ErrCorrupt, name, seg.first, s.last)
		}
		s.segs = append(s.segs, seg)
		if len(seg.offs) > 0 {
			if s.first == 0 {
				s.first = seg.first
			}
			s.last = seg.first + uint64(len(seg.offs)) - 1
		}
	}
	return s, nil
}

// openSegment opens the segment file at path, and reports what it cut off
// its end (the last segment only); a nil segment when it was the last one
// and an unfinished roll, which it removes.
func openSegment(path string, last bool) (*segment, *Dropped, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("replicator: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("replicator: %w", err)
	}
	if len(data) < logHeaderSize || string(data[:4]) != logMagic {
		f.Close()
		if last && len(bytes.TrimLeft(data, "\x00")) == 0 { // empty, or zeros only
			// A roll the crash interrupted before the header was durable:
			// the new file's name reached the disk, its header did not. It
			// holds no entry (none is written before the header's sync).
			if err := os.Remove(path); err != nil {
				return nil, nil, fmt.Errorf("replicator: %w", err)
			}
			return nil, &Dropped{Segment: path, Bytes: int64(len(data))}, nil
		}
		return nil, nil, fmt.Errorf("%w: %s: bad segment header", ErrCorrupt, path)
	}
	seg := &segment{
		first:   binary.LittleEndian.Uint64(data[8:]),
		version: binary.LittleEndian.Uint32(data[4:]),
		path:    path,
		f:       f,
	}
	if seg.version != 1 && seg.version != logVersion {
		f.Close()
		return nil, nil, fmt.Errorf("%w: %s: unknown segment version %d", ErrCorrupt, path, seg.version)
	}
	if named, ok := segmentFirst(path); !ok || named != seg.first {
		f.Close()
		return nil, nil, fmt.Errorf("%w: %s: header says first index %d", ErrCorrupt, path, seg.first)
	}
	var dropped *Dropped
	off := int64(logHeaderSize)
	for off < int64(len(data)) {
		index := seg.first + uint64(len(seg.offs))
		n, ok := checkEntry(data[off:], index, seg.version)
		if !ok {
			if !last {
				f.Close()
				return nil, nil, fmt.Errorf("%w: %s at offset %d: entry %d fails its check", ErrCorrupt, path, off, index)
			}
			later, lastOfWrite := seg.laterWriteAfter(data, off, index)
			if later >= 0 {
				f.Close()
				return nil, nil, fmt.Errorf("%w: %s at offset %d: entry %d fails its check, a later write's entries follow at offset %d",
					ErrCorrupt, path, off, index, later)
			}
			// Torn last write: the crash hit it before its fsync returned.
			if err = f.Truncate(off); err == nil {
				err = f.Sync()
			}
			if err != nil {
				f.Close()
				return nil, nil, fmt.Errorf("replicator: truncating %s: %w", path, err)
			}
			dropped = &Dropped{Segment: path, Offset: off, Bytes: int64(len(data)) - off,
				FirstIndex: index, LastIndex: max(index, lastOfWrite)}
			break
		}
		if raft.LogType(data[off+logRecHeader+16]) == raft.LogConfiguration {
			seg.membership = append(seg.membership, index)
		}
		seg.offs = append(seg.offs, off)
		off += int64(n)
	}
	if last && off > logHeaderSize {
		// What was read may be only the page cache's (a failed fsync
		// stopped the last run: the kernel keeps the pages it could not
		// write, marked clean). Written again and synced, the entries
		// appended after them are not acknowledged after a hole — the
		// journal's Open does the same (journal/doc.go, contract 2).
		if _, err = f.WriteAt(data[:off], 0); err == nil {
			err = f.Sync()
		}
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("replicator: rewriting %s: %w", path, err)
		}
	}
	seg.size = off
	seg.trim.Reset(off)
	return seg, dropped, nil
}

// laterWriteAfter returns the offset of a valid entry of a later index,
// stored by a later write than the bad entry at off (of that index), or
// -1 if none follows off. With one, the bad entry's write was fsynced: it
// is damage, not a torn last write. A version 1 segment does not record
// writes: any valid entry of a later index counts. With none, lastOfWrite
// is the highest index of the valid entries of the bad entry's own write
// after it (0: none).
func (seg *segment) laterWriteAfter(data []byte, off int64, index uint64) (later int64, lastOfWrite uint64) {
	fixed := bodyFixed(seg.version)
	for p := off + 1; p+logRecHeader+int64(fixed) <= int64(len(data)); p++ {
		i := binary.LittleEndian.Uint64(data[p+logRecHeader:])
		if i <= index || i >= index+1<<20 {
			continue
		}
		if _, ok := checkEntry(data[p:], i, seg.version); !ok {
			continue
		}
		if seg.version == 1 || binary.LittleEndian.Uint64(data[p+logRecHeader+logWriteFirst:]) > index {
			return p, 0
		}
		lastOfWrite = max(lastOfWrite, i)
	}
	return -1, lastOfWrite
}

// bodyFixed is the size of an entry body's fixed fields in a segment of
// the version.
func bodyFixed(version uint32) int {
	if version == 1 {
		return logBodyFixedV1
	}
	return logBodyFixed
}

// checkEntry reports the size of the valid entry at the start of b, in a
// segment of the version.
func checkEntry(b []byte, index uint64, version uint32) (int, bool) {
	fixed := bodyFixed(version)
	if len(b) < logRecHeader+fixed {
		return 0, false
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n < fixed || len(b) < logRecHeader+n {
		return 0, false
	}
	body := b[logRecHeader : logRecHeader+n]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[4:]) ||
		binary.LittleEndian.Uint64(body) != index {
		return 0, false
	}
	if int(binary.LittleEndian.Uint32(body[fixed-4:])) > n-fixed {
		return 0, false
	}
	if version != 1 && binary.LittleEndian.Uint64(body[logWriteFirst:]) > index {
		return 0, false
	}
	return logRecHeader + n, true
}

// IsMonotonic tells raft the store cannot hold gaps: after a snapshot
// restore raft deletes every entry instead of leaving a gap.
func (s *LogStore) IsMonotonic() bool { return true }

// FirstIndex implements raft.LogStore.
func (s *LogStore) FirstIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.first, s.err
}

// LastIndex implements raft.LogStore.
func (s *LogStore) LastIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.last, s.err
}

// GetLog implements raft.LogStore. An entry that cannot be read back, or
// reads back damaged (Open checked it), fails the store (OnFail): raft
// would only log it — a leader then never again replicates to a follower
// that needs the entry, and leads on.
func (s *LogStore) GetLog(index uint64, l *raft.Log) error {
	s.mu.RLock()
	err := s.getLog(index, l)
	s.mu.RUnlock()
	if err == nil || errors.Is(err, raft.ErrLogNotFound) {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fail(err)
}

func (s *LogStore) getLog(index uint64, l *raft.Log) error {
	if s.err != nil {
		return s.err
	}
	if s.first == 0 || index < s.first || index > s.last {
		return raft.ErrLogNotFound
	}
	seg := s.segs[s.segmentOf(index)]
	off, end := seg.entry(index)
	b := make([]byte, end-off)
	if err := s.readAt(seg, b, off); err != nil {
		return fmt.Errorf("replicator: reading %s at %d: %w", seg.path, off, err)
	}
	if _, ok := checkEntry(b, index, seg.version); !ok {
		return fmt.Errorf("%w: %s at offset %d", ErrCorrupt, seg.path, off)
	}
	body := b[logRecHeader:]
	fixed := bodyFixed(seg.version)
	dataLen := int(binary.LittleEndian.Uint32(body[fixed-4:]))
	*l = raft.Log{
		Index:      index,
		Term:       binary.LittleEndian.Uint64(body[8:]),
		Type:       raft.LogType(body[16]),
		AppendedAt: time.Unix(0, int64(binary.LittleEndian.Uint64(body[17:]))),
		Data:       body[fixed : fixed+dataLen],
	}
	if ext := body[fixed+dataLen:]; len(ext) > 0 {
		l.Extensions = ext
	}
	return nil
}

// entryType is the type of the entry at index, read alone from its
// header (not checked: GetLog reads and checks the whole entry) — for
// membershipAt, which reads the whole entry only when it is a membership
// entry.
func (s *LogStore) entryType(index uint64) (raft.LogType, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.err != nil {
		return 0, s.err
	}
	if s.first == 0 || index < s.first || index > s.last {
		return 0, raft.ErrLogNotFound
	}
	seg := s.segs[s.segmentOf(index)]
	off, _ := seg.entry(index)
	var typ [1]byte
	if err := s.readAt(seg, typ[:], off+logRecHeader+16); err != nil {
		return 0, fmt.Errorf("replicator: reading %s at %d: %w", seg.path, off, err)
	}
	return raft.LogType(typ[0]), nil
}

// membershipAtOpen is the indexes of the membership entries the log held
// when OpenLogStore read it, ascending: it reads every entry to check it,
// so they are found without a read of their own. Entries removed or
// stored since may be among them or missing.
func (s *LogStore) membershipAtOpen() []uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var at []uint64
	for _, seg := range s.segs {
		at = append(at, seg.membership...)
	}
	return at
}

// readAt reads b from seg at off, timed (Pending) with the allowance of
// a write of as many bytes (flushAllowance), as the store's writes are:
// a read that hangs on a disk that stopped answering holds the read lock
// (every StoreLogs waits behind it) and raft's goroutine that asked —
// its main loop, or the replication to a follower — and was seen by the
// disk-stall watch only once the next StoreLogs had waited its limit.
// The wait for the read lock is not timed: whoever holds it is (a
// StoreLogs within its flush allowance must not make the read behind it
// a stall).
func (s *LogStore) readAt(seg *segment, b []byte, off int64) error {
	defer s.Pending.End(s.Pending.BeginAllowing(flushAllowance(int64(len(b)))))
	if s.reading != nil {
		s.reading()
	}
	_, err := seg.f.ReadAt(b, off)
	return err
}

// prefixEnd returns the last index of the longest prefix of the log
// whose batch entries all satisfy in, and the log's first index: end is
// first-1 when the prefix is empty, both are 0 when the log is. in must
// hold of a prefix of the batches and not after (an entry that cannot be
// read counts as not): entries carry inputs in the log's order, so a
// binary search finds the end, reading a few dozen entries of any log.
// Other entries (membership, a leader's no-op) go with the batch after
// them.
//
// A compaction under the search (raft's, after the node's Compact)
// removes entries the search then reads as not satisfying in: it went
// left of entries that do, to no prefix at all (forgetThrough took a log
// still holding a dropped input for done). The search is made again
// until the log's first index held through it.
func (s *LogStore) prefixEnd(in func(Header) bool) (end, first uint64) {
	for {
		end, first, again := s.prefixEndOnce(in)
		if !again {
			return end, first
		}
	}
}

// prefixEndOnce is one search of prefixEnd; again reports that the log's
// first index moved while it ran.
func (s *LogStore) prefixEndOnce(in func(Header) bool) (end, first uint64, again bool) {
	first, ferr := s.FirstIndex()
	last, lerr := s.LastIndex()
	if ferr != nil || lerr != nil || first == 0 || last < first {
		return 0, 0, false
	}
	// past(i): the first batch entry at or after i does not satisfy in
	// (true past the log's end).
	past := func(i uint64) bool {
		for ; i <= last; i++ {
			if s.probed != nil {
				s.probed(i)
			}
			var l raft.Log
			if s.GetLog(i, &l) != nil {
				return true
			}
			if l.Type == raft.LogCommand {
				b, err := ParseBatch(l.Data)
				return err != nil || !in(b.Header)
			}
		}
		return true
	}
	n := sort.Search(int(last-first+1), func(k int) bool { return past(first + uint64(k)) })
	if now, err := s.FirstIndex(); err == nil && now != first {
		return 0, 0, true
	}
	return first + uint64(n) - 1, first, false
}

// segmentOf is the position in segs of the segment holding index, which
// the store holds (first ≤ index ≤ last).
func (s *LogStore) segmentOf(index uint64) int {
	i, _ := slices.BinarySearchFunc(s.segs, index, func(g *segment, x uint64) int {
		if g.first > x {
			return 1
		}
		if g.first+uint64(len(g.offs)) <= x {
			return -1
		}
		return 0
	})
	return i
}

// entry is where the segment's entry index starts and ends in its file.
func (seg *segment) entry(index uint64) (start, end int64) {
	k := index - seg.first
	end = seg.size
	if k+1 < uint64(len(seg.offs)) {
		end = seg.offs[k+1]
	}
	return seg.offs[k], end
}

// Within is the last index such that the entries after index after, up
// to it, take at most budget bytes as stored — at least after+1 when the
// store holds it (an entry larger than budget goes alone) — and the
// budget left past it. With the store holding nothing after after, it is
// after, and budget. What the FSM may be given at once (Replicator.commitLimit).
func (s *LogStore) Within(after uint64, budget int64) (last uint64, left int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	index := max(after+1, s.first)
	if s.first == 0 || index > s.last {
		return after, budget
	}
	last, left = index-1, budget
	for i := s.segmentOf(index); i < len(s.segs) && last < s.last; i++ {
		seg := s.segs[i]
		lastHere := min(seg.first+uint64(len(seg.offs))-1, s.last)
		start, _ := seg.entry(last + 1)
		// The first entry past the budget (lastHere+1: none).
		k := sort.Search(int(lastHere-last), func(k int) bool {
			_, end := seg.entry(last + 1 + uint64(k))
			return end-start > left
		})
		if k == 0 && last < index {
			k = 1 // the first entry goes, however large
		}
		if k == 0 {
			return last, left
		}
		_, end := seg.entry(last + uint64(k))
		last, left = last+uint64(k), max(0, left-(end-start))
		if last < lastHere {
			return last, left
		}
	}
	return last, left
}

// StoreLog implements raft.LogStore.
func (s *LogStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs appends the entries and makes them durable with one write
// and one fsync (one per segment when the batch fills one), each entry
// recording the first index of its write (writeFirst).
//
// It is timed (Pending) from before the lock — a DeleteRange holding it
// waits on the disk too — and counted as under way only once its bytes
// could have been flushed at flushFloor: a follower catching up writes
// up to raftBatchEntries entries of ~200 KB with one fsync (~51 MB),
// which a healthy slow disk can take longer than
// cluster.disk_stall_timeout to flush.
func (s *LogStore) StoreLogs(logs []*raft.Log) error {
	var size int64
	for _, l := range logs {
		size += int64(len(l.Data) + len(l.Extensions))
	}
	defer s.Pending.End(s.Pending.BeginAllowing(flushAllowance(size)))
	if s.storing != nil {
		s.storing()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	for len(logs) > 0 {
		if s.last != 0 && logs[0].Index != s.last+1 {
			return fmt.Errorf("replicator: store index %d after %d", logs[0].Index, s.last)
		}
		seg := s.active()
		// A version 1 segment is not appended to: its entries have no
		// writeFirst, and a torn write there could not be told from damage.
		if seg == nil || seg.version != logVersion || seg.size >= s.segmentBytes ||
			(len(seg.offs) == 0 && seg.first != logs[0].Index) {
			var err error
			if seg, err = s.roll(logs[0].Index); err != nil {
				return s.fail(err)
			}
		}
		if !seg.reserved {
			// Its blocks reserved before its first append since it was
			// rolled, opened or truncated, its size left alone (the format
			// is the bytes written): the appends up to segmentBytes
			// allocate nothing. Asked once: a filesystem that refuses it is
			// not asked at every append.
			vfs.ReserveAhead(seg.f, s.segmentBytes)
			seg.reserved = true
		}
		// Each entry's header in buf, which holds them all without
		// growing (vec points into it), and its data and extensions as
		// raft holds them: written with one WriteVecAt, not copied.
		s.buf = slices.Grow(s.buf[:0], len(logs)*(logRecHeader+logBodyFixed))
		s.vec = s.vec[:0]
		n := 0
		offs := len(seg.offs)
		var written int64
		for _, l := range logs {
			seg.offs = append(seg.offs, seg.size+written)
			start := len(s.buf)
			s.buf = appendEntryHeader(s.buf, l, logs[0].Index)
			s.vec = append(s.vec, s.buf[start:], l.Data, l.Extensions)
			written += int64(logRecHeader + logBodyFixed + len(l.Data) + len(l.Extensions))
			n++
			if seg.size+written >= s.segmentBytes {
				break
			}
		}
		start := time.Now()
		_, err := vfs.WriteVecAt(seg.f, s.vec, seg.size)
		clear(s.vec) // raft's entries are not held here past the write
		if err != nil {
			seg.offs = seg.offs[:offs]
			return s.fail(fmt.Errorf("replicator: writing %s: %w", seg.path, err))
		}
		if err := seg.f.Sync(); err != nil {
			return s.fail(fmt.Errorf("replicator: syncing %s: %w", seg.path, err))
		}
		if s.OnSync != nil {
			s.OnSync(time.Since(start))
		}
		seg.size += written
		seg.trim.Synced(vfs.FromOS(seg.f), seg.size)
		if s.first == 0 {
			s.first = logs[0].Index
		}
		s.last = logs[n-1].Index
		logs = logs[n:]
	}
	return nil
}

// appendEntryHeader appends the start of l's record, stored by the
// write whose first entry is writeFirst, in the current version's
// layout: its record header, checksum included, and its fixed body
// fields. Its data and extensions follow it in the file.
func appendEntryHeader(dst []byte, l *raft.Log, writeFirst uint64) []byte {
	n := logBodyFixed + len(l.Data) + len(l.Extensions)
	start := len(dst)
	dst = slices.Grow(dst, logRecHeader+logBodyFixed)[:start+logRecHeader+logBodyFixed]
	body := dst[start+logRecHeader:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(n))
	binary.LittleEndian.PutUint64(body[0:], l.Index)
	binary.LittleEndian.PutUint64(body[8:], l.Term)
	body[16] = byte(l.Type)
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	binary.LittleEndian.PutUint64(body[17:], uint64(at))
	binary.LittleEndian.PutUint64(body[logWriteFirst:], writeFirst)
	binary.LittleEndian.PutUint32(body[logBodyFixed-4:], uint32(len(l.Data)))
	sum := crc32.Update(crc32.Checksum(body, castagnoli), castagnoli, l.Data)
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Update(sum, castagnoli, l.Extensions))
	return dst
}

func (s *LogStore) active() *segment {
	if len(s.segs) == 0 {
		return nil
	}
	return s.segs[len(s.segs)-1]
}

// roll starts a new segment whose first entry is index. An empty active
// segment is replaced.
func (s *LogStore) roll(index uint64) (*segment, error) {
	if seg := s.active(); seg != nil && len(seg.offs) == 0 {
		seg.f.Close()
		if err := os.Remove(seg.path); err != nil {
			return nil, err
		}
		s.segs = s.segs[:len(s.segs)-1]
	}
	if seg := s.active(); seg != nil {
		vfs.FromOS(seg.f).DropCache(0, seg.size) // finished: never written again
	}
	path := filepath.Join(s.dir, fmt.Sprintf("%020d.rlog", index))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, vfs.FileMode)
	if err != nil {
		return nil, err
	}
	var h [logHeaderSize]byte
	copy(h[:], logMagic)
	binary.LittleEndian.PutUint32(h[4:], logVersion)
	binary.LittleEndian.PutUint64(h[8:], index)
	if _, err = f.Write(h[:]); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = vfs.Default.SyncDir(s.dir)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	seg := &segment{first: index, version: logVersion, path: path, f: f, size: logHeaderSize}
	s.segs = append(s.segs, seg)
	return seg, nil
}

// DeleteRange removes entries min…max. Raft removes either a prefix
// (compaction after a snapshot) or a suffix (entries a new leader
// overwrites); a range in the middle is refused. A crash part-way leaves
// a log without gaps: segments are removed one at a time from the end the
// range is at.
//
// Each of its disk operations is timed (Pending) on its own — a
// segment's removal and directory sync, the truncate and fsync — so raft
// truncating its log on a disk that stopped answering shows in the
// disk-stall watch, while a compaction's tens of removals on a healthy
// slow disk are not summed into one. The wait for the lock is not timed:
// whoever holds it is (a StoreLogs within its flush allowance must not
// make the DeleteRange behind it a stall).
func (s *LogStore) DeleteRange(min, max uint64) error {
	if s.deleting != nil {
		s.deleting()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.first == 0 || max < s.first || min > s.last {
		return nil
	}
	switch {
	case min <= s.first && max >= s.last: // everything, newest segment first
		for len(s.segs) > 0 {
			if err := s.removeSegment(len(s.segs) - 1); err != nil {
				return err
			}
		}
		s.first, s.last = 0, 0
	case min <= s.first: // prefix: drop whole segments, hide the rest
		k := 0
		for k < len(s.segs)-1 && s.segs[k+1].first <= max+1 {
			k++
		}
		gone := slices.Clone(s.segs[:k])
		s.segs = slices.Delete(s.segs, 0, k)
		s.first = max + 1
		if len(gone) == 0 {
			return nil
		}
		// The files go without mu: a compaction after a snapshot removes
		// tens of segments, each with a directory sync, and held the
		// leader's appends (and every commit) meanwhile. Readers no longer
		// reach them (first is past them), and removing keeps any other
		// removal until these are gone, oldest first.
		s.removing.Lock()
		s.mu.Unlock()
		err := s.removeFiles(gone)
		s.removing.Unlock()
		s.mu.Lock() // the deferred Unlock
		if err != nil {
			return s.fail(err)
		}
	case max >= s.last: // suffix: drop whole segments, truncate the one min is in
		for len(s.segs) > 1 && s.active().first >= min {
			if err := s.removeSegment(len(s.segs) - 1); err != nil {
				return err
			}
		}
		// min > s.first >= the first segment's first, so the segment
		// left holds min-1 and k >= 1; k is its entry count when min was
		// the first entry of a segment just removed: nothing to truncate.
		seg := s.active()
		if k := min - seg.first; k < uint64(len(seg.offs)) {
			seg.size = seg.offs[k]
			seg.offs = seg.offs[:k]
			if err := s.truncate(seg); err != nil {
				return s.fail(err)
			}
			seg.reserved = false // the truncate freed its blocks past size
			seg.trim.Reset(seg.size)
		}
		s.last = min - 1
	default:
		return fmt.Errorf("replicator: cannot delete %d…%d inside %d…%d", min, max, s.first, s.last)
	}
	return nil
}

// removeSegment deletes segment i, the first or the last, and syncs the
// directory before the next change: were removals left to the disk's
// order, a crash could bring back a removed segment beside a later one
// gone — entries with a gap, which OpenLogStore refuses.
func (s *LogStore) removeSegment(i int) error {
	s.removing.Lock() // after a compaction's removals
	defer s.removing.Unlock()
	seg := s.segs[i]
	s.segs = slices.Delete(s.segs, i, i+1)
	if err := s.removeFile(seg); err != nil {
		return s.fail(err)
	}
	return nil
}

// removeFiles closes and deletes the segments' files in order, syncing
// the directory after each (see removeSegment).
func (s *LogStore) removeFiles(segs []*segment) error {
	for _, seg := range segs {
		if err := s.removeFile(seg); err != nil {
			return err
		}
	}
	return nil
}

// removeFile closes and deletes seg's file and syncs the directory,
// timed (Pending) as one disk operation.
func (s *LogStore) removeFile(seg *segment) error {
	defer s.Pending.End(s.Pending.Begin())
	deletesOnDisk()
	seg.f.Close()
	if err := os.Remove(seg.path); err != nil {
		return err
	}
	return vfs.Default.SyncDir(s.dir)
}

// truncate cuts seg's file to seg.size and fsyncs it, timed (Pending).
func (s *LogStore) truncate(seg *segment) error {
	defer s.Pending.End(s.Pending.Begin())
	deletesOnDisk()
	if err := seg.f.Truncate(seg.size); err != nil {
		return err
	}
	return seg.f.Sync()
}

// deletesOnDisk is called, timed, before each of DeleteRange's disk
// operations (a file's removal, a truncate): a test's hook to hold it.
var deletesOnDisk = func() {}

func (s *LogStore) fail(err error) error {
	if s.err == nil {
		s.err = err
		if s.OnFail != nil {
			s.OnFail(err)
		}
	}
	return s.err
}

// Close closes the segment files.
func (s *LogStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for _, seg := range s.segs {
		if e := seg.f.Close(); err == nil {
			err = e
		}
	}
	s.segs = nil
	if s.err == nil {
		s.err = errors.New("replicator: log store closed")
	}
	return err
}

// segmentFirst parses a segment file name.
func segmentFirst(name string) (uint64, bool) {
	n, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(name), ".rlog"), 10, 64)
	return n, err == nil
}
