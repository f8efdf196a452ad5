package node

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/proto/wire"
)

// A snapshot after the restored one, skipped for a flipped byte in its
// rules field, is damage: the start warns that the record there is
// unreadable, naming the file and its checksum failure, and goes on as
// past any damaged record. It refused before (ErrRulesChanged: "the
// inputs after N were decided under rules …"), reading the damaged field
// as a change of rules the config never had.
func TestSkippedSnapshotsDamagedRulesAreDamage(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.Snapshot.OnStop = false // the journal goes on past the damaged snapshot
	cfg.Snapshot.Keep = 3
	in := cfg.Instruments[0]
	n, addrs, _ := startNode(t, cfg)
	cl := dial(t, addrs.Gateway, 4)
	var snaps []int64
	for id := uint64(1); id <= 3; id++ {
		cl.NewOrder(limit(id, wire.SideBuy, in.ReferencePrice-int64(id)*in.TickSize, 1))
		next(t, cl, func(m client.Message) bool { return m.Type == wire.MessageExecutionReport })
		if id < 3 {
			snaps = append(snaps, waitSnapshot(t, n))
		}
	}
	cl.Close()
	last := n.journal.LastSeq()
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(cfg.SnapshotDir(), fmt.Sprintf("%020d.snap", snaps[1]))
	b, err := os.ReadFile(damaged)
	if err != nil {
		t.Fatal(err)
	}
	b[32+3] ^= 0x04 // the rules field (snapshot format, offset 32)
	if err := os.WriteFile(damaged, b, 0o644); err != nil {
		t.Fatal(err)
	}

	var log bytes.Buffer
	n2, rec, err := New(cfg, zerolog.New(&log))
	if err != nil {
		t.Fatalf("a start past a snapshot with a damaged rules field: %v\nwant it read as damage, not a change of rules", err)
	}
	defer n2.discard()
	if rec.LastSeq != last || rec.SnapshotSeq != snaps[0] {
		t.Fatalf("recovered %+v, want the snapshot of input %d and the journal to %d", rec, snaps[0], last)
	}
	var warned bool
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, "rules of a record after the restored snapshot are unknown") &&
			strings.Contains(line, damaged) && strings.Contains(line, "checksum mismatch") {
			warned = true
		}
	}
	if !warned {
		t.Fatalf("no warning naming %s and its checksum failure:\n%s", damaged, log.String())
	}
}
