package replicator

import (
	"errors"
	"strings"
	"testing"

	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/vfs"
)

// A member that applies a committed move and cannot write its file of
// fenced addresses — the file's write, its fsync or its directory's
// fsync fails — stops, cut off (ErrFenceNotWritten, naming the file and
// the cause), and takes no raft snapshot after (Compact fails): after a
// failed fsync what the disk holds is unknown, and a member restarted
// without the move in the file, or in a raft log it would apply again,
// would take raft RPCs from the moved member's former address. It
// logged the failure and ran on before.
func TestAFailedFenceWriteStopsTheMember(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   vfs.Op
	}{
		{"write", vfs.OpWrite},
		{"fsync", vfs.OpSync},
		{"directory fsync", vfs.OpSyncDir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, old, other, _, _ := toMove(t, stateOfApplied)
			f := other.r.trans.fence
			f.mu.Lock()
			f.fs = &vfs.ErrorFS{FS: f.fs, Op: tc.op}
			f.mu.Unlock()

			old.r.Isolate(true) // silent, so that it can be replaced
			moved := Peer{ID: old.r.cfg.NodeID, Raft: testkit.ReserveAddrs(t, 1)[0], Gateway: "gw-new"}
			if err := replaceSilent(t, l, moved); err != nil {
				t.Fatal(err)
			}
			fatal := waitFatal(t, other, func() string {
				return "the member applied the move, its fenced addresses' " + tc.name + " failed, and it is not stopped in 10 s"
			})
			if !errors.Is(fatal, ErrFenceNotWritten) || !errors.Is(fatal, vfs.ErrInjected) || !strings.Contains(fatal.Error(), f.path) {
				t.Fatalf("OnFatal got %v, want ErrFenceNotWritten naming %s and the injected fault", fatal, f.path)
			}
			if !other.r.trans.cut.Load() {
				t.Fatal("the member that could not write its fenced addresses is not cut off from its peers")
			}
			// Raft passes the FSM's error on as text.
			if err := other.r.Compact(); err == nil || !strings.Contains(err.Error(), errSnapshotBehind.Error()) {
				t.Fatalf("Compact after the move was not written: %v, want errSnapshotBehind (a move folded into a raft snapshot is not applied again at the restart)", err)
			}
		})
	}
}
