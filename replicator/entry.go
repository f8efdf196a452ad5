package replicator

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Entry format, version 2 (the data of one raft log command). These
// constants and layouts are part of the format: change them only with a
// new version.
//
//	offset 0   version      uint8  2
//	offset 1   reserved     [3]byte zeros
//	offset 4   origin       uint32 node id of the proposer
//	offset 8   incarnation  uint64 the proposer's pipeline incarnation
//	offset 16  first        int64  input sequence of the first input
//	offset 24  count        uint32 inputs in the batch, > 0
//	offset 28  rules        uint64 the proposer's engine.Config.Fingerprint
//	                               (0: unknown)
//	offset 36  inputs, each:
//	             recvTime  int64
//	             session   uint64
//	             account   uint32
//	             kind      uint8
//	             length    uint16
//	             payload   [length]byte
//
// Version 1, still read, has no rules field: its inputs start at 28. All
// integers are little-endian. Input i of the batch has input sequence
// first+i.
const (
	entryVersion = 2
	// EntryHeaderSize and InputHeaderSize size an entry exactly:
	// EntryHeaderSize + Σ (InputHeaderSize + len(payload)).
	EntryHeaderSize = 36
	InputHeaderSize = 23
	entryV1Header   = 28
)

// ErrEntry marks a log entry that is not a valid batch.
var ErrEntry = errors.New("replicator: malformed entry")

// Header describes one batch entry.
type Header struct {
	Origin      uint32
	Incarnation uint64
	First       int64
	Count       uint32
	// Rules is what the proposer matches under (engine.Config.Fingerprint):
	// a member matching under other rules would decide the inputs
	// differently. 0: unknown (a version 1 entry).
	Rules uint64
}

// Last is the input sequence of the batch's last input.
func (h Header) Last() int64 { return h.First + int64(h.Count) - 1 }

// Input is one input of a batch. Payload aliases the entry's bytes.
type Input struct {
	RecvTime int64
	Session  uint64
	Account  uint32
	Kind     uint8
	Payload  []byte
}

// AppendHeader starts an entry.
func AppendHeader(dst []byte, h Header) []byte {
	var b [EntryHeaderSize]byte
	b[0] = entryVersion
	binary.LittleEndian.PutUint32(b[4:], h.Origin)
	binary.LittleEndian.PutUint64(b[8:], h.Incarnation)
	binary.LittleEndian.PutUint64(b[16:], uint64(h.First))
	binary.LittleEndian.PutUint32(b[24:], h.Count)
	binary.LittleEndian.PutUint64(b[28:], h.Rules)
	return append(dst, b[:]...)
}

// AppendInput adds one input to an entry started by AppendHeader.
func AppendInput(dst []byte, in *Input) []byte {
	var b [InputHeaderSize]byte
	binary.LittleEndian.PutUint64(b[0:], uint64(in.RecvTime))
	binary.LittleEndian.PutUint64(b[8:], in.Session)
	binary.LittleEndian.PutUint32(b[16:], in.Account)
	b[20] = in.Kind
	binary.LittleEndian.PutUint16(b[21:], uint16(len(in.Payload)))
	dst = append(dst, b[:]...)
	return append(dst, in.Payload...)
}

// Batch reads the inputs of one entry in order.
type Batch struct {
	Header
	rest []byte
	read uint32
}

// ParseBatch checks an entry's header and returns a reader of its inputs.
// The inputs are checked as Next reaches them.
func ParseBatch(data []byte) (Batch, error) {
	head := 0
	switch {
	case len(data) >= EntryHeaderSize && data[0] == entryVersion:
		head = EntryHeaderSize
	case len(data) >= entryV1Header && data[0] == 1:
		head = entryV1Header
	default:
		return Batch{}, fmt.Errorf("%w: bad header", ErrEntry)
	}
	h := Header{
		Origin:      binary.LittleEndian.Uint32(data[4:]),
		Incarnation: binary.LittleEndian.Uint64(data[8:]),
		First:       int64(binary.LittleEndian.Uint64(data[16:])),
		Count:       binary.LittleEndian.Uint32(data[24:]),
	}
	if head == EntryHeaderSize {
		h.Rules = binary.LittleEndian.Uint64(data[28:])
	}
	if h.Count == 0 || h.First < 1 {
		return Batch{}, fmt.Errorf("%w: first %d count %d", ErrEntry, h.First, h.Count)
	}
	return Batch{Header: h, rest: data[head:]}, nil
}

// Next reads the next input into in; it reports false after the last one.
// An entry whose inputs do not match its count is ErrEntry.
func (b *Batch) Next(in *Input) (bool, error) {
	if b.read == b.Count {
		if len(b.rest) != 0 {
			return false, fmt.Errorf("%w: %d bytes after the last input", ErrEntry, len(b.rest))
		}
		return false, nil
	}
	if len(b.rest) < InputHeaderSize {
		return false, fmt.Errorf("%w: input %d truncated", ErrEntry, b.read)
	}
	r := b.rest
	n := int(binary.LittleEndian.Uint16(r[21:]))
	if len(r) < InputHeaderSize+n {
		return false, fmt.Errorf("%w: input %d payload truncated", ErrEntry, b.read)
	}
	// Every field set in place: a literal through in was built on the
	// stack and copied (see proto.ReportOf).
	in.RecvTime, in.Session = int64(binary.LittleEndian.Uint64(r[0:])), binary.LittleEndian.Uint64(r[8:])
	in.Account, in.Kind = binary.LittleEndian.Uint32(r[16:]), r[20]
	in.Payload = r[InputHeaderSize : InputHeaderSize+n]
	b.rest = r[InputHeaderSize+n:]
	b.read++
	return true, nil
}

// Skip passes over the next k inputs, checking them: the batch then
// starts k inputs later (First and Count move; Last stays).
func (b *Batch) Skip(k uint32) error {
	if k > b.Count-b.read {
		return fmt.Errorf("%w: skipping %d of %d inputs left", ErrEntry, k, b.Count-b.read)
	}
	var in Input
	for range k {
		if _, err := b.Next(&in); err != nil {
			return err
		}
	}
	b.First += int64(k)
	b.Count -= k
	b.read -= k
	return nil
}
