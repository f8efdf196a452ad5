package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/vfs"
)

// ErrDataDirInUse: another process holds the node's data directory.
var ErrDataDirInUse = errors.New("node: data directory in use")

// lockName is the lock file in a node's data directory (and in its
// journal and snapshot directories).
const lockName = "LOCK"

// LockName is the lock file LockDir keeps in a directory.
const LockName = lockName

// dirLocks are the directory locks a node holds until it stops.
type dirLocks []*os.File

// lock adds the lock of dir, unless held already (a directory named
// twice — also as two different paths, one relative and one absolute, or
// through a symlink: compared as files, not as names, or the node
// refused its own lock).
func (l *dirLocks) lock(dir string) error {
	st, err := os.Stat(dir)
	for _, f := range *l {
		if filepath.Dir(f.Name()) == filepath.Clean(dir) {
			return nil
		}
		if held, herr := os.Stat(filepath.Dir(f.Name())); err == nil && herr == nil && os.SameFile(st, held) {
			return nil
		}
	}
	f, err := lockDataDir(dir)
	if err != nil {
		return err
	}
	*l = append(*l, f)
	return nil
}

// LockDir takes the lock a node takes on each of its directories, for a
// tool that must not run beside a node using dir (ringex journal cut):
// ErrDataDirInUse, naming the holder's pid, while one does.
func LockDir(dir string) (release func(), err error) {
	f, err := lockDataDir(dir)
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}

// release drops every lock: another node may use the directories now.
func (l *dirLocks) release() {
	for _, f := range *l {
		f.Close()
	}
	*l = nil
}

// closeDataDirs takes other users' permissions off the node's directories
// that exist: the data directory (holding the raft state too), the
// journal, the snapshots and the archive. The node creates its files
// 0600 and directories 0700 (vfs.FileMode, vfs.DirMode); earlier builds
// made them 0644 and 0755, as an operator's mkdir under the usual umask
// makes a directory, and any local user could read every account's
// orders. A directory closed closes all below it, so
// one chmod each is enough. Not fatal: a directory the node may write but
// does not own (EPERM) keeps its mode, with a warning — the operator
// closes it.
func closeDataDirs(cfg *config.Config, log zerolog.Logger) {
	for _, dir := range []string{cfg.Node.DataDir, cfg.JournalDir(), cfg.SnapshotDir(), cfg.ArchiveDir()} {
		vfs.CloseToOthers(dir, "node: a data directory", log)
	}
}

// ErrMemberDataDir: a node configured without a cluster was started on a
// cluster member's data directory.
var ErrMemberDataDir = errors.New("node: the data directory is a cluster member's")

// refuseMemberDataDir refuses to run a node without a cluster on a data
// directory holding raft state (<data_dir>/raft): a member's, started
// with a config that lost its cluster section. Alone it would take
// orders apart from its cluster — two exchanges, each acknowledging
// orders the other never sees — from a journal written without fdatasync
// that may lack inputs the cluster committed.
func refuseMemberDataDir(cfg *config.Config) error {
	if cfg.Cluster.Enabled() {
		return nil
	}
	entries, err := os.ReadDir(raftDir(cfg))
	if err != nil || len(entries) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s holds raft state, and the config names no cluster (cluster.peers); start it with its cluster config, "+
		"or — to run a copy of it alone on purpose, apart from the cluster — move %s aside first", ErrMemberDataDir, cfg.Node.DataDir, raftDir(cfg))
}
