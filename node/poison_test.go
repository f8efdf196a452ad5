package node

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/replay"
)

// A journaled input the engine panics on makes every restart's replay
// panic on it again: New returns an error naming the input and the
// runbook entry, and logs the stack once, instead of the process
// crashing with a Go stack trace at every start.
func TestRecoveryReportsAnInputTheEnginePanicsOn(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.Snapshot.OnStop = false // the restart replays the orders
	in := cfg.Instruments[0]
	n, addrs, _ := startNode(t, cfg)
	c := dial(t, addrs.Gateway, 1)
	for i := uint64(1); i <= 3; i++ {
		c.NewOrder(limit(i, wire.SideBuy, in.ReferencePrice-in.TickSize, 1))
	}
	next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == 3 })
	c.Close()
	n.Stop()
	poison := n.Final().LastSeq // the third order

	replayEmitHook = func(ev *engine.Event) {
		if ev.Seq == poison {
			panic("test: poisoned input")
		}
	}
	defer func() { replayEmitHook = nil }()
	logs := new(testkit.SyncBuffer)
	n2, _, err := New(testConfig(t, dir), zerolog.New(logs))
	if n2 != nil {
		n2.Stop()
	}
	var perr *replay.PanicError
	if !errors.As(err, &perr) || !errors.Is(err, replay.ErrEnginePanicked) {
		t.Fatalf("restart over a poisoned input: %v, want a replay.PanicError", err)
	}
	for _, want := range []string{"input " + strconv.FormatInt(poison, 10), "journal segment ", "test: poisoned input",
		"An input the engine cannot apply"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if perr.Segment == "" || perr.Offset <= 0 {
		t.Errorf("segment %q offset %d, want the record's place", perr.Segment, perr.Offset)
	}
	if got := strings.Count(logs.String(), `"stack":`); got != 1 || !strings.Contains(logs.String(), `"level":"error"`) {
		t.Errorf("stack logged %d times at error level, want once:\n%s", got, logs)
	}

	// The directory was released: fixed (here, the hook gone), it starts.
	replayEmitHook = nil
	n3, _, rec := startNode(t, testConfig(t, dir))
	defer n3.Stop()
	if rec.LastSeq != poison {
		t.Fatalf("after the fix: recovered to %d, want %d", rec.LastSeq, poison)
	}
}
