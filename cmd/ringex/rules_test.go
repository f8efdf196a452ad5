package main

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/node"
)

// rulesNode starts a node on dir with account 4's max_order_qty set to
// maxQty (the demo config otherwise), and returns it with its addresses.
func rulesNode(t *testing.T, dir string, maxQty int64) (*node.Node, node.Addrs) {
	t.Helper()
	cfg := config.Default()
	for k, v := range map[string]string{
		"node.data_dir": dir, "gateway.listen": "127.0.0.1:0", "marketdata.listen": "127.0.0.1:0",
		"admin.listen": "127.0.0.1:0", "rings.input_slots": "1024", "rings.output_slots": "1024",
		"gateway.recent_reports": "1024", "snapshot.schedule": "", "journal.segment_bytes": "1048576",
		"journal.sync": "none", "engine.max_orders": "4096",
	} {
		if err := cfg.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	for i := range cfg.Accounts {
		if cfg.Accounts[i].ID == 4 {
			cfg.Accounts[i].MaxOrderQty = maxQty
		}
	}
	n, _, err := node.New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	a, err := n.Start()
	if err != nil {
		t.Fatal(err)
	}
	return n, a
}

// The README's config change: a clean stop, then a start under new
// limits. An order the old limits rejected must never be resent as
// accepted: the client (or its drop copy) would believe a 1.5 BTC bid
// rests that never existed. It was, once snapshot.keep had pruned the
// snapshot of input 0 (the one recording the journal's first rules): the
// resend then checked the oldest kept snapshot's rules — but that one was
// rewritten under the new rules at the start — and replayed the journal
// from an empty engine under today's limits. Prune keeps the snapshot of
// input 0 now, and a resend without it refuses to guess.
func TestResendAfterAConfigChangeKeepsTheOldDecisions(t *testing.T) {
	dir := t.TempDir()
	n, a := rulesNode(t, dir, 10000)
	out, _ := ringex(t, nil, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "BTC-USD", "--qty", "1.5", "--price", "60000", "--id", "111")...)
	wantLine(t, out, `^rejected .* client 111 .*reason max-order-qty`)
	if err := n.Stop(); err != nil { // clean stop: snapshot at input 1 under the old rules
		t.Fatal(err)
	}

	// The new limit, across the clean stop, as the README says.
	n, a = rulesNode(t, dir, 20000)
	mustRingex(t, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "ETH-USD", "--qty", "1", "--price", "2999", "--id", "222")...)
	if err := n.Stop(); err != nil { // another snapshot: keep 2 prunes the one of input 0
		t.Fatal(err)
	}

	n, a = rulesNode(t, dir, 20000)
	defer n.Stop()
	out = mustRingex(t, clientArgs(a, 4, "resend", "--after", "0")...)
	t.Logf("resend:\n%s", out)
	if regexp.MustCompile(`(?m)^resent accepted .* client 111 `).MatchString(out) {
		t.Fatalf("order 111 was rejected (max-order-qty) when it arrived, but the resend reports it accepted:\n%s", out)
	}
	wantLine(t, out, `^resend partial: .*inputs 1\.\.1 are no longer held`)
}

// `ringex replay` from the start (its default, and how the README says an
// operator reproduces production on a copy) under a config other than the
// one the journal was decided under prints a history that never happened
// — here an accepted 1.5 BTC bid that was rejected: it says so in a note,
// read off the data directory's snapshot of input 0, as --from-snapshot
// does.
func TestReplayFromTheStartNotesOtherRules(t *testing.T) {
	dir := t.TempDir()
	n, a := rulesNode(t, dir, 10000)
	out, _ := ringex(t, nil, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "BTC-USD", "--qty", "1.5", "--price", "60000", "--id", "111")...)
	wantLine(t, out, `^rejected .* client 111 .*reason max-order-qty`)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "new.yaml")
	yaml := "accounts:\n  - id: 4\n    name: demo-small\n    secret: demo-secret-4\n    max_order_qty: 20000\n    max_notional: 100000000000\n    max_open_orders: 1000\n"
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	out = mustRingex(t, "replay", "--events", "--config", cfgPath, "--set", "node.data_dir="+dir)
	t.Logf("replay:\n%s", out)
	if regexp.MustCompile(`(?m)^seq=1 accepted .*client=111 `).MatchString(out) && !strings.Contains(out, "note:") {
		t.Fatalf("replay from the start decided input 1 under other rules than it was decided under, and said nothing:\n%s", out)
	}
}

// Limits changed across a clean stop (A to B) and back across another:
// replayed under A, the inputs decided under B may be decided otherwise —
// a 1.5 BTC bid rejected under B comes out accepted — and the snapshots
// at both ends, of input 0 and of the last start, record A. The snapshot
// of B between them says so in a note; without it replay said nothing.
func TestReplayAcrossRulesChangedAndBackNotes(t *testing.T) {
	dir := t.TempDir()
	n, a := rulesNode(t, dir, 20000) // A
	mustRingex(t, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "ETH-USD", "--qty", "1", "--price", "2999", "--id", "1")...)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n, a = rulesNode(t, dir, 10000) // B
	out, _ := ringex(t, nil, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "BTC-USD", "--qty", "1.5", "--price", "60000", "--id", "111")...)
	wantLine(t, out, `^rejected .* client 111 .*reason max-order-qty`)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n, _ = rulesNode(t, dir, 20000) // A again
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	cfgPath := rulesAConfig(t)
	out = mustRingex(t, "replay", "--events", "--config", cfgPath, "--set", "node.data_dir="+dir)
	t.Logf("replay:\n%s", out)
	if strings.Contains(out, "note: the journal began under other") {
		t.Fatalf("the journal began under this config's rules (A):\n%s", out)
	}
	wantLine(t, out, `^note: the inputs after 1 were decided under other instruments, accounts or limits`)
}

// Limits changed across a clean stop (A to B) with no input decided under
// B: the journal ends at input 1, where B's start recorded its rules, and
// a replay under A decides every input as it was decided. It noted that
// "the inputs after 1 were decided under other" rules, of which there are
// none; the note is printed once the replay has gone past input 1.
func TestReplayNotesOtherRulesOnlyForInputsAfterThem(t *testing.T) {
	dir := t.TempDir()
	n, a := rulesNode(t, dir, 20000) // A
	mustRingex(t, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "ETH-USD", "--qty", "1", "--price", "2999", "--id", "1")...)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n, _ = rulesNode(t, dir, 10000) // B, no input
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	cfgPath := rulesAConfig(t)
	out := mustRingex(t, "replay", "--config", cfgPath, "--set", "node.data_dir="+dir)
	t.Logf("replay:\n%s", out)
	wantLine(t, out, `^replayed 1 records \(to sequence 1\)`)
	if strings.Contains(out, "note: the inputs after") {
		t.Fatalf("noted inputs after the journal's end as decided under other rules:\n%s", out)
	}

	// An input under B: now there is one, and the note names it.
	n, a = rulesNode(t, dir, 10000) // B
	mustRingex(t, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "ETH-USD", "--qty", "1", "--price", "2998", "--id", "2")...)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	out = mustRingex(t, "replay", "--config", cfgPath, "--set", "node.data_dir="+dir)
	t.Logf("replay:\n%s", out)
	wantLine(t, out, `^note: the inputs after 1 were decided under other instruments, accounts or limits`)
}

// A replay that passes the input after which the other rules were
// recorded and then fails on a damaged record still says the inputs it
// replayed past it were decided under other rules: the note, printed
// after the replay since 8262231, was printed only when it ended
// cleanly, and the operator reading why the replay failed did not learn
// that the inputs before the damage were replayed under rules they were
// not decided under.
func TestReplayNotesOtherRulesWhenItFailsPastThem(t *testing.T) {
	dir := t.TempDir()
	n, a := rulesNode(t, dir, 20000) // A
	mustRingex(t, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "ETH-USD", "--qty", "1", "--price", "2999", "--id", "1")...)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n, a = rulesNode(t, dir, 10000) // B: inputs 2, 3 and 4
	for _, id := range []string{"2", "3", "4"} {
		mustRingex(t, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "ETH-USD", "--qty", "1", "--price", "2998", "--id", id)...)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	// Input 3's body damaged, input 4 after it: corruption, not a torn
	// tail, in a journal the replay reads as fdatasynced.
	damageInput(t, dir, 3, 12) // in its body: its CRC no longer matches
	cfgPath := rulesAConfig(t)
	out, err := ringex(t, nil, "replay", "--config", cfgPath, "--set", "node.data_dir="+dir)
	t.Logf("replay: %v\n%s", err, out)
	if err == nil || !errors.Is(err, journal.ErrCorrupt) {
		t.Fatalf("replay of a journal with input 3 damaged: error %v, want %v", err, journal.ErrCorrupt)
	}
	wantLine(t, out, `^note: the inputs after 1 were decided under other instruments, accounts or limits .*replayed through input 2`)
}

// rulesAConfig writes a config file of rulesNode's rules A (account 4's
// max_order_qty 20000, every other account as the default config has
// it) for `ringex replay --config`, and returns its path.
func rulesAConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "a.yaml")
	yaml := "accounts:\n" +
		"  - {id: 1, name: demo-alice, secret: demo-secret-1, max_order_qty: 1000000, max_open_orders: 100000, cancel_on_disconnect: true}\n" +
		"  - {id: 2, name: demo-bob, secret: demo-secret-2, max_order_qty: 1000000, max_open_orders: 100000, cancel_on_disconnect: true}\n" +
		"  - {id: 3, name: demo-market-maker, secret: demo-secret-3, max_order_qty: 1000000, max_open_orders: 0, cancel_on_disconnect: true}\n" +
		"  - {id: 4, name: demo-small, secret: demo-secret-4, max_order_qty: 20000, max_notional: 100000000000, max_open_orders: 1000, rate_limit: 1000, disconnect_rate: 5000}\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
