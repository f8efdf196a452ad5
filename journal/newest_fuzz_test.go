package journal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/vfs"
)

// FuzzNewestRecord: any bytes in NewestFile — a disk's damage, a copy
// cut short, another tool's file — are either the record writeNewest
// writes for the first input readNewest returns, byte for byte, or
// refused as ErrCorrupt naming the file and how many bytes it held;
// never a panic, and never a first input below 1 (0 is "no record").
// Open's refusal of such a record is TestNewestSegmentRecordWrittenAndChecked.
func FuzzNewestRecord(f *testing.F) {
	// The records a roll writes, records of firsts no roll writes (0,
	// below), whole and checksummed, and the damage the corruption test
	// writes, as seeds.
	scratch := f.TempDir()
	for _, first := range []int64{1, 501, 1 << 40, 0, -1} {
		if err := writeNewest(vfs.Default, scratch, first); err != nil {
			f.Fatal(err)
		}
		good, err := os.ReadFile(filepath.Join(scratch, NewestFile))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(good)
		f.Add(flip(good, 9))
		f.Add(good[:12])
		f.Add(append(bytes.Clone(good), 0))
	}
	f.Add([]byte(nil))
	f.Add([]byte(newestMagic))

	// The input's file, written over by each input (readNewest reads
	// nothing else), and where an accepted first is written again.
	inputs, again := testkit.FuzzDir(f), testkit.FuzzDir(f)
	path := filepath.Join(inputs, NewestFile)
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		first, err := readNewest(vfs.Default, inputs)
		if err != nil {
			if first != 0 || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) ||
				!strings.Contains(err.Error(), "("+strconv.Itoa(min(len(data), newestSize+1))+" bytes)") {
				t.Fatalf("%x: readNewest = %d, %v; want ErrCorrupt naming %s and its size", data, first, err, path)
			}
			return
		}
		if first < 1 {
			t.Fatalf("%x: read as first input %d", data, first)
		}
		if err := writeNewest(vfs.Default, again, first); err != nil {
			t.Fatal(err)
		}
		written, err := os.ReadFile(filepath.Join(again, NewestFile))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(written, data) {
			t.Fatalf("%x read as first input %d, whose record is %x", data, first, written)
		}
	})
}
