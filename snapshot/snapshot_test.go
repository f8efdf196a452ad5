package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ringex/ringex/vfs"
)

func TestWriteNewestPrune(t *testing.T) {
	s, _ := OpenStore(t.TempDir(), nil)
	for _, seq := range []int64{10, 20, 30} {
		if _, err := s.Write(Snapshot{Seq: seq, Hash: uint64(seq * 7), Payload: bytes.Repeat([]byte{byte(seq)}, 100)}); err != nil {
			t.Fatal(err)
		}
	}
	snap, skipped, err := s.Newest(0)
	if err != nil || len(skipped) != 0 || snap.Seq != 30 || snap.Hash != 210 || !bytes.Equal(snap.Payload, bytes.Repeat([]byte{30}, 100)) {
		t.Fatalf("newest = %+v %v %v", snap.Seq, skipped, err)
	}
	if snap, _, _ := s.Newest(25); snap.Seq != 20 {
		t.Fatalf("newest at or below 25 = %d", snap.Seq)
	}
	oldest, err := s.Prune(2)
	if err != nil || oldest != 20 {
		t.Fatalf("prune: %d %v", oldest, err)
	}
	if seqs, _ := s.List(); len(seqs) != 2 || seqs[0] != 20 {
		t.Fatalf("after prune: %v", seqs)
	}
}

// Prune counts only snapshots that verify: keep 2 with the newest but one
// damaged at rest keeps the two good ones around it (and the damaged one,
// newer than the oldest kept), and returns the older good one as the
// journal's retention bound. With none that verifies it deletes nothing.
func TestPruneCountsOnlyGoodSnapshots(t *testing.T) {
	s, _ := OpenStore(t.TempDir(), nil)
	damage := func(seq int64) {
		p := filepath.Join(s.dir, fileName(seq))
		b, _ := os.ReadFile(p)
		b[len(b)-6] ^= 1
		os.WriteFile(p, b, 0o644)
	}
	for _, seq := range []int64{10, 20} {
		s.Write(Snapshot{Seq: seq, Payload: []byte("state")})
	}
	damage(20)
	s.Write(Snapshot{Seq: 30, Payload: []byte("state")})
	oldest, err := s.Prune(2)
	if seqs, _ := s.List(); err != nil || oldest != 10 || len(seqs) != 3 {
		t.Fatalf("prune: oldest %d, kept %v, %v", oldest, seqs, err)
	}
	s.Write(Snapshot{Seq: 40, Payload: []byte("state")})
	if oldest, err = s.Prune(2); err != nil || oldest != 30 {
		t.Fatalf("prune: oldest %d %v", oldest, err)
	}
	if seqs, _ := s.List(); len(seqs) != 2 || seqs[0] != 30 {
		t.Fatalf("kept %v", seqs)
	}
	damage(30)
	damage(40)
	if oldest, err = s.Prune(2); err != nil || oldest != 0 {
		t.Fatalf("prune with none good: oldest %d %v", oldest, err)
	}
	if seqs, _ := s.List(); len(seqs) != 2 {
		t.Fatalf("prune with none good deleted: %v left", seqs)
	}
}

// Verify, reading a chunk at a time, judges a file as Read does: whole
// files of one and of several chunks pass, and every damage fails both.
func TestVerifyAgreesWithRead(t *testing.T) {
	s, _ := OpenStore(t.TempDir(), nil)
	for seq, size := range map[int64]int{1: 100, 2: 3<<20 + 5} {
		s.Write(Snapshot{Seq: seq, Hash: 9, Payload: bytes.Repeat([]byte{7}, size)})
		if _, err := s.Read(seq); err != nil {
			t.Fatal(err)
		}
		if err := s.Verify(seq); err != nil {
			t.Fatalf("%d payload bytes: %v", size, err)
		}
	}
	path := filepath.Join(s.dir, fileName(2))
	good, _ := os.ReadFile(path)
	for name, damage := range map[string]func([]byte) []byte{
		"payload flip":  func(b []byte) []byte { b[2<<20] ^= 1; return b },
		"checksum flip": func(b []byte) []byte { b[len(b)-1] ^= 1; return b },
		"sequence":      func(b []byte) []byte { b[8] ^= 1; return b },
		"truncated":     func(b []byte) []byte { return b[:len(b)-3] },
		"header only":   func(b []byte) []byte { return b[:20] },
		"four bytes":    func(b []byte) []byte { return b[:4] },
		"empty":         func(b []byte) []byte { return nil },
	} {
		os.WriteFile(path, damage(bytes.Clone(good)), 0o644)
		_, rerr := s.Read(2)
		if verr := s.Verify(2); !errors.Is(verr, ErrCorrupt) || !errors.Is(rerr, ErrCorrupt) {
			t.Errorf("%s: Verify %v, Read %v", name, verr, rerr)
		}
	}
}

// A damaged newest snapshot (flipped byte, truncation) is skipped with a
// reason and the previous one is used.
func TestNewestFallsBackPastDamage(t *testing.T) {
	for _, damage := range []string{"flip", "truncate", "empty"} {
		dir := t.TempDir()
		s, _ := OpenStore(dir, nil)
		s.Write(Snapshot{Seq: 1, Hash: 1, Payload: []byte("old state")})
		path, _ := s.Write(Snapshot{Seq: 2, Hash: 2, Payload: []byte("new state")})
		b, _ := os.ReadFile(path)
		switch damage {
		case "flip":
			b[headerSize[version]+2] ^= 1
		case "truncate":
			b = b[:len(b)-3]
		case "empty":
			b = nil
		}
		os.WriteFile(path, b, 0o644)
		snap, skipped, err := s.Newest(0)
		if err != nil || snap.Seq != 1 || len(skipped) != 1 || !errors.Is(skipped[0], ErrCorrupt) {
			t.Fatalf("%s: %d %v %v", damage, snap.Seq, skipped, err)
		}
	}
}

// A whole snapshot of a format version above this build's — a later
// build wrote it, and the node was downgraded — is ErrNewerVersion, not
// ErrCorrupt, to Read, Verify and Newest (which skips it, as it skips
// damage; the node refuses to start past it): the operator is to start
// a build that reads it, not to look for a bad disk. The same bump with
// the checksum not matching is damage to the version field.
func TestNewerVersionIsNotDamage(t *testing.T) {
	s, _ := OpenStore(t.TempDir(), nil)
	s.Write(Snapshot{Seq: 1, Hash: 1, Payload: []byte("old state")})
	path, _ := s.Write(Snapshot{Seq: 2, Hash: 2, Rules: 6, Payload: []byte("new state")})
	good, _ := os.ReadFile(path)
	newer := bytes.Clone(good[:len(good)-4])
	binary.LittleEndian.PutUint32(newer[4:], version+1)
	newer = binary.LittleEndian.AppendUint32(newer, crc32.Checksum(newer, castagnoli))
	os.WriteFile(path, newer, 0o644)
	_, rerr := s.Read(2)
	verr := s.Verify(2)
	snap, skipped, err := s.Newest(0)
	for what, e := range map[string]error{"Read": rerr, "Verify": verr} {
		if !errors.Is(e, ErrNewerVersion) || errors.Is(e, ErrCorrupt) || !strings.Contains(e.Error(), fmt.Sprintf("format version %d", version+1)) {
			t.Errorf("%s of a newer build's snapshot: %v, want ErrNewerVersion naming its version", what, e)
		}
	}
	if err != nil || snap.Seq != 1 || len(skipped) != 1 || !errors.Is(skipped[0], ErrNewerVersion) {
		t.Errorf("Newest past a newer build's snapshot: %d, skipped %v, %v", snap.Seq, skipped, err)
	}
	if _, err := s.RulesBetween(1, 3); !errors.Is(err, ErrRulesUnknown) || !errors.Is(err, ErrNewerVersion) {
		t.Errorf("its rules: %v, want them unknown, for its version", err)
	}

	damaged := bytes.Clone(good)
	binary.LittleEndian.PutUint32(damaged[4:], version+1)
	os.WriteFile(path, damaged, 0o644)
	_, rerr = s.Read(2)
	for what, e := range map[string]error{"Read": rerr, "Verify": s.Verify(2)} {
		if !errors.Is(e, ErrCorrupt) || errors.Is(e, ErrNewerVersion) {
			t.Errorf("%s of a snapshot whose version field is damaged: %v, want ErrCorrupt", what, e)
		}
	}
}

// A crash between writing the temporary file and renaming it leaves the
// previous snapshot in force; the stray temp file is ignored, then removed.
func TestCrashBeforeRenameKeepsPrevious(t *testing.T) {
	dir := t.TempDir()
	s, _ := OpenStore(dir, nil)
	s.Write(Snapshot{Seq: 5, Hash: 5, Payload: []byte("five")})
	efs := &vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpRename}
	crashing, _ := OpenStore(dir, efs)
	if _, err := crashing.Write(Snapshot{Seq: 9, Hash: 9, Payload: []byte("nine")}); err == nil {
		t.Fatal("write succeeded through a failing rename")
	}
	// Simulate the crash leaving the temp file behind.
	os.WriteFile(filepath.Join(dir, fileName(9)+tmpSuffix), Encode(Snapshot{Seq: 9, Hash: 9, Payload: []byte("nine")}), 0o644)
	snap, _, err := s.Newest(0)
	if err != nil || snap.Seq != 5 {
		t.Fatalf("newest after crash = %d, %v", snap.Seq, err)
	}
	s.Write(Snapshot{Seq: 12, Hash: 12, Payload: []byte("twelve")})
	if _, err := os.Stat(filepath.Join(dir, fileName(9)+tmpSuffix)); !os.IsNotExist(err) {
		t.Fatal("stray temp file not removed")
	}
}

func TestFsyncErrorFailsWrite(t *testing.T) {
	for _, op := range []vfs.Op{vfs.OpSync, vfs.OpSyncDir, vfs.OpWrite, vfs.OpWriteOut} {
		dir := t.TempDir()
		s, _ := OpenStore(dir, &vfs.ErrorFS{FS: vfs.Default, Op: op})
		if _, err := s.Write(Snapshot{Seq: 3, Hash: 3, Payload: []byte("x")}); !errors.Is(err, vfs.ErrInjected) {
			t.Fatalf("op %d: %v", op, err)
		}
		// A failing SyncDir comes after the rename: that file is whole
		// (its data synced) but its name may not survive a crash; left
		// in place, Prune would count it and could delete an older one.
		if seqs, err := s.List(); err != nil || len(seqs) != 0 {
			t.Fatalf("op %d: a failed write left snapshots %v (%v)", op, seqs, err)
		}
	}
	if _, _, err := (&Store{fs: vfs.Default, dir: t.TempDir()}).Newest(0); !errors.Is(err, ErrNone) {
		t.Fatal(err)
	}
}

// writeOutRecorder records the ranges a file was written out in, and
// checks each was written before.
type writeOutRecorder struct {
	vfs.File
	t       *testing.T
	written int64
	outs    [][2]int64
}

func (r *writeOutRecorder) WriteAt(p []byte, off int64) (int, error) {
	n, err := r.File.WriteAt(p, off)
	r.written = max(r.written, off+int64(n))
	return n, err
}

func (r *writeOutRecorder) WriteOut(off, n int64) error {
	if off+n > r.written {
		r.t.Errorf("wrote out [%d, %d) with only %d bytes written", off, off+n, r.written)
	}
	r.outs = append(r.outs, [2]int64{off, n})
	return r.File.WriteOut(off, n)
}

// A large snapshot is written out to the disk piece by piece as it is
// written, every byte of its payload once, so that its final fdatasync
// flushes next to nothing.
func TestWriteWritesPayloadOutPieceByPiece(t *testing.T) {
	payload := make([]byte, 3*writePiece+1000)
	for i := range payload {
		payload[i] = byte(i)
	}
	f, err := vfs.Default.Create(filepath.Join(t.TempDir(), "snap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec := &writeOutRecorder{File: f, t: t}
	snap := Snapshot{Seq: 4, Hash: 5, Payload: payload}
	if err := writeSynced(rec, snap); err != nil {
		t.Fatal(err)
	}
	if len(rec.outs) != 4 {
		t.Fatalf("written out in %d pieces, want 4: %v", len(rec.outs), rec.outs)
	}
	next := rec.outs[0][0]
	for _, o := range rec.outs {
		if o[0] != next || o[1] > writePiece {
			t.Fatalf("pieces written out %v: not one after another, each at most %d bytes", rec.outs, writePiece)
		}
		next = o[0] + o[1]
	}
	if next-rec.outs[0][0] != int64(len(payload)) {
		t.Fatalf("written out %d bytes of a %d-byte payload", next-rec.outs[0][0], len(payload))
	}
	got := make([]byte, rec.written)
	if _, err := f.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if back, err := Decode(got); err != nil || !bytes.Equal(back.Payload, payload) {
		t.Fatalf("the file written does not decode to the snapshot: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(Snapshot{Seq: 7, Hash: 8, Rules: 9, Payload: []byte("payload")}))
	f.Add(Encode(Snapshot{Seq: 7, Hash: 8, Rules: 9, InputChecksum: 0xabcdef01, InputKnown: true, Payload: []byte("payload")}))
	f.Add(encodeV1(7, 8, []byte("payload")))
	f.Add(encodeV2(7, 8, 9, []byte("payload")))
	f.Add(encodeV3(7, 8, 9, 0xabcdef01|inputKnown, []byte("payload")))
	f.Add(Encode(Snapshot{Seq: 7, Hash: 8, Sessions: [SessionSlots]uint64{1<<60 | 7, 1<<60 + 1<<20 | 3}, Payload: []byte("payload")}))
	f.Add([]byte("RXSN"))
	f.Fuzz(func(t *testing.T, b []byte) {
		snap, err := Decode(b)
		if errors.Is(err, ErrNewerVersion) {
			if v := binary.LittleEndian.Uint32(b[4:]); v <= version || errors.Is(err, ErrCorrupt) {
				t.Fatalf("version %d: %v", v, err)
			}
			return
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatal(err)
			}
			return
		}
		again := Encode(snap)
		switch binary.LittleEndian.Uint32(b[4:]) {
		case 1:
			again = encodeV1(snap.Seq, snap.Hash, snap.Payload)
		case 2:
			again = encodeV2(snap.Seq, snap.Hash, snap.Rules, snap.Payload)
		case 3:
			again = encodeV3(snap.Seq, snap.Hash, snap.Rules, binary.LittleEndian.Uint64(b[40:]), snap.Payload)
		}
		if !bytes.Equal(again, b) {
			t.Fatal("decoded snapshot does not re-encode to its bytes")
		}
	})
}

// encodeV1 is a version 1 file, as written before the rules field.
func encodeV1(seq int64, hash uint64, payload []byte) []byte {
	le := binary.LittleEndian
	b := append([]byte(magic), 1, 0, 0, 0)
	b = le.AppendUint64(b, uint64(seq))
	b = le.AppendUint64(b, hash)
	b = le.AppendUint64(b, uint64(len(payload)))
	b = append(b, payload...)
	return le.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// encodeV2 is a version 2 file, as written before the input field.
func encodeV2(seq int64, hash, rules uint64, payload []byte) []byte {
	le := binary.LittleEndian
	b := append([]byte(magic), 2, 0, 0, 0)
	b = le.AppendUint64(b, uint64(seq))
	b = le.AppendUint64(b, hash)
	b = le.AppendUint64(b, uint64(len(payload)))
	b = le.AppendUint64(b, rules)
	b = append(b, payload...)
	return le.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// encodeV3 is a version 3 file, as written before the sessions field.
func encodeV3(seq int64, hash, rules, input uint64, payload []byte) []byte {
	le := binary.LittleEndian
	b := append([]byte(magic), 3, 0, 0, 0)
	b = le.AppendUint64(b, uint64(seq))
	b = le.AppendUint64(b, hash)
	b = le.AppendUint64(b, uint64(len(payload)))
	b = le.AppendUint64(b, rules)
	b = le.AppendUint64(b, input)
	b = append(b, payload...)
	return le.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// Version 3 files (no sessions field) are still read, every slot of
// their sessions empty, and their other fields as before; version 4
// carries the sessions through a write and a read, slot for slot.
func TestReadsVersion3AndKeepsTheSessions(t *testing.T) {
	dir := t.TempDir()
	s, _ := OpenStore(dir, nil)
	if err := os.WriteFile(filepath.Join(dir, fileName(4)), encodeV3(4, 44, 0xbeef, 0x1234|inputKnown, []byte("v3")), 0o644); err != nil {
		t.Fatal(err)
	}
	snap, err := s.Read(4)
	if err != nil || snap.Hash != 44 || snap.Rules != 0xbeef || !snap.InputKnown || snap.InputChecksum != 0x1234 || string(snap.Payload) != "v3" {
		t.Fatalf("version 3 file read as %+v, %v", snap, err)
	}
	if snap.Sessions != [SessionSlots]uint64{} {
		t.Fatalf("version 3 file read with sessions %v, want none", snap.Sessions)
	}
	if err := s.Verify(4); err != nil {
		t.Fatalf("Verify of a version 3 file: %v", err)
	}
	var ids [SessionSlots]uint64
	for i := range ids {
		ids[i] = 1<<60 + uint64(i)<<20 | uint64(i+1)
	}
	ids[3] = 0 // an empty slot between full ones stays where it is
	if _, err := s.Write(Snapshot{Seq: 8, Hash: 88, Sessions: ids, Payload: []byte("v4")}); err != nil {
		t.Fatal(err)
	}
	if snap, err := s.Read(8); err != nil || snap.Sessions != ids || string(snap.Payload) != "v4" {
		t.Fatalf("version 4 file with sessions %v read as %+v, %v", ids, snap, err)
	}
	if err := s.Verify(8); err != nil {
		t.Fatalf("Verify of a version 4 file: %v", err)
	}
}

// Version 2 files (no input field) are still read, their input checksum
// unknown; versions 3 on carry it through a write and a read, and a
// checksum of zero stays known. An input field with a bit set past the
// flag is damage.
func TestReadsVersion2AndKeepsTheInputChecksum(t *testing.T) {
	dir := t.TempDir()
	s, _ := OpenStore(dir, nil)
	if err := os.WriteFile(filepath.Join(dir, fileName(4)), encodeV2(4, 44, 0xbeef, []byte("v2")), 0o644); err != nil {
		t.Fatal(err)
	}
	if snap, err := s.Read(4); err != nil || snap.Rules != 0xbeef || snap.InputKnown || string(snap.Payload) != "v2" {
		t.Fatalf("version 2 file read as %+v, %v", snap, err)
	}
	for seq, sum := range map[int64]uint32{8: 0xfeedf00d, 9: 0} {
		if _, err := s.Write(Snapshot{Seq: seq, Hash: 88, InputChecksum: sum, InputKnown: true, Payload: []byte("v3")}); err != nil {
			t.Fatal(err)
		}
		if snap, err := s.Read(seq); err != nil || !snap.InputKnown || snap.InputChecksum != sum || string(snap.Payload) != "v3" {
			t.Fatalf("version 3 file with input checksum %08x read as %+v, %v", sum, snap, err)
		}
	}
	b := Encode(Snapshot{Seq: 5, InputKnown: true, Payload: []byte("x")})
	b[40+5] = 1 // bit 40
	b = binary.LittleEndian.AppendUint32(b[:len(b)-4], crc32.Checksum(b[:len(b)-4], castagnoli))
	if _, err := Decode(b); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("input field with bit 40 set: %v, want ErrCorrupt", err)
	}
}

// Version 1 files (no rules field) are still read; later versions carry
// the rules fingerprint through a write and a read.
func TestReadsVersion1AndKeepsRules(t *testing.T) {
	dir := t.TempDir()
	s, _ := OpenStore(dir, nil)
	if err := os.WriteFile(filepath.Join(dir, fileName(4)), encodeV1(4, 44, []byte("old format")), 0o644); err != nil {
		t.Fatal(err)
	}
	if snap, err := s.Read(4); err != nil || snap.Hash != 44 || snap.Rules != 0 || string(snap.Payload) != "old format" {
		t.Fatalf("version 1 file read as %+v, %v", snap, err)
	}
	if _, err := s.Write(Snapshot{Seq: 8, Hash: 88, Rules: 0xfeed, Payload: []byte("new format")}); err != nil {
		t.Fatal(err)
	}
	if snap, _, err := s.Newest(0); err != nil || snap.Seq != 8 || snap.Rules != 0xfeed || string(snap.Payload) != "new format" {
		t.Fatalf("a file of this version read as %+v, %v", snap, err)
	}
}

// A snapshot larger than one write is written a piece at a time (with
// its checksum computed along), and the file holds exactly Encode's bytes.
func TestLargeSnapshotWrittenInPieces(t *testing.T) {
	s, _ := OpenStore(t.TempDir(), nil)
	payload := make([]byte, 5*writePiece+123)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	snap := Snapshot{Seq: 9, Hash: 3, Rules: 5, Payload: payload}
	path, err := s.Write(snap)
	if err != nil {
		t.Fatal(err)
	}
	if file, err := os.ReadFile(path); err != nil || !bytes.Equal(file, Encode(snap)) {
		t.Fatalf("the file is not Encode's bytes (read: %v)", err)
	}
	got, err := s.Read(9)
	if err != nil || !bytes.Equal(got.Payload, payload) || got.Rules != 5 || got.Hash != 3 {
		t.Fatalf("read back: %v", err)
	}
}

// The snapshot of input 0 records the rules the journal began under: a
// resend or a replay from the start needs it, so Prune keeps it and does
// not count it among the keep newest.
func TestPruneKeepsTheSnapshotOfInputZero(t *testing.T) {
	s, _ := OpenStore(t.TempDir(), nil)
	for _, seq := range []int64{0, 10, 20, 30} {
		if _, err := s.Write(Snapshot{Seq: seq, Payload: []byte("state")}); err != nil {
			t.Fatal(err)
		}
	}
	oldest, err := s.Prune(2)
	if seqs, _ := s.List(); err != nil || oldest != 20 || !slices.Equal(seqs, []int64{0, 20, 30}) {
		t.Fatalf("prune: oldest %d, kept %v, %v", oldest, seqs, err)
	}
}

// RemoveTemps deletes the temporary files of snapshots and rules marks
// whose writes were cut short, returns their paths, and leaves every
// other file.
func TestRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(Snapshot{Seq: 5, Hash: 5, Payload: []byte("five")}); err != nil {
		t.Fatal(err)
	}
	temps := []string{fileName(9) + tmpSuffix, markName(9) + tmpSuffix}
	for _, name := range append([]string{"notes.tmp"}, temps...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("cut short"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := s.RemoveTemps()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, name := range temps {
		want = append(want, filepath.Join(dir, name))
	}
	slices.Sort(removed)
	slices.Sort(want)
	if !slices.Equal(removed, want) {
		t.Fatalf("removed %v, want %v", removed, want)
	}
	left, _ := os.ReadDir(dir)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{fileName(5), "notes.tmp"}) {
		t.Fatalf("left %v", names)
	}
}

// FileSize is the size of the file Write makes, for payloads of several
// sizes (the node logs it as the file's).
func TestFileSizeIsTheWrittenFiles(t *testing.T) {
	for _, size := range []int{0, 1, 1000, 300 << 10} {
		dir := t.TempDir()
		s, err := OpenStore(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		snap := Snapshot{Seq: 7, Payload: make([]byte, size)}
		path, err := s.Write(snap)
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := FileSize(snap); got != st.Size() || got != int64(len(Encode(snap))) {
			t.Errorf("payload %d: FileSize %d, the file %d, Encode %d", size, got, st.Size(), len(Encode(snap)))
		}
	}
}
