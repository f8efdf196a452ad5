package node

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/journal"
)

// A last segment of 0 bytes — a roll whose preallocation failed on a
// full disk — holds no record and no header: the start says so, and that
// it wrote the header again, dropping nothing. It logged "truncated a
// torn tail" with 0 bytes dropped, which sent the operator looking for
// damage that was not there.
func TestStartSaysWhatAnEmptyLastSegmentWas(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := os.MkdirAll(cfg.JournalDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(cfg.JournalDir(), journal.SegmentName(1))
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	n, rec, err := New(cfg, zerolog.New(&log))
	if err != nil {
		t.Fatal(err)
	}
	n.discard()
	if rec.Journal.TornFile != empty || rec.Journal.TornOffset != 0 {
		t.Fatalf("recovered %+v; want the empty segment %s, torn at offset 0", rec.Journal, empty)
	}
	logged := log.String()
	if strings.Contains(logged, "torn tail") || !strings.Contains(logged, "held no record and no whole header") ||
		!strings.Contains(logged, "nothing dropped") || !strings.Contains(logged, empty) {
		t.Fatalf("the start's log:\n%s\nwant it to say %s held no record and no header, and nothing was dropped", logged, empty)
	}
}
