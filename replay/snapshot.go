package replay

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/vfs"
)

// ErrOtherInputs: a snapshot records another checksum for its last input
// than the journal's record of that input. The state it holds came from
// other inputs than the journal's — a snapshot copied in from another
// node or exchange, or a journal directory pointed at another's journal —
// and the journal replayed after it would build a state that never was.
var ErrOtherInputs = errors.New("replay: the snapshot was taken on other inputs than the journal holds")

// CheckSnapshotInput checks a snapshot taken at input seq that records
// checksum sum for it (snapshot.Snapshot.InputChecksum) against the
// record of seq in the journal's segments in dirs (an archive, then the
// journal, as NewReaderOf reads them): nil when they agree or the
// journal does not hold seq (it begins after it: a snapshot installed
// from a leader, a loss accepted); ErrOtherInputs, naming both, when they
// differ. An error reading the journal is returned as it is: callers that
// would not have read that record otherwise need not stop for it.
func CheckSnapshotInput(dirs []string, fs vfs.FS, seq int64, sum uint32) error {
	crc, found, err := journal.ChecksumAt(dirs, fs, seq)
	if err != nil || !found || crc == sum {
		return err
	}
	return fmt.Errorf("%w: the snapshot of input %d records checksum %08x for it, the journal (%s) %08x",
		ErrOtherInputs, seq, sum, strings.Join(dirs, ", "), crc)
}

// OtherJournalSegment is the error for the snapshot at snapPath, of
// input seq, whose check against the journal (CheckSnapshotInput) met
// the segment holding seq carrying another cluster id than the
// journal's newest (err, wrapping journal.ErrOtherJournal, names both by
// their paths): one of them was copied in from another journal, whose
// inputs at the same sequences are others. journalDir and id are the
// journal's (the id its own segments carry); idErr, unless nil, says why
// that id is unknown (journal.DirID: no segment header in journalDir
// verifies), and the error then says so instead of naming an id. A
// node's start and `ringex replay` refuse the snapshot with it: a replay
// through that segment would apply another journal's inputs to the
// snapshot's state. With the id known, it also says the other way round
// it may be: the journal directory's segments the ones copied in, in
// place of the node's own (its id is theirs, so only the operator can
// tell which).
func OtherJournalSegment(err error, snapPath string, seq int64, journalDir, id string, idErr error) error {
	own := fmt.Sprintf("carries cluster id %q: the segment carrying another is not its own", id)
	if idErr != nil {
		own = fmt.Sprintf("has a cluster id that does not read (%v): one of the two segments named is not its own "+
			"(a backup of the journal tells which: its segments carry its id)", idErr)
	}
	swapped := ""
	if idErr == nil {
		// The journal's id is its newest segment's: when the journal
		// directory is what was copied in, the segment this error calls
		// foreign (in the archive, say) is the node's own.
		swapped = fmt.Sprintf(". If it is this journal's segments that were copied in instead (another node's journal put in its place: "+
			"every segment in %s carries %q, and the snapshots and archive are this node's), put this node's own segments back in %s", journalDir, id, journalDir)
	}
	return fmt.Errorf("checking snapshot %s against its input %d's journal record: %w. This journal (%s) %s, and its inputs are others; "+
		"nothing starts or replays from this snapshot until it is moved out "+
		"(a backup of this journal's own segment may take its place) — no replay or resend reads across it%s",
		snapPath, seq, err, journalDir, own, swapped)
}
