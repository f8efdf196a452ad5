package journal

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ringex/ringex/vfs"
)

// ErrNothingToCut: the journal opens as it is (CutTornBatch).
var ErrNothingToCut = errors.New("journal: nothing to cut: the journal opens as it is")

// Cut is what CutTornBatch found in the last segment, and did.
type Cut struct {
	File   string // the last segment
	Offset int64  // its first bad record: the data is cut from here
	Bytes  int64  // bytes of data from Offset on (trailing zeros aside)
	// LastSeq is the journal's last sequence once cut.
	LastSeq int64
	// Records are the well-formed records found after Offset, with
	// sequences FirstCut…LastCut: what the cut takes out of the journal.
	Records, FirstCut, LastCut int64
	// SavedTo holds the Bytes cut, once applied ("" before).
	SavedTo string
}

// CutTornBatch mends the one journal Open refuses that a power loss can
// leave: with SyncBatch, a last batch whose fdatasync never finished may
// have reached the disk in part — a later page of it but not an earlier
// one — so the last segment holds a bad record with well-formed records
// after it. Open cannot tell that from damage to acknowledged records, so
// it refuses (ErrCorrupt, "valid records follow"); the operator, who can
// (no client was acknowledged past LastSeq, or the records are
// recoverable elsewhere), decides.
//
// CutTornBatch reports what it would cut. With apply it first copies the
// cut bytes, durably, to "<segment>.cut-<offset>" (".cut-<offset>.2" and
// on when an earlier cut at that offset kept its bytes) beside the segment (not
// a segment name: readers ignore it), then zeros the segment from the
// offset on and fsyncs it, so Open then finds the end of the data there.
// Anything else wrong — a bad header (of any segment), a sequence out
// of order — is returned as found, unmended. Earlier segments' records
// are not read: damage there comes back
// as ErrNothingToCut, and a caller that must say where it is reads the
// journal through (Inspect; ringex journal cut does). The caller must
// hold the directory's lock: no journal may be open on dir.
func CutTornBatch(dir string, fs vfs.FS, apply bool) (Cut, error) {
	if fs == nil {
		fs = vfs.Default
	}
	segs, err := listSegments(fs, dir)
	if err != nil {
		return Cut{}, fmt.Errorf("journal: %w", err)
	}
	if len(segs) == 0 {
		return Cut{}, fmt.Errorf("journal: no segments in %s", dir)
	}
	// Open checks every segment's header: damage there is not a torn
	// batch, and the journal does not open ("nothing to cut: the journal
	// opens as it is" was false).
	// Nor is a segment of another journal among them (ErrOtherJournal).
	var ids journalID
	if err := checkHeaders(fs, dir, segs[:len(segs)-1], &ids); err != nil {
		return Cut{}, err
	}
	name := segs[len(segs)-1]
	path := filepath.Join(dir, name)
	data, err := readSegment(fs, path, nil)
	if err != nil {
		return Cut{}, fmt.Errorf("journal: %w", err)
	}
	if err := addLastID(&ids, name, data); err != nil {
		return Cut{}, err
	}
	first := segmentFirst(name)
	if _, err := scanSegment(path, data, first, true, false); err == nil {
		return Cut{}, ErrNothingToCut
	}
	// Scanned as unsynced, the first bad record is a torn tail whatever
	// follows it; every other fault is still an error.
	scan, err := scanSegment(path, data, first, true, true)
	if err != nil {
		return Cut{}, err
	}
	cut := Cut{File: path, Offset: scan.end, Bytes: dataLen(data[scan.end:]), LastSeq: scan.last}
	cut.countRecords(data[min(scan.end+recordAlign, int64(len(data))):]) // a segment cut short may end within a record's alignment
	if !apply {
		return cut, nil
	}

	// Never over an earlier cut's bytes: the batch after a cut is
	// appended at the same offset, and may be torn there again (or a cut
	// stopped after saving is run again).
	saved := fmt.Sprintf("%s.cut-%d", path, cut.Offset)
	f, err := fs.Create(saved)
	for n := 2; errors.Is(err, iofs.ErrExist) && n < 1000; n++ {
		saved = fmt.Sprintf("%s.cut-%d.%d", path, cut.Offset, n)
		f, err = fs.Create(saved)
	}
	if err != nil {
		return cut, fmt.Errorf("journal: saving the cut bytes: %w", err)
	}
	_, err = f.WriteAt(data[cut.Offset:cut.Offset+cut.Bytes], 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.SyncDir(dir)
	}
	if err != nil {
		return cut, fmt.Errorf("journal: saving the cut bytes: %w", err)
	}
	cut.SavedTo = saved

	seg, err := fs.OpenReadWrite(path)
	if err != nil {
		return cut, fmt.Errorf("journal: %w", err)
	}
	defer seg.Close()
	// Zeroed in place, the tail reads as the data's end and the segment
	// keeps its size: truncated and grown again, a cut on a full disk
	// whose growth failed left a segment its data ran to the end of,
	// which Open refused (ErrEndsShort).
	if err := zeroRange(seg, cut.Offset, cut.Bytes); err != nil {
		return cut, fmt.Errorf("journal: cutting: %w", err)
	}
	if err := seg.Sync(); err != nil {
		return cut, fmt.Errorf("journal: cutting: %w", err)
	}
	return cut, nil
}

// countRecords counts the well-formed records in data, cut bytes, with
// sequences past c.LastSeq (Records, FirstCut, LastCut): a bad record
// is stepped over a record alignment at a time.
func (c *Cut) countRecords(data []byte) {
	var r Record
	for o := int64(0); o+recordHeader <= int64(len(data)); {
		size, res := decodeRecord(data[o:], &r)
		if res != decodedOK || r.Seq <= c.LastSeq {
			o += recordAlign
			continue
		}
		if c.Records == 0 {
			c.FirstCut = r.Seq
		}
		c.Records++
		c.LastCut = r.Seq
		o += int64(size)
	}
}

// KeptCuts returns the cuts whose bytes CutTornBatch kept beside the
// segments in dir ("<segment>.cut-<offset>", ".cut-<offset>.<n>") that
// hold records of inputs after last, the journal's last input now: the
// records a cut took out that the journal lacks. Each has File, Offset,
// Bytes (the kept file's size), SavedTo and the records after last;
// LastSeq is last. Written back into File at Offset, a kept file's bytes
// give the segment as it was before the cut, if nothing was appended
// there since.
func KeptCuts(dir string, fs vfs.FS, last int64) ([]Cut, error) {
	if fs == nil {
		fs = vfs.Default
	}
	names, err := fs.List(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var cuts []Cut
	for _, n := range names {
		seg, off, ok := keptName(n)
		if !ok {
			continue
		}
		data, err := readSegment(fs, filepath.Join(dir, n), nil)
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		c := Cut{File: filepath.Join(dir, seg), Offset: off, Bytes: int64(len(data)), LastSeq: last, SavedTo: filepath.Join(dir, n)}
		// The kept bytes end where the cut segment's data ended (dataLen):
		// the zeros a last record's payload ended with were not kept.
		// The segment read them as the zeros after its data.
		data = append(data, make([]byte, recordHeader+bodyFixed+MaxPayload)...)
		if c.countRecords(data); c.Records > 0 {
			cuts = append(cuts, c)
		}
	}
	return cuts, nil
}

// keptName parses the name of a file CutTornBatch kept a cut's bytes in,
// "<segment>.cut-<offset>" or ".cut-<offset>.<n>": the segment's name
// and the offset; ok is false for any other name.
func keptName(name string) (segment string, offset int64, ok bool) {
	seg, rest, ok := strings.Cut(name, segmentSuffix+".cut-")
	if !ok || len(seg)+len(segmentSuffix) != segmentNameLen {
		return "", 0, false
	}
	at, _, _ := strings.Cut(rest, ".")
	off, err := strconv.ParseInt(at, 10, 64)
	if err != nil || off < 0 {
		return "", 0, false
	}
	return seg + segmentSuffix, off, true
}

// ErrNotUncut: Uncut refused to write a cut's kept bytes back.
var ErrNotUncut = errors.New("journal: the kept bytes were not put back")

// Uncut writes the bytes a cut kept in kept (CutTornBatch's SavedTo)
// back into their segment, beside kept, at the cut's offset, and fsyncs
// it: the segment then reads as it did before the cut. It writes only
// over what the cut left — every byte there zero, or already the kept
// byte (put back before, in part or whole) — so a batch a node appended
// at the offset since the cut is never overwritten (ErrNotUncut, naming
// the first byte that differs); nor is a segment put back into that is
// no longer the journal's last (ErrNotUncut): the segments after it
// hold the sequences the kept records have; nor are kept bytes that
// would reach past the segment's end (ErrNotUncut): a cut never
// shortens its segment. kept is left where it is. It returns
// the cut put back: File, Offset, Bytes, SavedTo. The caller must hold
// the directory's lock: no journal may be open on it.
func Uncut(fs vfs.FS, kept string) (Cut, error) {
	if fs == nil {
		fs = vfs.Default
	}
	seg, off, ok := keptName(filepath.Base(kept))
	if !ok {
		return Cut{}, fmt.Errorf("%w: %s is not a file journal cut kept bytes in (<segment>.cut-<offset>)", ErrNotUncut, kept)
	}
	dir := filepath.Dir(kept)
	c := Cut{File: filepath.Join(dir, seg), Offset: off, SavedTo: kept}
	segs, err := listSegments(fs, dir)
	if err != nil {
		return c, fmt.Errorf("journal: %w", err)
	}
	if len(segs) == 0 || segs[len(segs)-1] != seg {
		return c, fmt.Errorf("%w: %s is not the journal's last segment: a node wrote segments after it since the cut, holding the sequences the kept records have",
			ErrNotUncut, c.File)
	}
	data, err := readSegment(fs, kept, nil)
	if err != nil {
		return c, fmt.Errorf("journal: %w", err)
	}
	c.Bytes = int64(len(data))
	f, err := fs.OpenReadWrite(c.File)
	if err != nil {
		return c, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	// A cut never shortens its segment: kept bytes reaching past its end
	// were not cut from it (a kept file renamed, or another's), and
	// written there they grew the segment — at an offset near 2^63, to
	// what no disk holds.
	size, err := f.Size()
	if err != nil {
		return c, fmt.Errorf("journal: %w", err)
	}
	if off > size-c.Bytes {
		return c, fmt.Errorf("%w: the %d bytes kept from offset %d reach past the end of %s (%d bytes): not bytes a cut took from it",
			ErrNotUncut, c.Bytes, off, c.File, size)
	}
	there := make([]byte, len(data))
	n, err := f.ReadAt(there, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("journal: %w", err)
	}
	for i, b := range there[:n] {
		if b != 0 && b != data[i] {
			return c, fmt.Errorf("%w: %s holds other data at offset %d, within the %d bytes from %d: written since the cut (a node started on the cut journal appends there), which the kept bytes would overwrite",
				ErrNotUncut, c.File, off+int64(i), c.Bytes, off)
		}
	}
	if _, err := f.WriteAt(data, off); err != nil {
		return c, fmt.Errorf("journal: putting back the cut bytes: %w", err)
	}
	if err := f.Sync(); err != nil {
		return c, fmt.Errorf("journal: putting back the cut bytes: %w", err)
	}
	return c, nil
}
