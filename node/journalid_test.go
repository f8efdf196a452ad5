package node

import (
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/journal"
)

// A node whose journal carries another cluster id than its cluster.id —
// the id renamed since the journal began, or the data directory another
// cluster's — starts (a journal keeps its id), and warns, naming both
// ids and what to do: a segment of a member whose journal carries
// another id is refused by this one's, so members' segments are no
// longer interchangeable. Before, the line was at info, below the level
// an operator's alerting reads.
func TestJournalOfAnotherClusterIDWarns(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := cfg.Set("cluster.id", "prod-eu"); err != nil {
		t.Fatal(err)
	}
	j, _, err := journal.Open(cfg.JournalDir(), journal.Options{SegmentBytes: cfg.Journal.SegmentBytes, ID: "prod-us"})
	if err != nil {
		t.Fatal(err)
	}
	err = j.BeginAt(1) // its first segment, carrying its id
	if cerr := j.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
	logs := new(testkit.SyncBuffer)
	n, rec, err := NewWithOptions(cfg, zerolog.New(logs), Options{})
	if err != nil {
		t.Fatal(err)
	}
	n.discard()
	if rec.Journal.ID != "prod-us" {
		t.Fatalf("journal id %q, want the journal's prod-us kept", rec.Journal.ID)
	}
	var line string
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, "another cluster id than cluster.id") {
			line = l
		}
	}
	for _, want := range []string{`"level":"warn"`, `"journal_id":"prod-us"`, `"cluster_id":"prod-eu"`, "another cluster's"} {
		if !strings.Contains(line, want) {
			t.Fatalf("the line on the journal's id: %q; want it to hold %s\nlog:\n%s", line, want, logs.String())
		}
	}
}
