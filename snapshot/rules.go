package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ringex/ringex/vfs"
)

// A rules mark keeps, after Prune deleted a snapshot, the rules that
// snapshot recorded when they differ from the older record's: the record
// that the inputs after its sequence were decided under other rules. A
// replay that starts before it and runs past it would decide those
// inputs under the wrong rules (rules A, then B, then A again: the
// snapshots of A on both sides pass every check of their own).
//
// File "<seq, 20 digits>.rules", 12 bytes (little-endian; part of the
// format):
//
//	offset 0  rules  uint64  engine.Config.Fingerprint
//	offset 8  crc    uint32  CRC-32C of the rules
//
// A snapshot Prune deleted damaged leaves an unknown mark instead: the
// file holds the 8 bytes "unknown\n". RulesBetween reports it as it
// reported the damaged snapshot (ErrRulesUnknown, naming the mark and
// when to delete it), and so does a build before it, for which it is a
// damaged mark. Nothing clears it but the operator, or a good copy of
// the snapshot put back (Prune then writes its record over the mark):
// the one file that said whether the rules changed there is gone, and
// the records on both sides do not tell — rules A, a start under B
// unmarked, A again reads as A, A. Deleted unasked, a replay or resend
// across it would decide inputs under rules they were not decided under.
const (
	marksSuffix = ".rules"
	markSize    = 12
	unknownMark = "unknown\n"
)

// RulesRecord is what a snapshot or a rules mark records: the inputs
// after Seq were decided under Rules (0: unknown, a version 1 file).
type RulesRecord struct {
	Seq   int64
	Rules uint64
}

// ErrRulesUnknown is wrapped when a record between two sequences cannot
// be read: whether the rules changed there is not known.
var ErrRulesUnknown = errors.New("snapshot: rules record unreadable")

// RulesBetween returns the rules records of the snapshots and rules marks
// taken after after and before before, oldest first: the inputs after a
// record, up to the next one, were decided under its rules, so these are
// the records that speak of inputs after+2 to before. It reads marks
// and verifies each snapshot whole, a chunk at a time (Verify): a
// damaged one is unknown, whatever its header says — once: one whose
// header reads as when it verified is not read whole again (headerRules).
// A snapshot and a mark at one sequence (a start under changed
// rules writes both) are one record, read from either. A sequence none
// of whose records can be read is left out, and the lowest such one's
// error (wrapping ErrRulesUnknown) is returned with the rest.
func (s *Store) RulesBetween(after, before int64) ([]RulesRecord, error) {
	listedAt := s.verified.mark() // before the listing: see keepOnly
	names, err := s.fs.List(s.dir)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	var out []RulesRecord
	unread := map[int64]error{}
	snaps := map[int64]bool{} // the snapshots listed
	defer s.verified.keepOnly(snaps, listedAt)
	for _, name := range names {
		seq, kind, ok := parseName(name)
		if ok && kind == suffix {
			snaps[seq] = true
		}
		if !ok || seq <= after || seq >= before {
			continue
		}
		var rules uint64
		if kind == suffix {
			rules, err = s.headerRules(seq)
		} else {
			rules, err = s.markRules(seq)
		}
		if err != nil {
			if _, seen := unread[seq]; !seen {
				unread[seq] = err
			}
			continue
		}
		out = append(out, RulesRecord{Seq: seq, Rules: rules})
	}
	slices.SortFunc(out, func(a, b RulesRecord) int { return int(a.Seq - b.Seq) })
	// A snapshot and a mark at one sequence record the same rules: one
	// readable is enough.
	out = slices.CompactFunc(out, func(a, b RulesRecord) bool { return a.Seq == b.Seq && (a.Rules == b.Rules || b.Rules == 0) })
	// Unknown only where neither could be read: the lowest such
	// sequence is reported.
	var firstErr error
	for _, seq := range slices.Sorted(maps.Keys(unread)) {
		if !slices.ContainsFunc(out, func(r RulesRecord) bool { return r.Seq == seq }) {
			firstErr = fmt.Errorf("%w: %w", ErrRulesUnknown, unread[seq])
			break
		}
	}
	return out, firstErr
}

// RecordPath is the file that holds the rules record at seq, for a
// report naming it: the snapshot taken there, or else its rules mark.
func (s *Store) RecordPath(seq int64) string {
	snap := filepath.Join(s.dir, fileName(seq))
	if f, err := s.fs.Open(snap); err == nil {
		f.Close()
		return snap
	}
	return filepath.Join(s.dir, markName(seq))
}

// parseName returns the sequence of a snapshot or rules mark file name
// and which it is (its suffix).
func parseName(name string) (int64, string, bool) {
	for _, suf := range []string{suffix, marksSuffix} {
		if len(name) == 20+len(suf) && strings.HasSuffix(name, suf) {
			if v, err := strconv.ParseInt(name[:20], 10, 64); err == nil {
				return v, suf, true
			}
		}
	}
	return 0, "", false
}

// headerRules reads the rules field of the snapshot taken at seq from its
// header, once the whole file verifies (Verify: its checksum covers the
// field, read a chunk at a time). Checked against the header alone, a
// damaged rules field of a snapshot Newest skipped as damaged read as a
// change of rules (ErrRulesChanged from a node's start, a rules mark Prune
// wrote for it with a good checksum of its own) instead of as damage.
//
// A file it verified is read whole once: its header is remembered
// (s.verified), and a header that reads the same again holds the rules
// that verified — the file, or another snapshot of seq with the same
// state hash and rules. Only the header is read then. A resend replays
// from a snapshot before its request and checks every record after it,
// and read each later snapshot whole per resend: three snapshots of a
// book of 100 000 resting orders (6.2 MB each), 3.4–4.7 ms a resend,
// page cache warm, against 14–20 ms for the restore of its start point
// (BenchmarkResendRulesCheck, node; the 2-vCPU dev VM of 2026-12-07) —
// and the whole of a resend served from the worker's cached engine.
// Damage to the rest of a file after it verified goes unseen here; it
// leaves the record it verified with, and Newest and Prune, which read
// a file whole, judge the file.
//
// The header remembered, and the rules returned, are those of the bytes
// Verify read and checked: a file put in the place of the one verified,
// or a rules field damaged, after the check and before a read of the
// header again would have been remembered as verified.
func (s *Store) headerRules(seq int64) (uint64, error) {
	if head, rules, err := s.unverifiedHeader(seq); err == nil && s.verified.has(seq, head) {
		return rules, nil
	}
	head, err := s.verify(seq)
	if err != nil {
		return 0, err
	}
	s.verified.add(seq, head)
	return rulesField(head), nil
}

// rulesField is the rules field of a checked header (0 in version 1,
// which has none).
func rulesField(head []byte) uint64 {
	if binary.LittleEndian.Uint32(head[4:]) < 2 {
		return 0
	}
	return binary.LittleEndian.Uint64(head[32:])
}

// unverifiedRules reads the rules field of the snapshot taken at seq from
// its header alone, checked as Read checks a header: what it says, not
// yet what it records (headerRules).
func (s *Store) unverifiedRules(seq int64) (uint64, error) {
	_, rules, err := s.unverifiedHeader(seq)
	return rules, err
}

// unverifiedHeader is unverifiedRules, with the header's bytes.
func (s *Store) unverifiedHeader(seq int64) ([]byte, uint64, error) {
	path := filepath.Join(s.dir, fileName(seq))
	f, err := s.fs.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, 0, err
	}
	b := make([]byte, min(size, int64(headerSize[version])))
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	_, head, err := checkHeader(b, size)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if got := int64(binary.LittleEndian.Uint64(b[8:])); got != seq {
		return nil, 0, fmt.Errorf("%s: %w: holds sequence %d", path, ErrCorrupt, got)
	}
	return b[:head], rulesField(b[:head]), nil
}

// verifiedHeaders remembers, by sequence, the header of each snapshot
// file headerRules verified whole. The zero value is empty; safe for
// concurrent use.
type verifiedHeaders struct {
	mu    sync.Mutex
	heads map[int64]verifiedHead
	adds  uint64 // the headers added so far
}

// verifiedHead is a header remembered, and the add that remembered it
// (verifiedHeaders.adds after it).
type verifiedHead struct {
	head string
	add  uint64
}

// has reports whether head is the header remembered for seq.
func (v *verifiedHeaders) has(seq int64, head []byte) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	h, ok := v.heads[seq]
	return ok && h.head == string(head)
}

// add remembers head as the header of the file of seq that verified.
func (v *verifiedHeaders) add(seq int64, head []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.heads == nil {
		v.heads = map[int64]verifiedHead{}
	}
	v.adds++
	v.heads[seq] = verifiedHead{string(head), v.adds}
}

// mark is the point keepOnly judges from: the headers added so far.
func (v *verifiedHeaders) mark() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.adds
}

// keepOnly forgets the headers of the snapshots not in listed (deleted:
// Prune's), so that the memory holds no more than the directory — of
// those added by mark, taken before the listing, only: a header another
// call added since may be of a snapshot written after the listing, and
// forgotten it cost a whole read of the file again. One of a snapshot
// deleted meanwhile stays until a later call's listing.
func (v *verifiedHeaders) keepOnly(listed map[int64]bool, mark uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for seq, h := range v.heads {
		if !listed[seq] && h.add <= mark {
			delete(v.heads, seq)
		}
	}
}

func markName(seq int64) string { return fmt.Sprintf("%020d%s", seq, marksSuffix) }

// markRules reads the rules mark at seq.
func (s *Store) markRules(seq int64) (uint64, error) {
	path := filepath.Join(s.dir, markName(seq))
	f, err := s.fs.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	b := make([]byte, max(markSize, len(unknownMark))+1)
	n, _ := f.ReadAt(b, 0)
	if string(b[:n]) == unknownMark {
		return 0, fmt.Errorf("%s: %w: an unknown rules mark: the snapshot taken at %d did not read (damaged, or of a later build) when Prune deleted it, "+
			"and no mark recorded its rules, so whether the inputs after %d were decided under other rules than those before is unknown — "+
			"they were if a node was started at input %d under other instruments, accounts or limits or another ringex build, which rewrote that snapshot. "+
			"No file left records which: the node cannot tell, and keeps this mark. Delete this file if no such start happened (the config and deploy history say; "+
			"the log line 'snapshot: rewritten under the changed instruments, accounts or limits' with seq %d says one did, but a start that crashed between "+
			"that rewrite and its mark — the way a rewrite goes unmarked — logged none); keep it otherwise: a replay or resend from before input %d then "+
			"stops there, as a replay across a change of rules must",
			path, ErrCorrupt, seq, seq, seq, seq, seq)
	}
	if n != markSize || crc32.Checksum(b[:8], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		return 0, fmt.Errorf("%s: %w: not a rules mark", path, ErrCorrupt)
	}
	return binary.LittleEndian.Uint64(b), nil
}

// markRulesChanges writes a rules mark for each snapshot of doomed (about
// to be deleted, oldest first) whose rules differ from those of the
// record before it, or that has none before it — and an unknown mark for
// each that is damaged where its rules may differ: its header unreadable,
// or other rules in it than the record's before it, unverified. A
// snapshot with a readable mark beside it is recorded by that mark; one
// that verifies beside a mark that does not read gets its own. A
// snapshot it cannot read for an I/O error is no damage: it returns the
// error, and Prune deletes nothing.
func (s *Store) markRulesChanges(doomed []int64) error {
	if len(doomed) == 0 {
		return nil
	}
	older, _ := s.RulesBetween(-1, doomed[0])
	prev, known := uint64(0), len(older) > 0
	if known {
		prev = older[len(older)-1].Rules
	}
	for _, seq := range doomed {
		rules, err := s.markRules(seq)
		if err == nil {
			prev, known = rules, true // the mark stays: it is the record
			continue
		}
		// A mark that does not read beside the snapshot — the unknown
		// mark of a damaged one deleted before, beside a good copy put
		// back from a backup — is replaced by the snapshot's record, its
		// rules those before it or not: left, it would say unknown again
		// once the snapshot is gone.
		unreadMark := !errors.Is(err, fs.ErrNotExist)
		// The header first: rules as the record's before it need no mark,
		// whatever the rest of the file holds, so the file is read whole
		// (verified: a damaged field is no record) only before a mark is
		// written — not every snapshot deleted, the oldest, likely read
		// from the disk.
		rules, err = s.unverifiedRules(seq)
		if err == nil && !unreadMark && (rules == 0 || known && rules == prev) {
			continue // of unknown rules (version 1), or no change
		}
		if err == nil {
			err = s.Verify(seq)
		}
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNewerVersion) {
			// Not read (too many open files, a read error): not damage.
			// Nothing is deleted; the next Prune reads it again.
			return fmt.Errorf("snapshot: reading the rules record of the snapshot at %d before deleting it: %w", seq, err)
		}
		if err != nil {
			// Damaged: whether the rules changed here is unknown, as
			// RulesBetween reported while the file was there. Deleted
			// without a mark, the inputs after it would read as decided
			// under the record's before it.
			if err := s.writeUnknownMark(seq); err != nil {
				return err
			}
			prev, known = 0, false // the next snapshot's rules are then a record
			continue
		}
		if err := s.writeMark(seq, rules); err != nil {
			return err
		}
		if rules != 0 {
			prev, known = rules, true
		}
	}
	return nil
}

// MarkRules writes a rules mark at seq now, besides the snapshot there:
// the record of a change of rules then survives damage to the
// snapshot's header.
func (s *Store) MarkRules(seq int64, rules uint64) error { return s.writeMark(seq, rules) }

// writeMark writes the rules mark at seq durably: a temporary file,
// fsynced, renamed, the directory fsynced.
func (s *Store) writeMark(seq int64, rules uint64) error {
	b := binary.LittleEndian.AppendUint64(nil, rules)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return s.writeMarkFile(seq, b)
}

// writeUnknownMark writes the unknown mark at seq durably (unknownMark).
func (s *Store) writeUnknownMark(seq int64) error {
	return s.writeMarkFile(seq, []byte(unknownMark))
}

// writeMarkFile writes b as the mark file at seq durably: a temporary
// file, fsynced, renamed, the directory fsynced.
func (s *Store) writeMarkFile(seq int64, b []byte) error {
	final := filepath.Join(s.dir, markName(seq))
	if err := vfs.ReplaceFile(s.fs, final, final+tmpSuffix, b); err != nil {
		return fmt.Errorf("snapshot: writing %s: %w", final, err)
	}
	return nil
}
