package vfs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteVecAt: buffers of every size, empty ones among them, more
// than one call takes (maxVec), land in the file as their concatenation
// at the offset, after what was there; a closed file's error names it.
func TestWriteVecAt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("head")); err != nil {
		t.Fatal(err)
	}
	var bufs [][]byte
	var want bytes.Buffer
	want.WriteString("head")
	for i := range 2*maxVec + 7 {
		b := bytes.Repeat([]byte{byte(i)}, i%5) // every fifth empty
		bufs = append(bufs, b)
		want.Write(b)
	}
	n, err := WriteVecAt(f, bufs, 4)
	if err != nil || n != int64(want.Len()-4) {
		t.Fatalf("WriteVecAt: %d bytes, %v; want %d, nil", n, err, want.Len()-4)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("file holds %d bytes, not the %d written in order", len(got), want.Len())
	}
	f.Close()
	var pe *os.PathError
	if _, err := WriteVecAt(f, [][]byte{[]byte("x")}, 0); !errors.As(err, &pe) || pe.Path != path {
		t.Fatalf("write to a closed file: %v, want an *os.PathError naming %s", err, path)
	}
}
