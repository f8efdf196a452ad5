package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/replay"
)

// An input the engine panics on is journaled: every start replayed it
// and panicked again, and the only way on was a build that fixes the
// panic. Listed in the journal's drops file (ringex journal drop, with
// the checksum the refusal names), the restart rejects it instead — the
// build still panicking on it — and its session is answered
// dropped-by-operator when it asks for its reports again. The restart
// writes a snapshot past it, so the next start does not replay it.
func TestADroppedInputIsRejectedAtTheRestart(t *testing.T) {
	dir := t.TempDir()
	conf := dropTestConfig(t, dir)
	cfg := conf()
	poison := tradeThenStop(t, cfg, 3, nil) // the third bid

	poisonReplay(t, poison)
	n2, _, err := New(conf(), zerolog.Nop())
	if n2 != nil {
		n2.Stop()
	}
	var perr *replay.PanicError
	if !errors.As(err, &perr) {
		t.Fatalf("restart over a poisoned input: %v, want a replay.PanicError", err)
	}
	want, found, cerr := journal.ChecksumAt([]string{cfg.JournalDir()}, nil, poison)
	if cerr != nil || !found || perr.Checksum != want {
		t.Fatalf("the refusal names checksum %08x; the journal's record of input %d: %08x (found %v, %v)", perr.Checksum, poison, want, found, cerr)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("checksum %08x", want)) || !strings.Contains(err.Error(), "ringex journal drop") {
		t.Errorf("the refusal %q does not name the checksum and the way on", err)
	}

	if _, err := journal.AddDrop(nil, cfg.JournalDir(), journal.Drop{Seq: poison, Checksum: perr.Checksum}); err != nil {
		t.Fatal(err)
	}
	logs := new(testkit.SyncBuffer)
	n3, rec, err := New(conf(), zerolog.New(logs)) // the same build: it still panics on the input
	if err != nil {
		t.Fatalf("restart with the input dropped: %v", err)
	}
	addrs, err := n3.Start()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.Dropped, []int64{poison}) || rec.LastSeq < poison {
		t.Fatalf("recovered to %d dropping %v, want past %d dropping it", rec.LastSeq, rec.Dropped, poison)
	}
	for _, line := range []string{"the operator dropped this input", "rejected a dropped input", "written past the dropped inputs"} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("the log does not say %q:\n%s", line, logs)
		}
	}

	if v, ok := metricValue(scrapeMetrics(t, n3.adminLn.Addr().String()), "ringex_dropped_inputs"); v != 1 || !ok {
		t.Errorf("ringex_dropped_inputs = %v (served %v), want 1", v, ok)
	}

	// The file changed under the running node — by hand: the command
	// takes the lock — does not change what its resends rebuild: they
	// drop what its engine dropped.
	file := filepath.Join(cfg.JournalDir(), journal.DropsFile)
	listed, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := dial(t, addrs.Gateway, 1)
	tag, err := c.Resend(poison - 1)
	if err != nil {
		t.Fatal(err)
	}
	resent, _, _ := resendAnswer(t, c, tag)
	if len(resent) != 1 || resent[0].Kind != wire.ExecKindRejected || resent[0].Reason != uint8(engine.ReasonDroppedByOperator) ||
		resent[0].ClientOrderID != 3 || resent[0].InputSeq != poison {
		t.Fatalf("resent %+v, want order 3 rejected dropped-by-operator", resent)
	}
	// Not on the book: a status request lists orders 1 and 2 alone.
	c.OrderStatus(proto.OrderStatus{})
	var live []uint64
	status := func(m client.Message) bool {
		return m.Type == wire.MessageExecutionReport && (m.Report.Kind == wire.ExecKindStatus || m.Report.Kind == wire.ExecKindStatusDone)
	}
	for m := next(t, c, status); m.Report.Kind == wire.ExecKindStatus; m = next(t, c, status) {
		live = append(live, m.Report.ClientOrderID)
	}
	if !slices.Equal(live, []uint64{1, 2}) {
		t.Fatalf("live orders %v, want [1 2]", live)
	}
	c.Close()
	n3.Stop()
	if err := os.WriteFile(file, listed, 0o600); err != nil {
		t.Fatal(err)
	}

	n4, rec4, err := New(conf(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	n4.Stop()
	if rec4.SnapshotSeq != rec.LastSeq || len(rec4.Dropped) != 0 {
		t.Fatalf("the next start restored input %d and dropped %v: want the snapshot written past the drop, at %d", rec4.SnapshotSeq, rec4.Dropped, rec.LastSeq)
	}
}

// tradeThenStop starts a node on cfg, rests bids 1…bids of account 1
// (restBids), runs more with its client (nil: nothing more), and stops
// the node. It returns the last bid's input sequence: bid i's is that
// less bids-i (one client, nothing else journaled between them).
func tradeThenStop(t *testing.T, cfg *config.Config, bids uint64, more func(c *client.Client)) int64 {
	t.Helper()
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	c := dial(t, addrs.Gateway, 1)
	defer c.Close()
	restBids(t, c, cfg.Instruments[0], 1, bids) // up to the last bid's report
	last := c.LastInputSeq
	if more != nil {
		more(c)
	}
	return last
}

// dropTestConfig returns the drop tests' config for dir, made anew for
// each start: the restart replays the inputs (no snapshot at the stop),
// and account 1's orders stay on the book when it logs off.
func dropTestConfig(t *testing.T, dir string) func() *config.Config {
	return func() *config.Config {
		cfg := testConfig(t, dir)
		cfg.Snapshot.OnStop = false
		cfg.Accounts[0].CancelOnDisconnect = false
		return cfg
	}
}

// poisonReplay makes the engine of a node's replay panic applying input
// seq — not rejecting it, as it rejects a dropped input — until the test
// ends: an input this build cannot apply.
func poisonReplay(t *testing.T, seq int64) {
	replayEmitHook = func(ev *engine.Event) {
		if ev.Seq == seq && ev.Type != engine.EvRejected {
			panic("test: poisoned input")
		}
	}
	t.Cleanup(func() { replayEmitHook = nil })
}

// listDrop lists input seq of the journal in dir in its drops file,
// with its record's checksum, as ringex journal drop does.
func listDrop(t *testing.T, dir string, seq int64) {
	t.Helper()
	crc, found, err := journal.ChecksumAt([]string{dir}, nil, seq)
	if err != nil || !found {
		t.Fatalf("input %d: found %v, %v", seq, found, err)
	}
	if _, err := journal.AddDrop(nil, dir, journal.Drop{Seq: seq, Checksum: crc}); err != nil {
		t.Fatal(err)
	}
}

// A drops file that does not parse refuses the start: without it, the
// inputs it lists would be applied.
func TestAMalformedDropsFileRefusesTheStart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	n, _, _ := startNode(t, cfg)
	n.Stop()
	if err := os.WriteFile(filepath.Join(cfg.JournalDir(), journal.DropsFile), []byte("12 zz\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n2, _, err := New(testConfig(t, dir), zerolog.Nop())
	if n2 != nil {
		n2.Stop()
	}
	if !errors.Is(err, journal.ErrBadDrops) || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("start with a malformed drops file: %v, want ErrBadDrops naming the line", err)
	}
}

// A member that was down while the others met the dropped input takes it
// from the leader's log, through its live pipeline: its unmarshaler
// drops it as the replay does. (Here the others applied it — they had no
// drop — so the member's state differs from theirs by exactly that
// order.)
func TestAMemberDropsAListedInputItTakesFromTheLog(t *testing.T) {
	ns := startTestCluster(t)
	l := readyLeader(t, ns, nil)
	fi := slices.IndexFunc(ns, func(n *Node) bool { return n != l })
	f := ns[fi]
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	l = publishBids(t, ns, f, 1, 5)
	waitUntil(t, func() bool { return l.stateNow().Seq >= 5 }, ns...)
	poison := l.stateNow().Seq - 2 // the third bid
	crc, found, err := journal.ChecksumAt([]string{l.cfg.JournalDir()}, nil, poison)
	if err != nil || !found {
		t.Fatalf("the leader's record of input %d: found %v, %v", poison, found, err)
	}
	if _, err := journal.AddDrop(nil, f.cfg.JournalDir(), journal.Drop{Seq: poison, Checksum: crc}); err != nil {
		t.Fatal(err)
	}
	logs := new(testkit.SyncBuffer)
	f2, _, err := NewWithOptions(f.cfg, zerolog.New(logs), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ns[fi] = f2
	if _, err := f2.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return f2.stateNow().Seq >= l.stateNow().Seq }, ns...)
	if !strings.Contains(logs.String(), "unmarshal: rejected a dropped input") {
		t.Fatalf("the member did not drop input %d:\n%s", poison, logs)
	}
	if v, _ := metricValue(scrapeMetrics(t, f2.adminLn.Addr().String()), `ringex_rejects_total{reason="dropped-by-operator"}`); v != 1 {
		t.Fatalf("the member's dropped-by-operator rejects: %v, want 1", v)
	}
	if v, _ := metricValue(scrapeMetrics(t, l.adminLn.Addr().String()), `ringex_rejects_total{reason="dropped-by-operator"}`); v != 0 {
		t.Fatalf("the leader's dropped-by-operator rejects: %v, want 0 (it lists no drop)", v)
	}
	if f2.stateNow().Hash == l.stateNow().Hash {
		t.Fatal("the member's state is the leader's: the dropped order was applied")
	}
}

// The snapshot a recovery writes past the inputs it dropped is the
// newest on disk: the metrics say so. They named the snapshot restored
// (ringex_inputs_since_snapshot counted the inputs before the drop a
// restart would no longer replay; ringex_snapshot_sequence said none
// written).
func TestTheSnapshotPastADropIsInTheMetrics(t *testing.T) {
	dir := t.TempDir()
	conf := dropTestConfig(t, dir)
	cfg := conf()
	poison := tradeThenStop(t, cfg, 3, nil) - 1 // the second bid
	poisonReplay(t, poison)
	listDrop(t, cfg.JournalDir(), poison)
	n2, rec, err := New(conf(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n2.Start(); err != nil {
		t.Fatal(err)
	}
	defer n2.Stop()
	m := scrapeMetrics(t, n2.adminLn.Addr().String())
	if v, _ := metricValue(m, "ringex_inputs_since_snapshot"); v != 0 {
		t.Errorf("ringex_inputs_since_snapshot %v after a snapshot at the journal's end (input %d), want 0", v, rec.LastSeq)
	}
	if v, _ := metricValue(m, "ringex_snapshot_sequence"); int64(v) != rec.LastSeq {
		t.Errorf("ringex_snapshot_sequence %v, want %d (written past the drop)", v, rec.LastSeq)
	}
}

// A dropped query (an order status request here) is refused as a query:
// to its asker alone and never resent, as the engine refuses any query.
// Its reject was an ordinary report: every resend after the restart
// repeated a Rejected naming the request's cursor as a client order id.
func TestADroppedQueryIsNotResent(t *testing.T) {
	dir := t.TempDir()
	conf := dropTestConfig(t, dir)
	cfg := conf()
	var poison int64
	first := tradeThenStop(t, cfg, 1, func(c *client.Client) {
		c.OrderStatus(proto.OrderStatus{AfterOrderID: 7})
		poison = next(t, c, func(m client.Message) bool {
			return m.Type == wire.MessageExecutionReport && m.Report.Kind == wire.ExecKindStatusDone
		}).Report.InputSeq
	})

	poisonReplay(t, poison) // answering the status panics; refusing it does not
	listDrop(t, cfg.JournalDir(), poison)
	n2, _, err := New(conf(), zerolog.Nop())
	if err != nil {
		t.Fatalf("restart with the status request dropped: %v", err)
	}
	addrs, err := n2.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Stop()
	c := dial(t, addrs.Gateway, 1)
	defer c.Close()
	tag, err := c.Resend(first - 1)
	if err != nil {
		t.Fatal(err)
	}
	resent, _, _ := resendAnswer(t, c, tag)
	for _, r := range resent {
		if r.InputSeq == poison {
			t.Fatalf("the dropped status request's refusal was resent: %+v (all: %+v)", r, resent)
		}
	}
	if len(resent) != 1 || resent[0].ClientOrderID != 1 {
		t.Fatalf("resent %+v, want order 1's acceptance alone", resent)
	}
}
