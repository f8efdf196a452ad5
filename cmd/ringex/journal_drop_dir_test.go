package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/journal"
)

// Only <journal dir>/dropped-inputs is read. Given the data directory
// (its journal beside: "does not hold input N: give --checksum", which
// the runbook gives for a member that was down) or the archive, drop
// wrote a file nothing reads, said the input was listed, and the next
// start panicked on it again. It refuses them, naming the journal.
func TestJournalDropRefusesADirectoryNoNodeReads(t *testing.T) {
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
	archive := filepath.Join(cfg.Node.DataDir, "archive")
	if err := os.MkdirAll(archive, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{cfg.Node.DataDir, archive} {
		out, err := ringex(t, nil, "journal", "drop", dir, "--input", "5", "--checksum", "0000abcd", "--yes")
		if err == nil || !strings.Contains(err.Error(), cfg.JournalDir()) {
			t.Errorf("drop in %s: %v, want a refusal naming %s\n%s", dir, err, cfg.JournalDir(), out)
		}
		if _, err := os.Stat(filepath.Join(dir, journal.DropsFile)); !os.IsNotExist(err) {
			t.Errorf("drop wrote %s (%v), which no node reads", filepath.Join(dir, journal.DropsFile), err)
		}
	}
}
