package snapshot

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ringex/ringex/vfs"
)

func TestWriteNewestPrune(t *testing.T) {
	s, _ := OpenStore(t.TempDir(), nil)
	for _, seq := range []int64{10, 20, 30} {
		if _, err := s.Write(seq, uint64(seq*7), bytes.Repeat([]byte{byte(seq)}, 100)); err != nil {
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

// A damaged newest snapshot (flipped byte, truncation) is skipped with a
// reason and the previous one is used.
func TestNewestFallsBackPastDamage(t *testing.T) {
	for _, damage := range []string{"flip", "truncate", "empty"} {
		dir := t.TempDir()
		s, _ := OpenStore(dir, nil)
		s.Write(1, 1, []byte("old state"))
		path, _ := s.Write(2, 2, []byte("new state"))
		b, _ := os.ReadFile(path)
		switch damage {
		case "flip":
			b[headerSize+2] ^= 1
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

// A crash between writing the temporary file and renaming it leaves the
// previous snapshot in force; the stray temp file is ignored, then removed.
func TestCrashBeforeRenameKeepsPrevious(t *testing.T) {
	dir := t.TempDir()
	s, _ := OpenStore(dir, nil)
	s.Write(5, 5, []byte("five"))
	efs := &vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpRename}
	crashing, _ := OpenStore(dir, efs)
	if _, err := crashing.Write(9, 9, []byte("nine")); err == nil {
		t.Fatal("write succeeded through a failing rename")
	}
	// Simulate the crash leaving the temp file behind.
	os.WriteFile(filepath.Join(dir, fileName(9)+tmpSuffix), Encode(9, 9, []byte("nine")), 0o644)
	snap, _, err := s.Newest(0)
	if err != nil || snap.Seq != 5 {
		t.Fatalf("newest after crash = %d, %v", snap.Seq, err)
	}
	s.Write(12, 12, []byte("twelve"))
	if _, err := os.Stat(filepath.Join(dir, fileName(9)+tmpSuffix)); !os.IsNotExist(err) {
		t.Fatal("stray temp file not removed")
	}
}

func TestFsyncErrorFailsWrite(t *testing.T) {
	for _, op := range []vfs.Op{vfs.OpSync, vfs.OpSyncDir, vfs.OpWrite} {
		dir := t.TempDir()
		s, _ := OpenStore(dir, &vfs.ErrorFS{FS: vfs.Default, Op: op})
		if _, err := s.Write(3, 3, []byte("x")); !errors.Is(err, vfs.ErrInjected) {
			t.Fatalf("op %d: %v", op, err)
		}
	}
	if _, _, err := (&Store{fs: vfs.Default, dir: t.TempDir()}).Newest(0); !errors.Is(err, ErrNone) {
		t.Fatal(err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(7, 8, []byte("payload")))
	f.Add([]byte("RXSN"))
	f.Fuzz(func(t *testing.T, b []byte) {
		snap, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatal(err)
			}
			return
		}
		if !bytes.Equal(Encode(snap.Seq, snap.Hash, snap.Payload), b) {
			t.Fatal("decoded snapshot does not re-encode to its bytes")
		}
	})
}
