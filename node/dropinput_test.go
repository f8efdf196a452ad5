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
	conf := func() *config.Config {
		cfg := testConfig(t, dir)
		cfg.Snapshot.OnStop = false                // the restart replays the orders
		cfg.Accounts[0].CancelOnDisconnect = false // the orders stay on the book
		return cfg
	}
	cfg := conf()
	in := cfg.Instruments[0]
	n, addrs, _ := startNode(t, cfg)
	c := dial(t, addrs.Gateway, 1)
	for i := uint64(1); i <= 3; i++ {
		c.NewOrder(limit(i, wire.SideBuy, in.ReferencePrice-in.TickSize*int64(i), 1))
	}
	poison := next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == 3 }).Report.InputSeq
	c.Close()
	n.Stop()

	replayEmitHook = func(ev *engine.Event) { // applying the order panics; rejecting it does not
		if ev.Seq == poison && ev.Type != engine.EvRejected {
			panic("test: poisoned input")
		}
	}
	defer func() { replayEmitHook = nil }()
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
	logs := new(lockedLog)
	n3, rec, err := New(conf(), zerolog.New(logs)) // the same build: it still panics on the input
	if err != nil {
		t.Fatalf("restart with the input dropped: %v", err)
	}
	addrs, err = n3.Start()
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
	c = dial(t, addrs.Gateway, 1)
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
	waitUntil(t, func() bool { return l.State().Seq >= 5 })
	poison := l.State().Seq - 2 // the third bid
	crc, found, err := journal.ChecksumAt([]string{l.cfg.JournalDir()}, nil, poison)
	if err != nil || !found {
		t.Fatalf("the leader's record of input %d: found %v, %v", poison, found, err)
	}
	if _, err := journal.AddDrop(nil, f.cfg.JournalDir(), journal.Drop{Seq: poison, Checksum: crc}); err != nil {
		t.Fatal(err)
	}
	logs := new(lockedLog)
	f2, _, err := NewWithOptions(f.cfg, zerolog.New(logs), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ns[fi] = f2
	if _, err := f2.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return f2.State().Seq >= l.State().Seq })
	if !strings.Contains(logs.String(), "unmarshal: rejected a dropped input") {
		t.Fatalf("the member did not drop input %d:\n%s", poison, logs)
	}
	if v, _ := metricValue(scrapeMetrics(t, f2.adminLn.Addr().String()), `ringex_rejects_total{reason="dropped-by-operator"}`); v != 1 {
		t.Fatalf("the member's dropped-by-operator rejects: %v, want 1", v)
	}
	if v, _ := metricValue(scrapeMetrics(t, l.adminLn.Addr().String()), `ringex_rejects_total{reason="dropped-by-operator"}`); v != 0 {
		t.Fatalf("the leader's dropped-by-operator rejects: %v, want 0 (it lists no drop)", v)
	}
	if f2.State().Hash == l.State().Hash {
		t.Fatal("the member's state is the leader's: the dropped order was applied")
	}
}
