package journal

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ringex/ringex/vfs"
)

// DropsFile is the name, in a journal directory, of the operator's list
// of inputs the engine must not apply: an input the engine panics on is
// journaled, so every start replays it and panics again, on every
// cluster member. Listed, it is rejected instead (ringex journal drop;
// docs/runbook.md "An input the engine cannot apply").
//
// The file is text, one input per line: its sequence in decimal, then
// the checksum its record is stored with (Checksum) in 8 hex digits,
// then an optional note after '#'. Blank lines and lines starting with
// '#' are comments:
//
//	# input    checksum  note
//	1200391    3fa2c9d1  # dropped 2026-12-06T11:40:00Z
//
// An entry drops an input only when both match: a journal cut and
// written again reuses sequences, and the checksum keeps a stale entry
// from dropping another input that took the sequence. Journal readers
// ignore the file; segments are never changed for it.
const DropsFile = "dropped-inputs"

// Bounds of a drops file: it is read at every start and every replay,
// and a list of inputs the engine panics on is short. MaxDropsFileSize
// bounds its bytes, and also the drops section of a raft snapshot stream
// (node/install.go), which is such a file's content.
const (
	MaxDrops         = 1000
	MaxDropsFileSize = 64 << 10
)

// ErrBadDrops wraps every refusal of a drops file's content.
var ErrBadDrops = errors.New("journal: bad " + DropsFile + " file")

// Drop is one entry of a drops file.
type Drop struct {
	Seq      int64  // the input's sequence, > 0
	Checksum uint32 // Checksum of its record
	Note     string // free text, one line
}

// Drops is a parsed drops file. Its methods are safe on a nil *Drops,
// which lists nothing, and for concurrent use (it is never changed once
// parsed).
type Drops struct {
	entries []Drop // sorted by Seq, no Seq twice
	lo, hi  int64  // the least and greatest Seq listed
}

// Listed reports whether seq is listed, with the checksum its entry
// names. Outside the listed range it costs two compares. (It is not
// inlined: a stage that asks for every input checks for a nil list
// first.)
func (d *Drops) Listed(seq int64) (checksum uint32, ok bool) {
	if d == nil || seq < d.lo || seq > d.hi {
		return 0, false
	}
	i, ok := slices.BinarySearchFunc(d.entries, seq, func(e Drop, s int64) int { return cmp.Compare(e.Seq, s) })
	if !ok {
		return 0, false
	}
	return d.entries[i].Checksum, true
}

// Matches reports whether rec is an input the list drops: its sequence
// is listed with rec's checksum. listed is true when the sequence is
// listed at all: listed && !drop is an entry naming another input than
// the one the journal holds there.
func (d *Drops) Matches(rec *Record) (drop, listed bool) {
	want, listed := d.Listed(rec.Seq)
	if !listed {
		return false, false
	}
	return Checksum(rec) == want, true
}

// Entries returns the entries in sequence order.
func (d *Drops) Entries() []Drop {
	if d == nil {
		return nil
	}
	return slices.Clone(d.entries)
}

// Len is the number of entries.
func (d *Drops) Len() int {
	if d == nil {
		return 0
	}
	return len(d.entries)
}

// ParseDrops parses a drops file's content. An empty list is nil. Every
// refusal wraps ErrBadDrops and names the line.
func ParseDrops(b []byte) (*Drops, error) {
	if len(b) > MaxDropsFileSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrBadDrops, len(b), MaxDropsFileSize)
	}
	var entries []Drop
	for i, line := range strings.Split(string(b), "\n") {
		e, ok, err := parseDrop(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrBadDrops, i+1, err)
		}
		if !ok {
			continue
		}
		if len(entries) == MaxDrops {
			return nil, fmt.Errorf("%w: line %d: more than %d entries", ErrBadDrops, i+1, MaxDrops)
		}
		entries = append(entries, e)
	}
	return newDrops(entries)
}

// newDrops sorts entries and refuses a sequence listed twice.
func newDrops(entries []Drop) (*Drops, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	slices.SortStableFunc(entries, func(a, b Drop) int { return cmp.Compare(a.Seq, b.Seq) })
	for i := 1; i < len(entries); i++ {
		if entries[i].Seq == entries[i-1].Seq {
			return nil, fmt.Errorf("%w: input %d is listed twice", ErrBadDrops, entries[i].Seq)
		}
	}
	return &Drops{entries: entries, lo: entries[0].Seq, hi: entries[len(entries)-1].Seq}, nil
}

// parseDrop parses one line; ok false for a blank line or a comment.
func parseDrop(line string) (d Drop, ok bool, err error) {
	line = strings.TrimSuffix(line, "\r")
	body, note, _ := strings.Cut(line, "#")
	fields := strings.Fields(body)
	if len(fields) == 0 {
		return Drop{}, false, nil
	}
	if len(fields) != 2 {
		return Drop{}, false, fmt.Errorf("%q: want an input sequence and a checksum", line)
	}
	seq, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil || seq < 1 {
		return Drop{}, false, fmt.Errorf("%q: the input sequence is not a number above 0", fields[0])
	}
	if len(fields[1]) != 8 {
		return Drop{}, false, fmt.Errorf("%q: the checksum is not 8 hex digits", fields[1])
	}
	crc, err := strconv.ParseUint(fields[1], 16, 32)
	if err != nil {
		return Drop{}, false, fmt.Errorf("%q: the checksum is not 8 hex digits", fields[1])
	}
	return Drop{Seq: seq, Checksum: uint32(crc), Note: strings.TrimSpace(note)}, true, nil
}

// ReadDrops reads dir's drops file (fs nil: the OS). No file is an empty
// list (nil, nil); an unreadable or malformed one is an error, and the
// caller must not apply the journal without it: the inputs it lists
// would be applied.
func ReadDrops(fs vfs.FS, dir string) (*Drops, error) {
	b, err := readDropsFile(fs, dir)
	if err != nil || b == nil {
		return nil, err
	}
	d, err := ParseDrops(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, DropsFile), err)
	}
	return d, nil
}

// readDropsFile is the content of dir's drops file: nil when there is
// none, an error past its size bound.
func readDropsFile(fs vfs.FS, dir string) ([]byte, error) {
	if fs == nil {
		fs = vfs.Default
	}
	path := filepath.Join(dir, DropsFile)
	f, err := fs.Open(path)
	if errors.Is(err, iofs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("journal: %s: %w", path, err)
	}
	if size > MaxDropsFileSize {
		return nil, fmt.Errorf("%w: %s: %d bytes, more than %d", ErrBadDrops, path, size, MaxDropsFileSize)
	}
	b := make([]byte, size)
	if n, err := f.ReadAt(b, 0); err != nil && !(errors.Is(err, io.EOF) && int64(n) == size) {
		return nil, fmt.Errorf("journal: %s: %w", path, err)
	}
	return b, nil
}

// AddDrop lists d in dir's drops file, durably: the whole file written
// again to a temporary one, fsynced, renamed over it, the directory
// fsynced. added is false when d's input is listed with d's checksum
// already; listed with another checksum is an error. The file keeps its
// comments and notes.
func AddDrop(fs vfs.FS, dir string, d Drop) (added bool, err error) {
	n, err := AddDrops(fs, dir, []Drop{d})
	return n == 1, err
}

// AddDrops lists ds in dir's drops file as AddDrop lists one, with one
// write for them all (an fsync each cost a second per few hundred
// entries on a virtio disk): added counts those not listed already.
// Any entry AddDrop would refuse refuses them all, and nothing is
// written.
func AddDrops(fs vfs.FS, dir string, ds []Drop) (added int, err error) {
	if fs == nil {
		fs = vfs.Default
	}
	path := filepath.Join(dir, DropsFile)
	content, err := readDropsFile(fs, dir)
	if err != nil {
		return 0, err
	}
	old, err := ParseDrops(content)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	var lines []byte
	listed := make(map[int64]uint32, len(ds)) // ds's own entries, ahead of the file
	for _, d := range ds {
		if err := checkDrop(d); err != nil {
			return 0, err
		}
		crc, ok := old.Listed(d.Seq)
		if !ok {
			crc, ok = listed[d.Seq]
		}
		if ok {
			if crc == d.Checksum {
				continue
			}
			return 0, fmt.Errorf("journal: input %d is listed already, with checksum %08x, not %08x", d.Seq, crc, d.Checksum)
		}
		listed[d.Seq] = d.Checksum
		lines = append(lines, FormatDrop(d)...)
		lines = append(lines, '\n')
	}
	if len(listed) == 0 {
		return 0, nil
	}
	if old.Len()+len(listed) > MaxDrops {
		return 0, fmt.Errorf("journal: %s lists %d inputs; %d more pass %d, the most it may", path, old.Len(), len(listed), MaxDrops)
	}
	if content == nil {
		content = []byte(dropsHeader)
	}
	if len(content) > 0 && !bytes.HasSuffix(content, []byte("\n")) {
		content = append(content, '\n')
	}
	content = append(content, lines...)
	if err := WriteDrops(fs, dir, content); err != nil { // refused when the entries make it too large
		return 0, err
	}
	return len(listed), nil
}

// checkDrop refuses an entry no drops file may hold.
func checkDrop(d Drop) error {
	if d.Seq < 1 {
		return fmt.Errorf("journal: dropping input %d: sequences start at 1", d.Seq)
	}
	if strings.ContainsAny(d.Note, "\n\r") {
		return fmt.Errorf("journal: dropping input %d: the note has a line break", d.Seq)
	}
	return nil
}

// WriteDrops makes content dir's drops file, durably, replacing the one
// there: written to a temporary file, fsynced, renamed over it, the
// directory fsynced. Content ParseDrops refuses is refused, and nothing
// is written: the file would stop every start.
func WriteDrops(fs vfs.FS, dir string, content []byte) error {
	if fs == nil {
		fs = vfs.Default
	}
	path := filepath.Join(dir, DropsFile)
	if _, err := ParseDrops(content); err != nil {
		return fmt.Errorf("journal: %s: %w", path, err)
	}
	if err := vfs.ReplaceFile(fs, path, path+".tmp", content); err != nil {
		return fmt.Errorf("journal: writing %s: %w", path, err)
	}
	return nil
}

// FormatDrops is the content of a drops file listing entries, in their
// order, under the header comment a file AddDrop starts has.
func FormatDrops(entries []Drop) []byte {
	b := []byte(dropsHeader)
	for _, d := range entries {
		b = append(b, FormatDrop(d)...)
		b = append(b, '\n')
	}
	return b
}

// FormatDrop is d as a drops file line (without its line break).
func FormatDrop(d Drop) string {
	line := fmt.Sprintf("%-10d %08x", d.Seq, d.Checksum)
	if d.Note != "" {
		line += "  # " + d.Note
	}
	return line
}

const dropsHeader = `# Inputs the engine does not apply (ringex journal drop): each is rejected
# to its session as dropped-by-operator, at every start and replay of this
# journal. List the same inputs on every cluster member.
# See docs/runbook.md "An input the engine cannot apply".
# input    checksum
`
