package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ringex/ringex/vfs"
)

func TestParseDrops(t *testing.T) {
	d, err := ParseDrops([]byte("# a comment\n\n  7  0000002a  # the note\r\n3 FFFFFFFF\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Drop{{Seq: 3, Checksum: 0xffffffff}, {Seq: 7, Checksum: 42, Note: "the note"}}
	if got := d.Entries(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("entries %v, want %v", got, want)
	}
	for seq, want := range map[int64]bool{2: false, 3: true, 5: false, 7: true, 8: false} {
		if _, ok := d.Listed(seq); ok != want {
			t.Errorf("Listed(%d) = %v", seq, ok)
		}
	}
	if d, err := ParseDrops([]byte("# nothing\n")); d != nil || err != nil || d.Len() != 0 {
		t.Fatalf("comments only: %v, %v; want an empty list", d, err)
	}
	if _, ok := (*Drops)(nil).Listed(1); ok {
		t.Fatal("a nil list lists an input")
	}
}

// Every refusal wraps ErrBadDrops and names its line.
func TestParseDropsRefusals(t *testing.T) {
	for _, tc := range []struct{ name, content, says string }{
		{"one field", "12\n", "line 1"},
		{"three fields", "12 0000002a extra\n", "line 1"},
		{"sequence zero", "0 0000002a\n", "line 1"},
		{"negative sequence", "-4 0000002a\n", "line 1"},
		{"sequence not a number", "x 0000002a\n", "line 1"},
		{"short checksum", "# c\n12 2a\n", "line 2"},
		{"long checksum", "12 00000002a\n", "line 1"},
		{"checksum not hex", "12 0000002g\n", "line 1"},
		{"checksum with a sign", "12 +000002a\n", "line 1"},
		{"listed twice", "12 0000002a\n12 0000002a\n", "listed twice"},
		{"too large", strings.Repeat("#", MaxDropsFileSize+1), "bytes"},
		{"too many", entries(MaxDrops + 1), fmt.Sprintf("line %d", MaxDrops+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDrops([]byte(tc.content))
			if !errors.Is(err, ErrBadDrops) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("%v, want ErrBadDrops saying %q", err, tc.says)
			}
		})
	}
}

// entries is a drops file listing inputs 1…n.
func entries(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%d 0000002a\n", i)
	}
	return b.String()
}

func TestAddDrop(t *testing.T) {
	dir := t.TempDir()
	if d, err := ReadDrops(nil, dir); d != nil || err != nil {
		t.Fatalf("no file: %v, %v; want an empty list", d, err)
	}
	for _, d := range []Drop{{Seq: 9, Checksum: 1, Note: "first"}, {Seq: 4, Checksum: 2}} {
		if added, err := AddDrop(nil, dir, d); !added || err != nil {
			t.Fatalf("AddDrop(%v) = %v, %v", d, added, err)
		}
	}
	if added, err := AddDrop(nil, dir, Drop{Seq: 9, Checksum: 1}); added || err != nil {
		t.Fatalf("the same entry again: %v, %v; want nothing added", added, err)
	}
	if _, err := AddDrop(nil, dir, Drop{Seq: 9, Checksum: 3}); err == nil || !strings.Contains(err.Error(), "listed already") {
		t.Fatalf("input 9 with another checksum: %v, want a refusal", err)
	}
	for _, bad := range []Drop{{Seq: 0, Checksum: 1}, {Seq: 5, Checksum: 1, Note: "two\nlines"}} {
		if _, err := AddDrop(nil, dir, bad); err == nil {
			t.Fatalf("AddDrop(%+v) passed", bad)
		}
	}
	d, err := ReadDrops(nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(d.Entries()); got != fmt.Sprint([]Drop{{Seq: 4, Checksum: 2}, {Seq: 9, Checksum: 1, Note: "first"}}) {
		t.Fatalf("entries %s", got)
	}
	b, _ := os.ReadFile(filepath.Join(dir, DropsFile))
	if !strings.HasPrefix(string(b), "# Inputs the engine does not apply") {
		t.Fatalf("the file does not explain itself:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, DropsFile+".tmp")); !os.IsNotExist(err) {
		t.Fatalf("the temporary file is left: %v", err)
	}
}

// FormatDrops writes a whole list as a file that parses back to it and
// explains itself; WriteDrops writes it in place of the file there, and
// refuses, writing nothing, content that does not parse.
func TestFormatAndWriteDrops(t *testing.T) {
	dir := t.TempDir()
	if _, err := AddDrop(nil, dir, Drop{Seq: 1, Checksum: 1}); err != nil {
		t.Fatal(err)
	}
	list := []Drop{{Seq: 4, Checksum: 0xabcdef01, Note: "the leader's # with a hash"}, {Seq: 9, Checksum: 2}}
	content := FormatDrops(list)
	if !strings.HasPrefix(string(content), dropsHeader) {
		t.Fatalf("no header comment:\n%s", content)
	}
	if err := WriteDrops(nil, dir, content); err != nil {
		t.Fatal(err)
	}
	d, err := ReadDrops(nil, dir)
	if err != nil || fmt.Sprint(d.Entries()) != fmt.Sprint(list) {
		t.Fatalf("written %v (%v), want %v", d.Entries(), err, list)
	}
	if d, err := ParseDrops(FormatDrops(nil)); d != nil || err != nil {
		t.Fatalf("no entries: %v, %v; want an empty list", d, err)
	}
	for name, bad := range map[string][]byte{
		"malformed": []byte("12 zz\n"),
		"too large": []byte(strings.Repeat("#", MaxDropsFileSize+1)),
	} {
		if err := WriteDrops(nil, dir, bad); !errors.Is(err, ErrBadDrops) {
			t.Fatalf("%s: %v, want ErrBadDrops", name, err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, DropsFile)); !bytes.Equal(b, content) {
			t.Fatalf("%s: the file changed:\n%s", name, b)
		}
		if _, err := os.Stat(filepath.Join(dir, DropsFile+".tmp")); !os.IsNotExist(err) {
			t.Fatalf("%s: a temporary file is left: %v", name, err)
		}
	}
}

// The file is written again whole, to a temporary file renamed over it:
// a failed write leaves the list as it was, and the temporary file a
// crash leaves does not stop the next addition.
func TestAddDropFailures(t *testing.T) {
	dir := t.TempDir()
	if _, err := AddDrop(nil, dir, Drop{Seq: 1, Checksum: 1}); err != nil {
		t.Fatal(err)
	}
	for _, op := range []vfs.Op{vfs.OpCreate, vfs.OpWrite, vfs.OpSync, vfs.OpRename} {
		efs := &vfs.ErrorFS{FS: vfs.Default, Op: op}
		if _, err := AddDrop(efs, dir, Drop{Seq: 2, Checksum: 2}); !errors.Is(err, vfs.ErrInjected) {
			t.Fatalf("op %d failing: %v, want the injected error", op, err)
		}
		if d, err := ReadDrops(nil, dir); err != nil || d.Len() != 1 {
			t.Fatalf("op %d failing: %v, %v; want the one entry", op, d.Entries(), err)
		}
		if _, err := os.Stat(filepath.Join(dir, DropsFile+".tmp")); op != vfs.OpCreate && !os.IsNotExist(err) {
			t.Fatalf("op %d failing: the temporary file is left (%v)", op, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, DropsFile+".tmp"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if added, err := AddDrop(nil, dir, Drop{Seq: 2, Checksum: 2}); !added || err != nil {
		t.Fatalf("beside a crash's temporary file: %v, %v", added, err)
	}
	full := filepath.Join(t.TempDir(), "full")
	os.Mkdir(full, 0o700)
	os.WriteFile(filepath.Join(full, DropsFile), []byte(entries(MaxDrops)), 0o600)
	if _, err := AddDrop(nil, full, Drop{Seq: MaxDrops + 1, Checksum: 1}); err == nil || !strings.Contains(err.Error(), "the most it may") {
		t.Fatalf("a full list: %v, want a refusal", err)
	}
}

// A drops file damaged on disk — bytes flipped, cut short, zeroed — is
// refused whole (ErrBadDrops) or read as a list that parses; never half
// read. (It is written by rename, so a crash leaves no half file; damage
// is the disk's.)
func TestDropsFileCorruption(t *testing.T) {
	dir := t.TempDir()
	for i := int64(1); i <= 5; i++ {
		if _, err := AddDrop(nil, dir, Drop{Seq: i * 100, Checksum: uint32(i), Note: "n"}); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, DropsFile)
	good, _ := os.ReadFile(path)
	tail := strings.Index(string(good), "100 ")
	cases := map[string][]byte{
		"cut in a checksum": good[:len(good)-len("00000005  # n\n")+3],
		"zeroed":            make([]byte, len(good)),
		"a digit flipped":   flip(good, tail+len("100        0000000")),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			os.WriteFile(path, b, 0o600)
			_, err := ReadDrops(nil, dir)
			if !errors.Is(err, ErrBadDrops) || !strings.Contains(err.Error(), path) {
				t.Fatalf("%v, want ErrBadDrops naming %s", err, path)
			}
		})
	}
}

// flip returns b with the byte at i replaced by a letter no field holds.
func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] = 'z'
	return c
}

// FuzzParseDrops: any bytes parse to a list or ErrBadDrops, never a
// panic; a list parsed is sorted, within its bounds, and its entries
// formatted parse back to the same list.
func FuzzParseDrops(f *testing.F) {
	f.Add([]byte("7 0000002a # note\n3 ffffffff\n"))
	f.Add([]byte(dropsHeader))
	f.Add([]byte("12\n"))
	f.Add([]byte("9223372036854775807 00000000\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDrops(b)
		if err != nil {
			if !errors.Is(err, ErrBadDrops) {
				t.Fatalf("error %v does not wrap ErrBadDrops", err)
			}
			return
		}
		es := d.Entries()
		if len(es) > MaxDrops {
			t.Fatalf("%d entries", len(es))
		}
		for i, e := range es {
			if e.Seq < 1 || (i > 0 && e.Seq <= es[i-1].Seq) {
				t.Fatalf("entries out of order: %v", es)
			}
			if crc, ok := d.Listed(e.Seq); !ok || crc != e.Checksum {
				t.Fatalf("entry %v not listed", e)
			}
		}
		d2, err := ParseDrops(FormatDrops(es))
		if err != nil || fmt.Sprint(d2.Entries()) != fmt.Sprint(es) {
			t.Fatalf("formatted again: %v, %v; want %v", d2.Entries(), err, es)
		}
	})
}

// AddDrops writes the file once for all its entries, skips those listed
// already (in the file or earlier in ds), and refuses all of them, with
// nothing written, when one conflicts.
func TestAddDropsWritesOnce(t *testing.T) {
	dir := t.TempDir()
	if _, err := AddDrop(nil, dir, Drop{Seq: 5, Checksum: 5}); err != nil {
		t.Fatal(err)
	}
	once := &vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpRename, Skip: 1} // a second rename fails
	ds := []Drop{{Seq: 3, Checksum: 3}, {Seq: 5, Checksum: 5}, {Seq: 9, Checksum: 9, Note: "n"}, {Seq: 3, Checksum: 3}}
	if added, err := AddDrops(once, dir, ds); added != 2 || err != nil {
		t.Fatalf("AddDrops = %d, %v; want 2 added, in one write", added, err)
	}
	want := []Drop{{Seq: 3, Checksum: 3}, {Seq: 5, Checksum: 5}, {Seq: 9, Checksum: 9, Note: "n"}}
	if d, err := ReadDrops(nil, dir); err != nil || !slices.Equal(d.Entries(), want) {
		t.Fatalf("listed %v, %v; want %v", d.Entries(), err, want)
	}
	before, _ := os.ReadFile(filepath.Join(dir, DropsFile))
	for name, ds := range map[string][]Drop{
		"listed with another checksum": {{Seq: 20, Checksum: 20}, {Seq: 9, Checksum: 1}},
		"twice in ds, two checksums":   {{Seq: 20, Checksum: 20}, {Seq: 20, Checksum: 21}},
		"a sequence below 1":           {{Seq: 20, Checksum: 20}, {Seq: 0, Checksum: 1}},
	} {
		if added, err := AddDrops(nil, dir, ds); added != 0 || err == nil {
			t.Errorf("%s: %d, %v; want a refusal", name, added, err)
		}
		if after, _ := os.ReadFile(filepath.Join(dir, DropsFile)); !bytes.Equal(after, before) {
			t.Errorf("%s: the file changed:\n%s", name, after)
		}
	}
	if added, err := AddDrops(once, dir, ds); added != 0 || err != nil {
		t.Fatalf("all listed: %d, %v; want nothing added, nothing written", added, err)
	}
}
