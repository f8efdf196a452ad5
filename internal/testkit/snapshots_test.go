package testkit

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// The engine state's version field is found at the payload's start,
// whatever the header holds: a hash or a session id whose bytes spell
// the engine's magic would have RaiseSnapshotVersion raise a header
// byte instead, and the test using it check a start that fails on a
// damaged file for the refusal of a newer build's.
func TestSnapshotVersionFieldAtThePayload(t *testing.T) {
	le := binary.LittleEndian
	payload := append([]byte("RXEN"), 3, 0, 0, 0, 0, 0)
	magicBits := le.Uint64([]byte("RXEN\x00\x01\x02\x03"))
	for _, c := range []struct {
		name   string
		header []byte
	}{
		{"version 4, magic in the hash", snapHeader(4, magicBits, 1<<60|7)},
		{"version 4, magic in a session id", snapHeader(4, 9, magicBits)},
		{"version 3, magic in the hash", snapHeader(3, magicBits, 0)},
	} {
		t.Run(c.name, func(t *testing.T) {
			header := c.header
			le.PutUint64(header[24:], uint64(len(payload)))
			file := append(append([]byte(nil), header...), payload...)
			file = le.AppendUint32(file, crc32.Checksum(file, crc32.MakeTable(crc32.Castagnoli)))
			if got, want := SnapshotVersionFields[1].At(file), len(header)+4; got != want {
				t.Fatalf("engine state's version field at offset %d, want %d (the payload's start + 4)", got, want)
			}
		})
	}
}

// snapHeader is a snapshot file header of format version v, 3 or 4
// (snapshot/doc.go), with the given hash and, in version 4, first
// session id; the length field is left 0.
func snapHeader(v uint32, hash, session uint64) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32([]byte("RXSN"), v)
	b = le.AppendUint64(b, 5)     // seq
	b = le.AppendUint64(b, hash)  // hash
	b = le.AppendUint64(b, 0)     // length
	b = le.AppendUint64(b, 1)     // rules
	b = le.AppendUint64(b, 1<<32) // input: known, checksum 0
	if v >= 4 {
		b = le.AppendUint64(b, session)
		b = append(b, make([]byte, 8*15)...)
	}
	return b
}
