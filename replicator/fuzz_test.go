package replicator

import (
	"bytes"
	"errors"
	"testing"
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
		// The reserved header bytes are not read back: compare the rest.
		if !bytes.Equal(out[4:], data[4:]) || out[0] != data[0] {
			t.Fatalf("re-encoded %x, read %x", out, data)
		}
	})
}
