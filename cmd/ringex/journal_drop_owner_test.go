package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/journal"
)

// Run as root (sudo) over a journal the node's own user owns — the node
// runs as User=ringex, its files 0600 — drop wrote dropped-inputs as
// root's, 0600: the node could not read it, and refused every start
// ("permission denied; mend or remove the file"). It takes the journal
// directory's owner.
func TestJournalDropAsRootKeepsTheNodesOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the case is an operator's sudo")
	}
	cfg, j := demoJournal(t)
	for seq := int64(1); seq <= 3; seq++ {
		if err := j.Append(&journal.Record{Seq: seq, Session: 1, Account: 1, Kind: uint8(input.KindClient), Payload: []byte{1, 2, 3}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	j.Close()
	dir := cfg.JournalDir()
	const uid, gid = 65534, 65534 // the node's user
	if err := filepath.Walk(cfg.Node.DataDir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}); err != nil {
		t.Fatal(err)
	}
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
