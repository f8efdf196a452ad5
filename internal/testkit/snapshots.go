package testkit

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"testing"
)

// SnapshotVersionField is where one version field of a snapshot file
// is: the file format's, and the engine state's after its magic.
type SnapshotVersionField struct {
	Name string
	At   func(file []byte) int // the offset of the field (little-endian: its low byte)
}

// SnapshotVersionFields are the two version fields a later build may
// raise.
var SnapshotVersionFields = []SnapshotVersionField{
	{"file format", func([]byte) int { return 4 }},
	{"engine state format", func(b []byte) int { return bytes.Index(b, []byte("RXEN")) + 4 }},
}

// RaiseSnapshotVersion rewrites the snapshot file at path as a later
// build would have written it: the version field v one up, the file's
// checksum (its last 4 bytes, CRC-32C) made to match. It returns the new
// version's low byte.
func RaiseSnapshotVersion(t testing.TB, path string, v SnapshotVersionField) byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := v.At(b)
	b[at]++
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], crc32.MakeTable(crc32.Castagnoli)))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b[at]
}
