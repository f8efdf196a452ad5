package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// Every byte of a snapshot flipped (three ways), every truncation and an
// appended byte: Read and Verify refuse it and Newest falls back to the
// older snapshot. The header's every field is set, the sessions' too: a
// damaged session id would have a restart give out an id again.
func TestEveryByteDamagedFallsBack(t *testing.T) {
	s, _ := OpenStore(t.TempDir(), nil)
	s.Write(Snapshot{Seq: 1, Hash: 1, Rules: 5, Payload: []byte("old state")})
	path, _ := s.Write(Snapshot{Seq: 2, Hash: 2, Rules: 6, InputChecksum: 0xabcdef01, InputKnown: true,
		Sessions: [SessionSlots]uint64{1<<60 | 7, 1<<60 + 1<<20 | 3, 15: 1<<61 | 9}, Payload: bytes.Repeat([]byte("new state "), 7)})
	good, _ := os.ReadFile(path)
	check := func(what string, b []byte) {
		os.WriteFile(path, b, 0o644)
		snap, skipped, err := s.Newest(0)
		if err != nil || snap.Seq != 1 || len(skipped) != 1 {
			t.Fatalf("%s: newest %d skipped %v err %v", what, snap.Seq, skipped, err)
		}
		if s.Verify(2) == nil {
			t.Fatalf("%s: Verify passes", what)
		}
	}
	for i := range good {
		for _, x := range []byte{1, 0x80, 0xff} {
			b := bytes.Clone(good)
			b[i] ^= x
			check("flip", b)
		}
	}
	for n := 0; n < len(good); n++ {
		check("truncate", bytes.Clone(good[:n]))
	}
	check("extended", append(bytes.Clone(good), 0))
}

// Contract 1: "the previous snapshot is never touched". Write replacing
// a snapshot at the same sequence (a start under changed rules rewrites
// the journal's end snapshot) whose directory fsync fails keeps the file:
// its name was durable, so a crash leaves the old file or the new one.
// Before, Write removed the new file — which had replaced the old one —
// and no snapshot at that sequence was left.
func TestFailedRewriteKeepsASnapshot(t *testing.T) {
	dir := t.TempDir()
	good, _ := OpenStore(dir, nil)
	if _, err := good.Write(Snapshot{Seq: 5, Hash: 5, Rules: 1, Payload: []byte("state at 5")}); err != nil {
		t.Fatal(err)
	}
	failing, _ := OpenStore(dir, &vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpSyncDir})
	if _, err := failing.Write(Snapshot{Seq: 5, Hash: 5, Rules: 2, Payload: []byte("state at 5")}); err == nil {
		t.Fatal("setup: the write did not fail")
	}
	if _, err := good.Read(5); err != nil {
		t.Fatalf("the snapshot at 5 is gone after a failed rewrite: %v", err)
	}
}

// A file whose checksum matches but whose header Read refuses — the
// input field with bits set past bit 32 — Verify refuses too: Prune
// counts only what Verify passes, so it kept that one as the newest good
// snapshot and deleted the older one Newest then had to fall back to
// (and the journal before it went with it).
func TestVerifyRefusesWhatReadRefuses(t *testing.T) {
	s, _ := OpenStore(t.TempDir(), nil)
	s.Write(Snapshot{Seq: 1, Hash: 1, Payload: []byte("old state")})
	bad := Encode(Snapshot{Seq: 2, Hash: 2, Payload: []byte("new state")})
	bad[40+5] = 1 // bit 40 of the input field
	bad = appendChecksum(bad[:len(bad)-4])
	os.WriteFile(filepath.Join(s.dir, fileName(2)), bad, 0o600)
	if _, err := s.Read(2); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Read: %v, want ErrCorrupt", err)
	}
	if err := s.Verify(2); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Verify: %v, want ErrCorrupt as Read gives", err)
	}
	if oldest, err := s.Prune(1); err != nil || oldest != 1 {
		t.Fatalf("Prune(1) = %d, %v; want the snapshot of input 1 kept", oldest, err)
	}
	if snap, _, err := s.Newest(0); err != nil || snap.Seq != 1 {
		t.Fatalf("Newest after Prune: %d %v, want the snapshot of input 1", snap.Seq, err)
	}
}

// appendChecksum appends the CRC-32C of b, as a snapshot file ends.
func appendChecksum(b []byte) []byte {
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// FuzzVerifyAgreesWithRead: Verify, which reads a file a chunk at a time
// (Prune, a stop's snapshot check, ringex journal drop), passes exactly
// the files Read passes (Newest, which a start restores from), and
// calls ErrNewerVersion what Read does. With sum the file's last 4 bytes
// are made its checksum, so that the header's fields, not the checksum,
// are what is fuzzed.
func FuzzVerifyAgreesWithRead(f *testing.F) {
	f.Add(Encode(Snapshot{Seq: 7, Hash: 8, Rules: 9, InputChecksum: 0xabcdef01, InputKnown: true, Payload: []byte("payload")}), true)
	f.Add(Encode(Snapshot{Seq: 7, Hash: 8, Rules: 9, Payload: []byte("payload")}), false)
	f.Add(encodeV1(7, 8, []byte("payload")), true)
	f.Add(encodeV2(7, 8, 9, []byte("payload")), true)
	f.Add(encodeV3(7, 8, 9, 0xabcdef01|inputKnown, []byte("payload")), true)
	f.Add(Encode(Snapshot{Seq: 7, Hash: 8, Sessions: [SessionSlots]uint64{1<<60 | 7, 5: 1<<60 + 1<<20 | 3}, Payload: []byte("payload")}), true)
	f.Fuzz(func(t *testing.T, b []byte, sum bool) {
		if sum && len(b) >= 4 {
			b = appendChecksum(b[:len(b)-4])
		}
		s, err := OpenStore("/s", vfs.NewCrashFS())
		if err != nil {
			t.Fatal(err)
		}
		w, _ := s.fs.Create(filepath.Join(s.dir, fileName(7)))
		w.WriteAt(b, 0)
		w.Close()
		_, rerr := s.Read(7)
		verr := s.Verify(7)
		if (rerr == nil) != (verr == nil) || errors.Is(rerr, ErrNewerVersion) != errors.Is(verr, ErrNewerVersion) {
			t.Fatalf("Read: %v; Verify: %v", rerr, verr)
		}
	})
}
