package reconcile

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// reconcile runs a model over every report so far and checks the drop
// copy and the subscribers, which must be connected still, against it.
func (sc *scenario) reconcile(when string, subscribers []*subscriber, drop *session) *model {
	t := sc.t
	t.Helper()
	m := newModel(sc.cfg)
	maps.Copy(m.haltedAfter, sc.haltedAfter)
	m.run(m.inputsOf(sc.traders))
	st := m.stats
	t.Logf("%s: %d inputs: %d orders accepted, rejected %v, %d trades, %d replaced, %d cancelled; at most %d orders live",
		when, st.inputs, st.accepted, st.rejected, st.trades, st.replaced, st.cancelled, st.mostLive)
	for _, p := range m.problems {
		t.Errorf("%s: %s", when, p)
	}
	sc.checkDropCopy(when, drop)
	if len(m.problems) > 0 {
		t.Fatalf("%s: the model disagrees with the exchange: its books are no reference for the feed's", when)
	}
	deadline := time.Now().Add(hangAfter) // one wait for all: they catch up at once
	for _, sub := range subscribers {
		sc.checkFeed(when, sub, m, deadline)
	}
	if t.Failed() {
		t.FailNow() // what comes next starts from this state
	}
	return m
}

// checkDropCopy: the drop copy has every report its account's trading
// sessions had of the inputs after its logon, and nothing else, but the
// answers to a session's own status and mass-cancel requests and the
// gateway's own refusals (proto/README.md "Session flow", 1).
func (sc *scenario) checkDropCopy(when string, drop *session) {
	t := sc.t
	t.Helper()
	var want []proto.Report
	for _, s := range sc.traders {
		if s.account != drop.account {
			continue
		}
		_, reports := s.record()
		for _, r := range reports {
			switch {
			case r.InputSeq <= drop.c.LogonInputSeq,
				r.Kind == wire.ExecKindStatus, r.Kind == wire.ExecKindStatusDone, r.Kind == wire.ExecKindMassCancelDone:
			default:
				want = append(want, r)
			}
		}
	}
	got := drop.await(t, 0, fmt.Sprintf("%d reports", len(want)), func(rs []proto.Report) bool { return len(rs) >= len(want) })
	byInput := func(a, b proto.Report) int {
		return cmp.Or(cmp.Compare(a.InputSeq, b.InputSeq), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.OrderID, b.OrderID), cmp.Compare(a.TradeID, b.TradeID))
	}
	slices.SortFunc(want, byInput)
	slices.SortFunc(got, byInput)
	if !slices.Equal(want, got) {
		t.Errorf("%s: %s has %d reports, its account's sessions %d of the inputs after its logon (input %d)", when, drop.name, len(got), len(want), drop.c.LogonInputSeq)
	}
}

// checkFeed: the subscriber's books, last prices and trading states
// become the model's, and it has seen every trade from its first one on
// (proto/README.md "Market data"), each as the fills of the trade say.
func (sc *scenario) checkFeed(when string, sub *subscriber, m *model, deadline time.Time) {
	t := sc.t
	t.Helper()
	var differences []string
	err := sub.await(deadline, func() bool {
		differences = sc.feedDifferences(sub, m)
		return len(differences) == 0
	})
	if err != nil {
		t.Errorf("%s: the market-data feed does not become the model's (%v):\n%s", when, err, strings.Join(differences, "\n"))
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	for _, p := range sub.problems {
		t.Errorf("%s: market data: %s", when, p)
	}
	for id, tr := range sub.trades {
		fills := m.fillsByTrade[id]
		if len(fills) == 0 {
			t.Errorf("%s: trade %+v on the feed has no fills", when, tr)
			continue
		}
		if f := fills[0]; f.Price != tr.Price || f.Quantity != tr.Quantity || f.Instrument != tr.Instrument || m.aggressor[int64(id>>16)] != tr.Aggressor {
			t.Errorf("%s: trade %+v on the feed; its fills %+v, aggressor %s", when, tr, fills, wire.EnumNamesSide[m.aggressor[int64(id>>16)]])
		}
	}
}

// feedDifferences lists where the subscriber's view is not the model's
// yet. Called under sub.mu.
func (sc *scenario) feedDifferences(sub *subscriber, m *model) []string {
	var diffs []string
	for _, in := range sc.cfg.Instruments {
		b := sub.books[in.ID]
		if got, want := bookLines(in, b.Bids, b.Asks), m.bookLines(in); got != want {
			diffs = append(diffs, fmt.Sprintf("instrument %d: the feed's book (-) and the model's (+) differ:\n%s", in.ID, lineDiff(got, want)))
		}
		if b.LastPrice != m.lastPrice[in.ID] {
			diffs = append(diffs, fmt.Sprintf("instrument %d: last price %d on the feed, %d in the model", in.ID, b.LastPrice, m.lastPrice[in.ID]))
		}
		if _, want := sc.haltedAfter[in.ID]; b.Halted != want {
			diffs = append(diffs, fmt.Sprintf("instrument %d: halted %v on the feed, %v in the model", in.ID, b.Halted, want))
		}
	}
	first := uint64(1<<64 - 1)
	for id := range sub.trades {
		first = min(first, id)
	}
	missing := 0
	for id := range m.fillsByTrade {
		if _, seen := sub.trades[id]; id > first && !seen {
			missing++
		}
	}
	if missing > 0 {
		diffs = append(diffs, fmt.Sprintf("%d trades after the feed's first are not on it", missing))
	}
	return diffs
}

// compareLiveOrders: a restart keeps every live order as it was.
func compareLiveOrders(t *testing.T, before, after []proto.Report) {
	t.Helper()
	describe := func(live []proto.Report) []string {
		var lines []string
		for _, r := range live {
			lines = append(lines, fmt.Sprintf("order %d client id %d account %d instrument %d %s %d at %d, %d open", r.OrderID, r.ClientOrderID,
				r.Account, r.Instrument, wire.EnumNamesSide[r.Side], r.Quantity, r.Price, r.Leaves))
		}
		slices.Sort(lines)
		return lines
	}
	if b, a := describe(before), describe(after); !slices.Equal(b, a) {
		t.Errorf("the restart changed the live orders (- before, + after):\n%s", lineDiff(strings.Join(b, "\n")+"\n", strings.Join(a, "\n")+"\n"))
	}
}

// checkReplay: `ringex replay` of a copy of the stopped node's data —
// from the start (through the archive) and from the newest snapshot —
// reaches the node's last input and state hash, under the same rules
// (no note of other ones), with the model's books.
func (sc *scenario) checkReplay(final node.Final, m *model) {
	t := sc.t
	t.Helper()
	data := t.TempDir()
	if err := os.CopyFS(data, os.DirFS(sc.cfg.Node.DataDir)); err != nil {
		t.Fatalf("copying the data: %v", err)
	}
	os.Remove(filepath.Join(data, "LOCK")) // the node's, stopped
	// The scenario's settings say "older [snapshots] are pruned and their
	// journal segments archived (a replay from the start reads the
	// archive)": the replay from the start below only checks that if the
	// archive holds segments.
	if archived, _ := filepath.Glob(filepath.Join(data, "archive", "*.journal")); len(archived) == 0 {
		segs, _ := filepath.Glob(filepath.Join(data, "journal", "*.journal"))
		t.Errorf("no journal segment was archived (journal segments %d): the replay from the start never reads the archive it claims to", len(segs))
	}
	var books strings.Builder
	for _, in := range sc.cfg.Instruments {
		fmt.Fprintf(&books, "instrument %d\n%s", in.ID, m.bookLines(in))
	}
	for _, replay := range [][]string{{"replay", "--books"}, {"replay", "--from-snapshot", "--books"}} {
		args := append(slices.Clone(replay), "--set", "node.data_dir="+data)
		for k, v := range settings {
			args = append(args, "--set", k+"="+v)
		}
		cmd := exec.Command(binary, args...)
		cmd.Env = slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "RINGEX_") })
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("ringex %s: %v\n%s", strings.Join(replay, " "), err, out)
			continue
		}
		text := string(out)
		want := fmt.Sprintf("(to sequence %d)", final.LastSeq)
		hash := fmt.Sprintf("state hash %016x\n", final.Hash)
		if !strings.Contains(text, want) || !strings.Contains(text, hash) || strings.Contains(text, "note:") {
			t.Errorf("ringex %s: want %s and %s, no notes:\n%s", strings.Join(replay, " "), want, strings.TrimSpace(hash), text)
		}
		if got := replayedBooks(text); got != books.String() {
			t.Errorf("ringex %s: the books (-) and the model's (+) differ:\n%s", strings.Join(replay, " "), lineDiff(got, books.String()))
		}
	}
}

// replayedBooks is the books of `ringex replay --books` output, each
// under a line "instrument N".
var instrumentLine = regexp.MustCompile(`^instrument (\d+) `)

func replayedBooks(out string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(out, "\n") {
		if m := instrumentLine.FindStringSubmatch(line); m != nil {
			fmt.Fprintf(&b, "instrument %s\n", m[1])
		} else if strings.HasPrefix(line, "  ") {
			b.WriteString(line)
		}
	}
	return b.String()
}
