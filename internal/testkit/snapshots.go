package testkit

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"testing"

	"github.com/ringex/ringex/engine"
)

// SnapshotVersionField is where one version field of a snapshot file
// is: the file format's, and the engine state's after its magic.
type SnapshotVersionField struct {
	Name string
	At   func(file []byte) int // the offset of the field (little-endian: its low byte)
	// Later is the low byte of a later build's version, given the file's.
	Later func(now byte) byte
}

// SnapshotVersionFields are the two version fields a later build may
// raise.
var SnapshotVersionFields = []SnapshotVersionField{
	{"file format", func([]byte) int { return 4 }, func(now byte) byte { return now + 1 }},
	// Above the newest this build reads, not the file's: a snapshot of
	// no clearing book holds version 3 however new the build, and its 4
	// is this build's.
	{"engine state format", engineVersionAt, func(byte) byte { return engine.NewestSnapshotVersion + 1 }},
}

// engineVersionAt is the offset of the engine state's version field in
// a snapshot file: after the magic ("RXEN") its payload starts with. The
// payload is the file's last length bytes before the checksum (the
// length field is at offset 24 in every version): a search for the
// magic found it first in the header's hash or a session id that
// happened to spell it.
func engineVersionAt(file []byte) int {
	at := len(file) - 4 - int(binary.LittleEndian.Uint64(file[24:]))
	if at < 0 || at > len(file)-4 || !bytes.HasPrefix(file[at:], []byte("RXEN")) {
		panic(fmt.Sprintf("testkit: a snapshot file of %d bytes whose payload (length field %d) does not start with the engine's magic", len(file), binary.LittleEndian.Uint64(file[24:])))
	}
	return at + 4
}

// RaiseSnapshotVersion rewrites the snapshot file at path as a later
// build would have written it: the version field v a later build's
// (Later), the file's checksum (its last 4 bytes, CRC-32C) made to match.
// It returns the new version's low byte.
func RaiseSnapshotVersion(t testing.TB, path string, v SnapshotVersionField) byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := v.At(b)
	b[at] = v.Later(b[at])
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], crc32.MakeTable(crc32.Castagnoli)))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b[at]
}

// SnapshotAsVersion3 is a snapshot file of format version 4 as a build
// before it wrote it: version 3, without the sessions field (the bytes
// from the input field's end at 48 to the payload), its checksum made
// again. It panics on a file of another version.
func SnapshotAsVersion3(file []byte) []byte {
	le := binary.LittleEndian
	if v := le.Uint32(file[4:]); v != 4 {
		panic(fmt.Sprintf("testkit: a snapshot file of format version %d, not 4", v))
	}
	const fields = 48 // magic to the input field: the same in versions 3 and 4
	payload := engineVersionAt(file) - 4
	v3 := append([]byte(nil), file[:fields]...)
	le.PutUint32(v3[4:], 3)
	v3 = append(v3, file[payload:len(file)-4]...)
	return le.AppendUint32(v3, crc32.Checksum(v3, crc32.MakeTable(crc32.Castagnoli)))
}
