package replicator

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hashicorp/raft"
)

// FuzzParseBatch: an entry from a peer (or a damaged log) never panics the
// reader; one that reads whole re-encodes to the same bytes.
func FuzzParseBatch(f *testing.F) {
	e := AppendHeader(nil, Header{Origin: 1, Incarnation: 2, First: 10, Count: 2})
	e = AppendInput(e, &Input{RecvTime: 1, Session: 2, Account: 3, Kind: 1, Payload: []byte("abc")})
	e = AppendInput(e, &Input{RecvTime: 4, Session: 5, Account: 6, Kind: 2})
	f.Add(e)
	f.Add([]byte{})
	f.Add(e[:EntryHeaderSize])
	f.Add(asVersion1(e))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBatch(data)
		if err != nil {
			if !errors.Is(err, ErrEntry) {
				t.Fatalf("ParseBatch error %v is not ErrEntry", err)
			}
			return
		}
		out := AppendHeader(nil, b.Header)
		var in Input
		for {
			ok, err := b.Next(&in)
			if err != nil {
				if !errors.Is(err, ErrEntry) {
					t.Fatalf("Next error %v is not ErrEntry", err)
				}
				return
			}
			if !ok {
				break
			}
			out = AppendInput(out, &in)
		}
		if data[0] == 1 { // read as version 1: compare in that layout
			out = asVersion1(out)
		}
		// The reserved header bytes are not read back: compare the rest.
		if !bytes.Equal(out[4:], data[4:]) || out[0] != data[0] {
			t.Fatalf("re-encoded %x, read %x", out, data)
		}
	})
}

// asVersion1 is entry e (current version) in the version 1 layout, which
// has no rules field.
func asVersion1(e []byte) []byte {
	v1 := append([]byte{1, 0, 0, 0}, e[4:entryV1Header]...)
	return append(v1, e[EntryHeaderSize:]...)
}

// FuzzLogStoreSegment: a log segment cut anywhere and followed by any
// bytes (a torn write, a damaged disk) never panics OpenLogStore. It
// either refuses with ErrCorrupt or opens, and then it still holds every
// entry that was intact in the file, reads back each index it reports,
// and accepts the next entry.
func FuzzLogStoreSegment(f *testing.F) {
	dir := f.TempDir()
	s, err := OpenLogStore(dir)
	if err != nil {
		f.Fatal(err)
	}
	var logs []*raft.Log
	for i := uint64(1); i <= 3; i++ {
		logs = append(logs, testLog(i))
	}
	if err := s.StoreLogs(logs); err != nil {
		f.Fatal(err)
	}
	s.Close()
	name := fmt.Sprintf("%020d.rlog", 1)
	valid, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		f.Fatal(err)
	}
	// ends[k] is the file size that holds entries 1…k+1 whole.
	var ends []int
	for off := logHeaderSize; off < len(valid); {
		n, ok := checkEntry(valid[off:], uint64(len(ends)+1))
		if !ok {
			f.Fatalf("seed segment unreadable at %d", off)
		}
		off += n
		ends = append(ends, off)
	}
	f.Add(uint16(len(valid)), []byte{})
	f.Add(uint16(ends[1]+5), []byte{})
	f.Add(uint16(ends[0]), valid[ends[1]:])
	f.Add(uint16(ends[2]), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Fuzz(func(t *testing.T, cut uint16, tail []byte) {
		c := max(int(cut)%(len(valid)+1), logHeaderSize)
		file := append(slices.Clone(valid[:c]), tail...)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, name), file, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := OpenLogStore(dir)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("OpenLogStore error %v is not ErrCorrupt", err)
			}
			return
		}
		defer s.Close()
		intact := uint64(0)
		for _, e := range ends {
			if e <= c {
				intact++
			}
		}
		first, _ := s.FirstIndex()
		last, _ := s.LastIndex()
		if last < intact || (last > 0 && first != 1) {
			t.Fatalf("opened %d…%d of a file with entries 1…%d intact", first, last, intact)
		}
		for i := first; i <= last && last > 0; i++ {
			var l raft.Log
			if err := s.GetLog(i, &l); err != nil || l.Index != i {
				t.Fatalf("GetLog(%d) = %+v, %v", i, l, err)
			}
			if i <= intact && string(l.Data) != string(testLog(i).Data) {
				t.Fatalf("entry %d reads %q", i, l.Data)
			}
		}
		if err := s.StoreLog(testLog(last + 1)); err != nil {
			t.Fatalf("append after open: %v", err)
		}
	})
}

// FuzzStableStore: any content of the stable file is refused with
// ErrCorrupt or read into a store that writes itself back and reopens to
// the same keys and values. The fuzzer writes the body; its checksum is
// appended correctly, so the parser behind the check is what gets fuzzed
// (the check itself is TestStableStore's).
func FuzzStableStore(f *testing.F) {
	dir := f.TempDir()
	s, err := OpenStableStore(dir)
	if err != nil {
		f.Fatal(err)
	}
	s.SetUint64([]byte("CurrentTerm"), 7)
	s.Set([]byte("LastVoteCand"), []byte("2"))
	valid, err := os.ReadFile(filepath.Join(dir, stableName))
	if err != nil {
		f.Fatal(err)
	}
	body := valid[:len(valid)-4]
	f.Add(body)
	f.Add(body[:len(body)-1])
	f.Add([]byte(stableMagic))
	f.Fuzz(func(t *testing.T, body []byte) {
		dir := t.TempDir()
		data := binary.LittleEndian.AppendUint32(slices.Clone(body), crc32.Checksum(body, castagnoli))
		if err := os.WriteFile(filepath.Join(dir, stableName), data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := OpenStableStore(dir)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("OpenStableStore error %v is not ErrCorrupt", err)
			}
			return
		}
		if err := s.Set([]byte("fuzz"), []byte("x")); err != nil {
			t.Fatal(err)
		}
		again, err := OpenStableStore(dir)
		if err != nil {
			t.Fatalf("reopen after Set: %v", err)
		}
		if !maps.EqualFunc(s.kv, again.kv, bytes.Equal) {
			t.Fatalf("reopened %v, wrote %v", again.kv, s.kv)
		}
	})
}
