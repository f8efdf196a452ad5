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
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/ringex/ringex/internal/testkit"
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

// FuzzLogStoreSegment: a log segment, of either version, cut anywhere and
// followed by any bytes (a torn write, a damaged disk) never panics
// OpenLogStore. It either refuses with ErrCorrupt or opens, and then it
// still holds every entry that was intact in the file, reads back each
// index it reports, and accepts the next entry.
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
	segments := map[bool][]byte{false: valid, true: asLogVersion1(valid)}
	// ends[v1][k] is the file size that holds entries 1…k+1 whole.
	ends := map[bool][]int{}
	for v1, seg := range segments {
		version := uint32(logVersion)
		if v1 {
			version = 1
		}
		for off := logHeaderSize; off < len(seg); {
			n, ok := checkEntry(seg[off:], uint64(len(ends[v1])+1), version)
			if !ok {
				f.Fatalf("seed segment (version %d) unreadable at %d", version, off)
			}
			off += n
			ends[v1] = append(ends[v1], off)
		}
	}
	for _, v1 := range []bool{false, true} {
		e := ends[v1]
		f.Add(v1, uint16(len(segments[v1])), []byte{})
		f.Add(v1, uint16(e[1]+5), []byte{})
		f.Add(v1, uint16(e[0]), segments[v1][e[1]:])
		f.Add(v1, uint16(e[2]), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9})
	}
	// Every input writes into one directory, emptied before each
	// (testkit.FuzzDir): a directory made and removed per input
	// (t.TempDir) and the fsyncs on a disk were most of its time.
	inputs := testkit.FuzzDir(f)
	f.Fuzz(func(t *testing.T, v1 bool, cut uint16, tail []byte) {
		valid := segments[v1]
		c := max(int(cut)%(len(valid)+1), logHeaderSize)
		file := append(slices.Clone(valid[:c]), tail...)
		testkit.EmptyDir(t, inputs)
		dir := inputs
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
		// A MiB of blocks reserved for the next segment, not 64 (in
		// memory, FuzzDir's, reserving them is writing them): no input
		// fills one.
		s.segmentBytes = 1 << 20
		intact := uint64(0)
		for _, e := range ends[v1] {
			if e <= c {
				intact++
			}
		}
		checkOpened(t, s, intact)
		last, _ := s.LastIndex()
		if err := s.StoreLog(testLog(last + 1)); err != nil {
			t.Fatalf("append after open: %v", err)
		}
	})
}

// checkOpened checks a log opened from a file of testLog entries, of which
// 1…intact are whole: it holds them, with their data, and reads back each
// index it reports.
func checkOpened(t *testing.T, s *LogStore, intact uint64) {
	t.Helper()
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
}

// FuzzLogStoreTornWrite: bytes overwritten anywhere in the entries of a
// segment of two writes, 1…3 then 4…6 (a hole a power cut left, or
// damage). Damage that starts in the last write is a torn last write: the
// store opens, keeping every entry before it. Damage that starts in the
// first write with an entry of the last one whole after it is in a write
// that was fsynced: the store refuses with ErrCorrupt. Otherwise it may do
// either, and when it opens it holds every entry before the damage.
func FuzzLogStoreTornWrite(f *testing.F) {
	dir := f.TempDir()
	s, err := OpenLogStore(dir)
	if err != nil {
		f.Fatal(err)
	}
	for _, w := range [][2]uint64{{1, 3}, {4, 6}} {
		var logs []*raft.Log
		for i := w[0]; i <= w[1]; i++ {
			logs = append(logs, testLog(i))
		}
		if err := s.StoreLogs(logs); err != nil {
			f.Fatal(err)
		}
	}
	offs := slices.Clone(s.active().offs) // entry k+1 starts at offs[k]
	s.Close()
	name := fmt.Sprintf("%020d.rlog", 1)
	valid, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		f.Fatal(err)
	}
	end := func(k int) int64 { // where entry k+1 ends
		if k+1 < len(offs) {
			return offs[k+1]
		}
		return int64(len(valid))
	}
	firstWriteEnd := offs[3]
	zeros := make([]byte, 40)
	f.Add(uint16(offs[1]-logHeaderSize), zeros) // in the first write
	f.Add(uint16(offs[4]-logHeaderSize), zeros) // in the last write
	f.Add(uint16(offs[3]-logHeaderSize), valid[offs[4]:end(4)])
	f.Add(uint16(offs[5]-logHeaderSize+3), []byte{0xff})
	// Every input writes into one directory, emptied before each
	// (testkit.FuzzDir): a directory made and removed per input
	// (t.TempDir) and the fsyncs on a disk were most of its time.
	inputs := testkit.FuzzDir(f)
	f.Fuzz(func(t *testing.T, at uint16, hole []byte) {
		o := logHeaderSize + int64(at)%(int64(len(valid))-logHeaderSize)
		file := slices.Clone(valid)
		copy(file[o:], hole)
		d0, d1 := int64(-1), int64(-1) // the bytes changed
		for i := range file {
			if file[i] != valid[i] {
				if d0 < 0 {
					d0 = int64(i)
				}
				d1 = int64(i)
			}
		}
		testkit.EmptyDir(t, inputs)
		dir := inputs
		if err := os.WriteFile(filepath.Join(dir, name), file, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := OpenLogStore(dir)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("OpenLogStore error %v is not ErrCorrupt", err)
		}
		if d0 < 0 { // nothing changed
			if err != nil {
				t.Fatal(err)
			}
			checkOpened(t, s, 6)
			s.Close()
			return
		}
		var before uint64 // entries wholly before the damage
		laterWhole := false
		for k := range offs {
			if end(k) <= d0 {
				before++
			}
			if k >= 3 && offs[k] > d1 {
				laterWhole = true
			}
		}
		switch {
		case d0 >= firstWriteEnd && err != nil:
			t.Fatalf("damage at %d…%d, in the last write only: %v", d0, d1, err)
		case d0 < firstWriteEnd && laterWhole && err == nil:
			last, _ := s.LastIndex()
			s.Close()
			t.Fatalf("damage at %d…%d, in the first write, the last one whole after it: opened with %d entries", d0, d1, last)
		case err == nil:
			checkOpened(t, s, before)
			s.Close()
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
	// Every input writes into one directory, emptied before each
	// (testkit.FuzzDir): a directory made and removed per input
	// (t.TempDir) and the fsyncs on a disk were most of its time.
	inputs := testkit.FuzzDir(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		testkit.EmptyDir(t, inputs)
		dir := inputs
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

// FuzzFenceFile: a damaged file of fenced addresses never panics its
// reader; one that reads re-encodes to a file that reads the same.
func FuzzFenceFile(f *testing.F) {
	f.Add([]byte("# comment\n2 10.0.0.1:7000\n2 node2:7000\n3 [::1]:7000\n"))
	f.Add([]byte("2 10.0.0.1\n"))
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		former, err := parseFence(data)
		if err != nil {
			return
		}
		fe := &fence{former: former}
		again, err := parseFence(fe.encode())
		if err != nil {
			t.Fatalf("re-encoded %q does not read: %v", fe.encode(), err)
		}
		if !maps.EqualFunc(former, again, slices.Equal) {
			t.Fatalf("read %v, re-encoded and read %v", former, again)
		}
	})
}

// FuzzMembership: a membership from a peer (an entry, or a raft
// snapshot's) or from the log store never panics its decoder and never
// makes it allocate more than the bytes could hold — a length field
// claiming a billion members would have each refusal cost gigabytes; one
// that decodes encodes to a membership that decodes the same.
func FuzzMembership(f *testing.F) {
	f.Add(raft.EncodeConfiguration(raft.Configuration{Servers: membership("10.0.0.1:7000", "node2:7000", "[::1]:7000")}))
	f.Add(raft.EncodeConfiguration(raft.Configuration{Servers: append(membership("10.0.0.1:7000"),
		raft.Server{Suffrage: raft.Nonvoter, ID: serverID(4), Address: "10.0.0.4:7000"})}))
	f.Add(raft.EncodeConfiguration(raft.Configuration{}))
	f.Add(badMembershipEntry(1).Data)
	f.Add([]byte{})
	f.Add([]byte("\x81\xa7Servers\xdd\xff\xff\xff\xff")) // 2^32-1 members claimed, none there
	f.Add([]byte("\x81\xa7Servers\x91\x83\xa8Suffrage\x00\xa2ID\xdb\xff\xff\xff\xff\xa7Address\xa1x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c raft.Configuration
		var err error
		// Bytes in, at most a few hundred bytes per byte out: the
		// decoder's own tables, and a value per element read.
		if n := testkit.AllocatedBy(func() { c, err = decodeMembership(b) }); n > 1<<20+512*uint64(len(b)) {
			t.Fatalf("decoding %d bytes allocated %d", len(b), n)
		}
		if err != nil {
			return
		}
		again, err := decodeMembership(raft.EncodeConfiguration(c))
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("decoded %+v, which re-encoded decodes as %+v, %v", c, again, err)
		}
	})
}

// FuzzDirMarks: whatever a raft directory's member and cluster files
// hold, claimDir and claimCluster never panic reading them. claimDir
// refuses a member file that names no member, and one naming another
// member where raft state exists; after it takes the directory, the file
// names this member (in any spelling strconv reads: "007" is 7). claimCluster refuses only a joining member's
// state recorded under another cluster id; a directory with no raft
// state is left recording this cluster.
func FuzzDirMarks(f *testing.F) {
	f.Add([]byte("2\n"), uint32(2), true, true)
	f.Add([]byte("2\n"), uint32(3), false, true)
	f.Add([]byte(" 4294967295 "), uint32(1<<32-1), true, false)
	f.Add([]byte("4294967296\n"), uint32(0), false, false)
	f.Add([]byte("east\n"), uint32(1), true, true)
	f.Add([]byte{}, uint32(1), false, false)
	dir := testkit.FuzzDir(f)
	write := func(t *testing.T, name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	read := func(t *testing.T, name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	f.Fuzz(func(t *testing.T, b []byte, id uint32, existing, joining bool) {
		testkit.EmptyDir(t, dir)
		write(t, memberFile, b)
		owner, perr := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
		err := claimDir(dir, id, existing)
		if want := perr != nil || existing && uint32(owner) != id; (err != nil) != want {
			t.Fatalf("member file %q, member %d, raft state %v: %v", b, id, existing, err)
		}
		if err == nil {
			if now, err := strconv.ParseUint(read(t, memberFile), 10, 32); err != nil || uint32(now) != id {
				t.Fatalf("member file %q taken by member %d, now %q", b, id, read(t, memberFile))
			}
		}

		const cluster = "east"
		write(t, clusterFile, b)
		err = claimCluster(dir, cluster, existing, joining)
		held := strings.TrimSpace(string(b))
		if want := existing && joining && held != cluster; (err != nil) != want || want && !errors.Is(err, ErrOtherCluster) {
			t.Fatalf("cluster file %q, raft state %v, joining %v: %v", b, existing, joining, err)
		}
		if !existing && read(t, clusterFile) != cluster {
			t.Fatalf("cluster file %q, no raft state: now %q", b, read(t, clusterFile))
		}
	})
}
