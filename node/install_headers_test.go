package node

import (
	"fmt"
	"io"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// A raft snapshot stream's Reader opens each segment at most once — to
// read it — once the node has checked its header: the Reader checks the
// header of every segment of the journal, those before its start input
// too, and read them all again per stream (with
// snapshot.journal_retention keep, every segment the journal ever had).
// Before, the second stream opened its segment twice, as the first: its
// header, then to read it.
func TestRaftSnapshotReadsEachSegmentHeaderOnce(t *testing.T) {
	fs := &segmentOpens{FS: vfs.Default, opened: map[string]int{}}
	n, st := raftSource(t, Options{FS: fs})
	defer n.Stop()
	for i := range 2 {
		fs.take()
		if err := n.raftSnapshot(st.Seq, io.Discard); err != nil {
			t.Fatal(err)
		}
		wantEachOpenedOnce(t, fmt.Sprintf("stream %d", i+1), i == 0, fs.take())
	}
}
