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
