package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/replicator"
	"github.com/ringex/ringex/snapshot"
)

// A member installs a raft snapshot at S whose journal starts at S+1. Its
// archive (snapshot.journal_retention: archive) still holds the segments
// its own journal retired — inputs the new journal holds too, in segments
// cut elsewhere. Read with the journal as one (recovery past a damaged
// snapshot, `ringex replay`, `journal inspect --archive`), the two sets
// of segments interleave by name and the journal reads as corrupt.
func TestInstallLeavesNoOverlappingArchive(t *testing.T) {
	dir := t.TempDir()
	journalDir, snapDir, archive := filepath.Join(dir, "journal"), filepath.Join(dir, "snapshots"), filepath.Join(dir, "archive")
	const segBytes = 65632 // two of these records per segment (the least a segment may be: 56-byte header and the largest record)
	payload := func(seq int64) []byte { return bytes.Repeat([]byte{byte(seq)}, 30000) }

	// The member's own journal: inputs 1..60, those below 51 archived.
	j, _, err := journal.Open(journalDir, journal.Options{SegmentBytes: segBytes, Sync: journal.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	for seq := int64(1); seq <= 60; seq++ {
		if err := j.Append(&journal.Record{Seq: seq, Kind: 1, Payload: payload(seq)}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := j.ArchiveBefore(51, archive); err != nil || n == 0 {
		t.Fatalf("ArchiveBefore: %d %v", n, err)
	}
	j.Close()

	// The leader's stream: its snapshot at 11, inputs 12..40.
	const snapSeq, applied = 11, 40
	le := binary.LittleEndian
	file := snapshot.Encode(snapshot.Snapshot{Seq: snapSeq, Payload: []byte("state")})
	var b []byte
	b = append(b, installMagic...)
	b = le.AppendUint32(b, installVersion)
	b = le.AppendUint64(b, snapSeq)
	b = le.AppendUint64(b, applied)
	b = le.AppendUint64(b, uint64(len(file)))
	b = append(b, file...)
	e := replicator.AppendHeader(nil, replicator.Header{First: snapSeq + 1, Count: applied - snapSeq})
	for seq := int64(snapSeq + 1); seq <= applied; seq++ {
		e = replicator.AppendInput(e, &replicator.Input{Kind: 1, Payload: payload(seq)})
	}
	b = le.AppendUint32(b, uint32(len(e)))
	b = append(b, e...)
	b = le.AppendUint32(b, crc32.Checksum(b, castagnoli))

	if _, err := stageState(bytes.NewReader(b), stagingFor(journalDir, snapDir, dir), segBytes); err != nil {
		t.Fatal(err)
	}
	if ok, err := installStaged(journalDir, snapDir, archive, dir, zerolog.Nop()); !ok || err != nil {
		t.Fatalf("installStaged: %v %v", ok, err)
	}

	// What recovery's fallback and `ringex replay` read: archive, then journal.
	r, err := journal.NewReaderOf([]string{archive, journalDir}, nil, snapSeq+1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var rec journal.Record
	next := int64(snapSeq + 1)
	for {
		err := r.Next(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading the installed journal with the archive from %d, at %d: %v", snapSeq+1, next, err)
		}
		if rec.Seq != next {
			t.Fatalf("record %d, want %d", rec.Seq, next)
		}
		next++
	}
	if next != applied+1 {
		t.Fatalf("read up to %d, want %d", next-1, applied)
	}
}
