//go:build !windows

package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/node"
)

// Run as root (sudo) over a journal the node's own user owns — the node
// runs as User=ringex, its files 0600 — drop wrote dropped-inputs as
// root's, 0600: the node could not read it, and refused every start
// ("permission denied; mend or remove the file"). It takes the journal
// directory's owner.
func TestJournalDropAsRootKeepsTheNodesOwner(t *testing.T) {
	const uid, gid = 65534, 65534 // the node's user
	dir := nodeOwnedJournal(t, uid, gid)
	mustRingex(t, "journal", "drop", dir, "--input", "2", "--yes")
	for _, name := range []string{journal.DropsFile, "LOCK"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if s := st.Sys().(*syscall.Stat_t); s.Uid != uid || s.Gid != gid {
			t.Errorf("%s is owned by %d:%d, want the journal directory's owner %d:%d (the node could not read it)", name, s.Uid, s.Gid, uid, gid)
		}
	}
}

// nodeOwnedJournal is clientJournal's data directory as a node running
// as uid:gid leaves it (its lock file in the journal directory made by
// its start), every file and directory the node's.
func nodeOwnedJournal(t *testing.T, uid, gid int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the case is an operator's sudo")
	}
	cfg := clientJournal(t, 3, nil)
	dir := cfg.JournalDir()
	release, err := node.LockDir(dir) // as the node's start made it
	if err != nil {
		t.Fatal(err)
	}
	release()
	if err := filepath.Walk(cfg.Node.DataDir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func owner(t *testing.T, path string) (uid, gid uint32) {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	s := st.Sys().(*syscall.Stat_t)
	return s.Uid, s.Gid
}

// A journal directory the node may write but does not own — a mount
// point root owns, group-writable for the node's group, which the node
// starts on (closeDataDirs only warns) — was taken for the node's user:
// run as root, drop gave dropped-inputs root's ownership (0600: the node
// could not read it) and gave root the node's own lock file, which the
// node then could not open: every start refused. The node's files take
// the owner of the journal's segments.
func TestJournalDropAsRootInADirectoryTheNodeDoesNotOwn(t *testing.T) {
	const uid, gid = 65534, 65534 // the node's user
	dir := nodeOwnedJournal(t, uid, gid)
	if err := os.Chown(dir, 0, gid); err != nil { // root's, the node's group may write
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	mustRingex(t, "journal", "drop", dir, "--input", "2", "--yes")
	for _, name := range []string{journal.DropsFile, node.LockName} {
		if u, g := owner(t, filepath.Join(dir, name)); u != uid || g != gid {
			t.Errorf("%s is owned by %d:%d, want the node's %d:%d (its files are 0600: the node could not open it)", name, u, g, uid, gid)
		}
	}
}

// The journal directory is the node's user's: a name in it can be a
// symbolic link that user made. drop, run as root, changed the owner of
// what the link named (os.Stat and os.Chown follow links) — the lock
// file's, or dropped-inputs' even when drop refused to list the input
// (the file does not parse): any file on the host, here one of root's,
// given to the node's user whole.
func TestJournalDropAsRootChangesNoFileThroughALink(t *testing.T) {
	const uid, gid = 65534, 65534
	for _, name := range []string{node.LockName, journal.DropsFile} {
		t.Run(name, func(t *testing.T) {
			dir := nodeOwnedJournal(t, uid, gid)
			victim := filepath.Join(t.TempDir(), "roots")
			if err := os.WriteFile(victim, []byte("root's\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(dir, name)
			if err := os.Remove(link); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			if err := os.Symlink(victim, link); err != nil {
				t.Fatal(err)
			}
			if err := os.Lchown(link, uid, gid); err != nil {
				t.Fatal(err)
			}
			ringex(t, nil, "journal", "drop", dir, "--input", "2", "--yes") // refused or not: the victim stays root's
			if u, g := owner(t, victim); u != 0 || g != 0 {
				t.Fatalf("%s, root's, named by the link %s, is owned by %d:%d now", victim, link, u, g)
			}
		})
	}
}

// A member's journal directory made for its first start (the runbook's
// way for a member that joins later) has no lock file: the dry run the
// runbook has the operator run first, as root, made one — root's, 0600 —
// and left it so, as did a refusal (only a run with --yes that came to
// list the input gave it away): the node could not open it, and refused
// to start.
func TestJournalDropDryRunAsRootLeavesNoLockTheNodeCannotOpen(t *testing.T) {
	const uid, gid = 65534, 65534
	dir := nodeOwnedJournal(t, uid, gid)
	if err := os.Remove(filepath.Join(dir, node.LockName)); err != nil {
		t.Fatal(err)
	}
	mustRingex(t, "journal", "drop", dir, "--input", "2")           // the dry run
	ringex(t, nil, "journal", "drop", dir, "--input", "9", "--yes") // refused: not held, no --checksum
	if u, g := owner(t, filepath.Join(dir, node.LockName)); u != uid || g != gid {
		t.Fatalf("the lock file is owned by %d:%d after a dry run and a refusal as root, want the node's %d:%d", u, g, uid, gid)
	}
}

// cut, run as root like drop, made the lock file of a journal that had
// none (one made for a member's first start, or copied) root's, 0600:
// the node could not open it, and refused to start.
func TestJournalCutAsRootLeavesNoLockTheNodeCannotOpen(t *testing.T) {
	const uid, gid = 65534, 65534
	dir := nodeOwnedJournal(t, uid, gid)
	if err := os.Remove(filepath.Join(dir, node.LockName)); err != nil {
		t.Fatal(err)
	}
	ringex(t, nil, "journal", "cut", dir) // nothing torn to cut: refused or not, the lock is the node's
	if u, g := owner(t, filepath.Join(dir, node.LockName)); u != uid || g != gid {
		t.Fatalf("the lock file is owned by %d:%d after a cut as root, want the node's %d:%d", u, g, uid, gid)
	}
}
