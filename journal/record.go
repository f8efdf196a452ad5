package journal

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// Format constants (see the package doc).
const (
	segmentMagic   = "RXJL"
	formatVersion  = 2  // written; version 1 is still read
	headerSize     = 56 // version 2: where its records start
	headerSizeV1   = 16 // version 1: no cluster id, no header checksum
	idOffset       = 16 // version 2: the cluster id
	idSize         = 32
	headerCRCAt    = idOffset + idSize // CRC-32C of the bytes before it
	recordHeader   = 8                 // length + crc
	bodyFixed      = 29                // seq, recvTime, session, account, kind
	recordAlign    = 8
	MaxPayload     = 64 << 10
	segmentSuffix  = ".journal"
	segmentNameLen = 20 + len(segmentSuffix)
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record is one journaled input. Payload is the raw frame.
type Record struct {
	Seq      int64
	RecvTime int64
	Session  uint64
	Account  uint32
	Kind     uint8
	Payload  []byte
}

// Errors.
var (
	// ErrCorrupt is wrapped by every corruption error; the message names
	// the file and offset.
	ErrCorrupt = errors.New("journal: corrupt record")
	// ErrTornBatch is wrapped, with ErrCorrupt, by Open's refusal of a
	// last segment with a bad record and valid ones after it — and by a
	// Reader's, in the same words: what a power loss mid-batch can leave
	// (CutTornBatch mends it; the message names `ringex journal cut`).
	ErrTornBatch = errors.New("the last batch may be torn")
	// ErrCutShort is wrapped, with ErrCorrupt, by Open's and a Reader's
	// refusal of a last segment whose file ends inside a record: no crash
	// leaves that (segments are preallocated before records are written
	// in them), so the file was shortened after it was written, and the
	// records that followed — acknowledged ones too — are gone from it.
	ErrCutShort = errors.New("the segment was cut short")
	// ErrSequence is returned by Append for a sequence that does not follow
	// the last one.
	ErrSequence = errors.New("journal: sequence gap")
	// ErrPayloadTooLarge is returned by Append above MaxPayload.
	ErrPayloadTooLarge = errors.New("journal: payload too large")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("journal: closed")
	// ErrOtherJournal is wrapped when the segments of one directory (or
	// of a journal and its archive) carry two cluster ids: a segment was
	// copied in from another cluster's or node's journal. The message
	// names a segment of each and both ids.
	ErrOtherJournal = errors.New("journal: segments of two journals")
	// ErrNoSegments is wrapped by Inspect for a directory that holds no
	// segment file; the message names the directory.
	ErrNoSegments = errors.New("journal: no segment files")
	// ErrMissingSegment is wrapped by MissingSegmentError: the journal
	// rolled to a segment (NewestFile records it) that its directory no
	// longer holds, so the inputs from it on are in no segment.
	ErrMissingSegment = errors.New("journal: its newest segment is missing")
	// ErrEndsShort is wrapped by Open's refusal of a last segment whose
	// data runs to its file's end in a file smaller than
	// Options.SegmentBytes (endsShortError): what a copy of the journal
	// cut short exactly between two records, or just after the header,
	// leaves — every record whole, the inputs after them gone.
	ErrEndsShort = errors.New("journal: the last segment ends short")
)

// encodedSize is the bytes a record with n payload bytes takes on disk.
func encodedSize(n int) int {
	return (recordHeader + bodyFixed + n + recordAlign - 1) &^ (recordAlign - 1)
}

// appendRecord appends r's encoding (with padding) to dst.
func appendRecord(dst []byte, r *Record) []byte {
	start := len(dst)
	size := encodedSize(len(r.Payload))
	dst = append(dst, make([]byte, recordHeader)...)
	le := binary.LittleEndian
	dst = le.AppendUint64(dst, uint64(r.Seq))
	dst = le.AppendUint64(dst, uint64(r.RecvTime))
	dst = le.AppendUint64(dst, r.Session)
	dst = le.AppendUint32(dst, r.Account)
	dst = append(dst, r.Kind)
	dst = append(dst, r.Payload...)
	body := dst[start+recordHeader:]
	le.PutUint32(dst[start:], uint32(len(body)))
	le.PutUint32(dst[start+4:], crc32.Checksum(body, castagnoli))
	for len(dst)-start < size {
		dst = append(dst, 0)
	}
	return dst
}

// decodeResult says what is at an offset.
type decodeResult uint8

const (
	decodedOK decodeResult = iota
	decodedEnd
	decodedBad
)

// decodeRecord reads the record at the start of b into r (Payload aliases
// b) and returns its encoded size.
func decodeRecord(b []byte, r *Record) (int, decodeResult) {
	if len(b) < recordHeader {
		if allZero(b) {
			return 0, decodedEnd
		}
		return 0, decodedBad
	}
	le := binary.LittleEndian
	n := int(le.Uint32(b))
	if n == 0 {
		if allZero(b[:recordHeader]) {
			return 0, decodedEnd
		}
		return 0, decodedBad
	}
	if n < bodyFixed || n > bodyFixed+MaxPayload || recordHeader+n > len(b) {
		return 0, decodedBad
	}
	body := b[recordHeader : recordHeader+n]
	if crc32.Checksum(body, castagnoli) != le.Uint32(b[4:]) {
		return 0, decodedBad
	}
	r.Seq = int64(le.Uint64(body))
	r.RecvTime = int64(le.Uint64(body[8:]))
	r.Session = le.Uint64(body[16:])
	r.Account = le.Uint32(body[24:])
	r.Kind = body[28]
	r.Payload = body[bodyFixed:]
	size := encodedSize(n - bodyFixed)
	if size > len(b) {
		size = len(b)
	}
	return size, decodedOK
}

// dataLen is the length of b without its trailing zeros.
func dataLen(b []byte) int64 {
	n := len(b)
	for n >= 8 && binary.LittleEndian.Uint64(b[n-8:n]) == 0 {
		n -= 8
	}
	for n > 0 && b[n-1] == 0 {
		n--
	}
	return int64(n)
}

func allZero(b []byte) bool {
	for len(b) >= 8 { // a word at a time: Open checks a segment's whole tail
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
