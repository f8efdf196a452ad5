package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ringex/ringex/vfs"
)

const (
	magic     = "RXSN"
	version   = 4
	suffix    = ".snap"
	tmpSuffix = ".tmp"
)

// headerSize is the bytes before the payload, by file version.
var headerSize = map[uint32]int{1: 32, 2: 40, 3: 48, 4: 48 + 8*SessionSlots}

// SessionSlots is how many session ids the sessions field holds
// (Snapshot.Sessions): part of the format.
const SessionSlots = 16

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors.
var (
	// ErrCorrupt is wrapped by every error about a damaged snapshot file.
	ErrCorrupt = errors.New("snapshot: corrupt snapshot")
	// ErrNewerVersion is wrapped by the error about a whole snapshot file
	// of a format version above this build's: a later ringex build wrote
	// it, and this one cannot read it. Not ErrCorrupt: the disk is not at
	// fault, and the remedy is a build that reads it, not a backup.
	ErrNewerVersion = errors.New("snapshot: written by a newer ringex build, which this build cannot read")
	// ErrNone is returned by Newest when no valid snapshot exists.
	ErrNone = errors.New("snapshot: no valid snapshot")
)

// Snapshot is one stored snapshot.
type Snapshot struct {
	Seq  int64
	Hash uint64
	// Rules fingerprints what matching depended on when the snapshot was
	// taken (engine.Config.Fingerprint): the inputs journaled after it
	// were decided under those rules. 0: unknown (a version 1 file).
	Rules uint64
	// InputChecksum ties the snapshot to the journal it was taken on:
	// the checksum the journal stores with input Seq's record
	// (journal.Checksum), when InputKnown. A journal whose record Seq has
	// another holds other inputs than those the state came from — a
	// snapshot copied from another node or exchange. Not known: Seq 0, a
	// file of version 1 or 2, or a record that could not be read when
	// the snapshot was written.
	InputChecksum uint32
	InputKnown    bool
	// Sessions holds, for each cluster member whose inputs the state was
	// built from, the highest session id its inputs up to Seq carry (the
	// member is in an id's low bits: gateway.SessionMember), in no
	// particular order; 0 is an empty slot. A node's gateway gives out
	// ids above its own member's after a restart from this snapshot,
	// though no input after Seq and no resting order names them. The
	// node fills it (node's sessionTable); this package stores it as
	// it is. All 0 in a file of version 1 to 3.
	Sessions [SessionSlots]uint64
	Payload  []byte
	Path     string
}

// Store is a directory of snapshots. Safe for concurrent use.
type Store struct {
	fs  vfs.FS
	dir string
	// verified remembers the headers of the snapshots RulesBetween read
	// whole and verified (headerRules).
	verified verifiedHeaders
}

// OpenStore opens (creating) the snapshot directory.
func OpenStore(dir string, fs vfs.FS) (*Store, error) {
	if fs == nil {
		fs = vfs.Default
	}
	if err := fs.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return &Store{fs: fs, dir: dir}, nil
}

func fileName(seq int64) string { return fmt.Sprintf("%020d%s", seq, suffix) }

// FileSize is the size of the file Write and Encode make of snap: its
// header, payload and checksum (the current version). A log of it is
// what an operator compares with the file on disk; the payload alone is
// not.
func FileSize(snap Snapshot) int64 { return int64(headerSize[version] + len(snap.Payload) + 4) }

// Encode returns the file bytes of a snapshot (the current version).
func Encode(snap Snapshot) []byte {
	b := make([]byte, 0, FileSize(snap))
	b = append(appendHeader(b, snap), snap.Payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// appendHeader appends the file header of snap (the current version).
func appendHeader(b []byte, snap Snapshot) []byte {
	le := binary.LittleEndian
	b = append(b, magic...)
	b = le.AppendUint32(b, version)
	b = le.AppendUint64(b, uint64(snap.Seq))
	b = le.AppendUint64(b, snap.Hash)
	b = le.AppendUint64(b, uint64(len(snap.Payload)))
	b = le.AppendUint64(b, snap.Rules)
	input := uint64(snap.InputChecksum)
	if snap.InputKnown {
		input |= inputKnown
	}
	b = le.AppendUint64(b, input)
	for _, id := range snap.Sessions {
		b = le.AppendUint64(b, id)
	}
	return b
}

// inputKnown marks the input field (offset 40) of a snapshot whose
// InputChecksum, its low 32 bits, is known.
const inputKnown = 1 << 32

// Decode parses and verifies snapshot file bytes, of any version.
func Decode(b []byte) (Snapshot, error) {
	le := binary.LittleEndian
	v, head, err := checkHeader(b, int64(len(b)))
	if errors.Is(err, ErrNewerVersion) {
		return Snapshot{}, newerOrCorrupt(v, err, crc32.Checksum(b[:len(b)-4], castagnoli), b[len(b)-4:])
	}
	if err != nil {
		return Snapshot{}, err
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != le.Uint32(b[len(b)-4:]) {
		return Snapshot{}, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	snap := Snapshot{Seq: int64(le.Uint64(b[8:])), Hash: le.Uint64(b[16:]), Payload: b[head : len(b)-4]}
	if v >= 2 {
		snap.Rules = le.Uint64(b[32:])
	}
	if err := checkInputField(v, b); err != nil {
		return Snapshot{}, err
	}
	if v >= 3 {
		input := le.Uint64(b[40:])
		snap.InputChecksum, snap.InputKnown = uint32(input), input&inputKnown != 0
	}
	if v >= 4 {
		for i := range snap.Sessions {
			snap.Sessions[i] = le.Uint64(b[48+8*i:])
		}
	}
	return snap, nil
}

// checkInputField checks the input field of a version v header at the
// start of b (checkHeader passed: b holds the whole header). Verify
// checks it too: a file it passes and Read refuses counted as good for
// Prune, which deleted the older snapshot Newest then had to fall back to.
func checkInputField(v uint32, b []byte) error {
	if v < 3 {
		return nil
	}
	if input := binary.LittleEndian.Uint64(b[40:]); input>>32&^1 != 0 {
		return fmt.Errorf("%w: input field %#x has bits set past bit 32", ErrCorrupt, input)
	}
	return nil
}

// checkHeader checks the header at the start of b, of a file of size
// bytes, and returns its version and size. A version above this build's
// in a file long enough to end in a checksum is ErrNewerVersion, the
// rest of its header unread (its layout is the later build's): the
// caller checks the checksum (newerOrCorrupt) before believing it.
func checkHeader(b []byte, size int64) (v uint32, head int, err error) {
	le := binary.LittleEndian
	if len(b) < 8 || string(b[:4]) != magic {
		return 0, 0, fmt.Errorf("%w: bad header", ErrCorrupt)
	}
	v = le.Uint32(b[4:])
	head, ok := headerSize[v]
	if v > version && size >= 12 {
		return v, 0, fmt.Errorf("%w: format version %d, this build reads versions 1 to %d", ErrNewerVersion, v, version)
	}
	if !ok {
		return 0, 0, fmt.Errorf("%w: unknown version %d", ErrCorrupt, v)
	}
	if len(b) < head || size < int64(head)+4 {
		return 0, 0, fmt.Errorf("%w: bad header", ErrCorrupt)
	}
	if n := le.Uint64(b[24:]); n != uint64(size-int64(head)-4) {
		return 0, 0, fmt.Errorf("%w: payload length %d, file holds %d", ErrCorrupt, n, size-int64(head)-4)
	}
	return v, head, nil
}

// newerOrCorrupt returns newer, checkHeader's ErrNewerVersion for a file
// of version v, when the file's checksum (sum, its last 4 bytes) matches
// crc, the CRC-32C of the rest: every version ends so (doc.go).
// Otherwise the version field is as likely damage as a later build's
// doing: ErrCorrupt.
func newerOrCorrupt(v uint32, newer error, crc uint32, sum []byte) error {
	if crc != binary.LittleEndian.Uint32(sum) {
		return fmt.Errorf("%w: unknown version %d, checksum mismatch", ErrCorrupt, v)
	}
	return newer
}

// Write stores a snapshot atomically (replacing one taken at the same
// sequence) and returns its path. An error means the snapshot may not
// survive a crash, so nothing may be dropped on its account; the file
// may still be there: when syncing the directory fails after the rename,
// it stays under its final name, whole and valid (its bytes were synced),
// and a later start may use it like any other.
func (s *Store) Write(snap Snapshot) (string, error) {
	s.RemoveTemps() // what is left is no snapshot: this write goes on
	final := filepath.Join(s.dir, fileName(snap.Seq))
	tmp := final + tmpSuffix
	f, err := s.fs.Create(tmp)
	if err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	err = writeSynced(f, snap)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	replacing := false
	if err == nil {
		if old, oerr := s.fs.Open(final); oerr == nil {
			old.Close()
			replacing = true // its name is durable: a crash leaves the old file or the new one
		}
		err = s.fs.Rename(tmp, final)
	}
	if err == nil {
		if err = s.fs.SyncDir(s.dir); err != nil && !replacing {
			// Renamed, its name may not be durable, and an fsync that
			// failed once may later succeed without writing what it
			// lost: a snapshot left in place would count as good for
			// Prune, which could delete an older one that is durable.
			s.fs.Remove(final)
		}
	}
	if err != nil {
		s.fs.Remove(tmp)
		return "", fmt.Errorf("snapshot: writing %s: %w", final, err)
	}
	return final, nil
}

// writePiece is how much of a snapshot's payload one write takes; each
// piece is written out to the disk before the next (File.WriteOut).
const writePiece = 256 << 10

// writeSynced writes the file bytes Encode gives for snap from the start
// of f and fdatasyncs them, without copying the payload into a buffer of
// the whole file (it is tens of megabytes for a large book: 62 MB for
// 1 M resting orders).
//
// It writes the file out piece by piece as it goes, so the final
// fdatasync has next to nothing left to flush. On ext4 a file's
// fdatasync commits the filesystem's journal, and that commit first
// writes the dirty data of every file in it: written whole and synced
// once, a 62 MB snapshot held the trading journal's fdatasyncs up to
// 38 ms (the dev VM, 2026-12-04; 4–10 ms written out piece by piece).
func writeSynced(f vfs.File, snap Snapshot) error {
	off := int64(0)
	write := func(b []byte) error {
		n, err := f.WriteAt(b, off)
		off += int64(n)
		if err == nil && n != len(b) {
			err = io.ErrShortWrite
		}
		return err
	}
	head := appendHeader(nil, snap)
	crc := crc32.Checksum(head, castagnoli)
	if err := write(head); err != nil {
		return err
	}
	for p := snap.Payload; len(p) > 0; {
		piece := p[:min(writePiece, len(p))]
		p = p[len(piece):]
		crc = crc32.Update(crc, castagnoli, piece)
		if err := write(piece); err != nil {
			return err
		}
		if err := f.WriteOut(off-int64(len(piece)), int64(len(piece))); err != nil {
			return err
		}
	}
	if err := write(binary.LittleEndian.AppendUint32(nil, crc)); err != nil {
		return err
	}
	return f.Sync()
}

// RemoveTemps deletes the leftovers of interrupted writes (snapshots'
// and rules marks' temporary files) and returns the paths it deleted.
// Only the store's writer may call it: a write under way has its
// temporary file there too. A node calls it when it opens the directory,
// before it writes anything; Write calls it too.
func (s *Store) RemoveTemps() ([]string, error) {
	names, err := s.fs.List(s.dir)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	var removed []string
	for _, n := range names {
		if strings.HasSuffix(n, suffix+tmpSuffix) || strings.HasSuffix(n, marksSuffix+tmpSuffix) {
			path := filepath.Join(s.dir, n)
			if err := s.fs.Remove(path); err != nil {
				return removed, fmt.Errorf("snapshot: %w", err)
			}
			removed = append(removed, path)
		}
	}
	return removed, nil
}

// List returns the sequences of the stored snapshot files, oldest first.
func (s *Store) List() ([]int64, error) {
	names, err := s.fs.List(s.dir)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	var seqs []int64
	for _, n := range names {
		if len(n) == 20+len(suffix) && strings.HasSuffix(n, suffix) {
			if v, err := strconv.ParseInt(n[:20], 10, 64); err == nil {
				seqs = append(seqs, v)
			}
		}
	}
	return seqs, nil
}

// Newest returns the newest snapshot that verifies (at or below maxSeq
// when maxSeq > 0), with the errors of newer ones it skipped.
func (s *Store) Newest(maxSeq int64) (Snapshot, []error, error) {
	seqs, err := s.List()
	if err != nil {
		return Snapshot{}, nil, err
	}
	var skipped []error
	for i := len(seqs) - 1; i >= 0; i-- {
		if maxSeq > 0 && seqs[i] > maxSeq {
			continue
		}
		snap, err := s.Read(seqs[i])
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		return snap, skipped, nil
	}
	return Snapshot{}, skipped, ErrNone
}

// Read loads and verifies the snapshot taken at seq.
func (s *Store) Read(seq int64) (Snapshot, error) {
	path := filepath.Join(s.dir, fileName(seq))
	f, err := s.fs.Open(path)
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return Snapshot{}, fmt.Errorf("snapshot: %s: %w", path, err)
	}
	snap, err := Decode(b)
	if err != nil {
		return Snapshot{}, fmt.Errorf("%s: %w", path, err)
	}
	if snap.Seq != seq {
		return Snapshot{}, fmt.Errorf("%s: %w: holds sequence %d", path, ErrCorrupt, snap.Seq)
	}
	snap.Path = path
	return snap, nil
}

// Verify checks the snapshot taken at seq as Read does, reading it a
// chunk at a time instead of into memory.
func (s *Store) Verify(seq int64) error {
	_, err := s.verify(seq)
	return err
}

// verify is Verify, returning the header of the file it verified (a
// copy): the bytes the checksum covered, not those of a file put in its
// place since.
func (s *Store) verify(seq int64) ([]byte, error) {
	path := filepath.Join(s.dir, fileName(seq))
	f, err := s.fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if size < 12 {
		return nil, fmt.Errorf("%s: %w: bad header", path, ErrCorrupt)
	}
	buf := make([]byte, min(size, 1<<20))
	crc := uint32(0)
	var newer error // ErrNewerVersion, believed once the checksum matches
	var v uint32
	var head []byte
	for off := int64(0); off < size-4; {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-4-off)], off)
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("snapshot: %s: %w", path, err)
		}
		if n == 0 {
			return nil, fmt.Errorf("%s: %w: ends early", path, ErrCorrupt)
		}
		if off == 0 {
			var hs int
			v, hs, err = checkHeader(buf[:n], size)
			switch {
			case errors.Is(err, ErrNewerVersion):
				newer = err // its layout unknown: no sequence to check
			case err != nil:
				return nil, fmt.Errorf("%s: %w", path, err)
			default:
				if got := int64(binary.LittleEndian.Uint64(buf[8:])); got != seq {
					return nil, fmt.Errorf("%s: %w: holds sequence %d", path, ErrCorrupt, got)
				}
				if err := checkInputField(v, buf[:n]); err != nil {
					return nil, fmt.Errorf("%s: %w", path, err)
				}
				head = slices.Clone(buf[:hs])
			}
		}
		crc = crc32.Update(crc, castagnoli, buf[:n])
		off += int64(n)
	}
	var sum [4]byte
	if _, err := f.ReadAt(sum[:], size-4); err != nil && err != io.EOF {
		return nil, fmt.Errorf("snapshot: %s: %w", path, err)
	}
	if newer != nil {
		return nil, fmt.Errorf("%s: %w", path, newerOrCorrupt(v, newer, crc, sum[:]))
	}
	if crc != binary.LittleEndian.Uint32(sum[:]) {
		return nil, fmt.Errorf("%s: %w: checksum mismatch", path, ErrCorrupt)
	}
	return head, nil
}

// Prune keeps the newest keep snapshots that verify, and every newer one
// that does not, and deletes the rest. It returns the sequence of the
// oldest kept one that verifies — journal segments wholly below it are
// no longer needed for recovery — or 0 while fewer than keep verify: the
// one a recovery past a damaged newest falls back to is then the
// snapshot of input 0, which needs the journal from its start.
// Damaged snapshots do not count: counted, one damaged at rest among the
// newest had the next Prune delete the last good one behind it, and the
// journal up to the damaged one go with it.
//
// The snapshot of input 0 — the empty state a data directory starts with
// — is never deleted and never counted: it records the rules the
// journal's first inputs were decided under, which a resend or a replay
// from the journal's start needs (without it, a resend after a config
// change rebuilt old reports under the new limits), and it is small. A
// deleted snapshot whose rules differ from the record before it leaves a
// rules mark (rules.go).
func (s *Store) Prune(keep int) (int64, error) {
	seqs, err := s.List()
	if len(seqs) > 0 && seqs[0] == 0 {
		seqs = seqs[1:] // kept
	}
	if err != nil || len(seqs) == 0 {
		return 0, err
	}
	keep = max(keep, 1)
	cut, valid := -1, 0 // the oldest kept snapshot that verifies
	for i := len(seqs) - 1; i >= 0 && valid < keep; i-- {
		if s.Verify(seqs[i]) == nil {
			valid++
			cut = i
		}
	}
	if cut < 0 {
		return 0, nil
	}
	if err := s.markRulesChanges(seqs[:cut]); err != nil {
		return 0, err // nothing deleted: the record of a rules change would go with it
	}
	for _, seq := range seqs[:cut] {
		if err := s.fs.Remove(filepath.Join(s.dir, fileName(seq))); err != nil {
			return 0, fmt.Errorf("snapshot: %w", err)
		}
	}
	if cut > 0 {
		if err := s.fs.SyncDir(s.dir); err != nil {
			return 0, fmt.Errorf("snapshot: %w", err)
		}
	}
	if valid < keep {
		// Fewer than keep good ones: the one to fall back to past a
		// damaged newest is the snapshot of input 0, which needs the
		// whole journal.
		return 0, nil
	}
	return seqs[cut], nil
}
