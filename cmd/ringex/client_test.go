package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/internal/testnode"
	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// ringex runs the CLI with args and returns what it printed.
func ringex(t *testing.T, stdin io.Reader, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut testkit.SyncBuffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	if stdin != nil {
		root.SetIn(stdin)
	}
	root.SetArgs(args)
	err := root.Execute()
	return out.String() + errOut.String(), err
}

func mustRingex(t *testing.T, args ...string) string {
	t.Helper()
	out, err := ringex(t, nil, args...)
	if err != nil {
		t.Fatalf("ringex %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// clientArgs is `ringex client args[0]` against the node at a, logged on
// as account, with the shared flags that subcommand takes
// (clientFlagUse): watch reads the market-data port, and logs on as
// account only with --logon.
func clientArgs(a node.Addrs, account int, args ...string) []string {
	out := []string{"client", args[0]}
	if args[0] == "watch" {
		out = append(out, "--md-addr", a.MarketData)
		if slices.Contains(args, "--logon") {
			out = append(out, "--account", strconv.Itoa(account))
		}
		return append(out, args[1:]...)
	}
	out = append(out, "--addr", a.Gateway, "--account", strconv.Itoa(account))
	if slices.Contains(clientFlagUse["wait"], args[0]) {
		out = append(out, "--wait", "300ms")
	}
	return append(out, args[1:]...)
}

// wantLine fails unless out has a line matching the pattern, and returns
// the pattern's submatches.
func wantLine(t *testing.T, out, pattern string) []string {
	t.Helper()
	m := regexp.MustCompile("(?m)" + pattern).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no line matching %q in:\n%s", pattern, out)
	}
	return m
}

// The one-shot commands against a real node: a resting order (account 4
// keeps its orders after logout), a replace, a crossing order from another
// account that fills both, a cancel, a rejection, a mass cancel.
func TestClientOrderReplaceCancel(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})

	out := mustRingex(t, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "BTC-USD", "--qty", "0.0005", "--price", "60000", "--id", "101")...)
	m := wantLine(t, out, `^accepted +BTC-USD buy 0\.0005 @ 60000\.00  order (\d+) client 101  leaves 0\.0005  seq \d+$`)
	orderID := m[1]
	if strings.Contains(out, "cancel_on_disconnect") {
		t.Fatalf("account 4 has no cancel_on_disconnect, yet the note was printed:\n%s", out)
	}

	out = mustRingex(t, clientArgs(a, 4, "replace", "--instrument", "BTC-USD", "--order-id", orderID, "--qty", "0.0003", "--price", "60000.50", "--id", "102")...)
	wantLine(t, out, `^replaced +BTC-USD buy 0\.0003 @ 60000\.50  order `+orderID+` client 102  leaves 0\.0003`)

	// Account 1 sells into it with IOC for more than rests: one fill each
	// side, the rest of the IOC cancelled.
	out = mustRingex(t, clientArgs(a, 1, "order", "--side", "sell", "--instrument", "1", "--qty", "0.0005", "--price", "60000.50", "--tif", "ioc", "--id", "201")...)
	wantLine(t, out, `^accepted +BTC-USD sell 0\.0005 @ 60000\.50  order \d+ client 201`)
	wantLine(t, out, `^fill +BTC-USD sell 0\.0003 @ 60000\.50  order \d+ client 201  trade \d+  leaves 0\.0002`)
	wantLine(t, out, `^cancelled +BTC-USD sell .* client 201  cancelled 0\.0002  reason ioc-remainder`)

	// Account 4's order is gone (filled): cancelling it is rejected.
	out, err := ringex(t, nil, clientArgs(a, 4, "cancel", "--order-id", orderID)...)
	if !errors.Is(err, errRejected) || !strings.Contains(err.Error(), "unknown-order") {
		t.Fatalf("cancel of a filled order: error %v", err)
	}
	wantLine(t, out, `^rejected +-  order `+orderID+`  reason unknown-order \(14\)  seq \d+$`)

	// A resting order, cancelled by client order id.
	mustRingex(t, clientArgs(a, 4, "order", "--side", "sell", "--instrument", "ETH-USD", "--qty", "1.5", "--price", "3001.25", "--id", "103")...)
	out = mustRingex(t, clientArgs(a, 4, "cancel", "--client-id", "103", "--instrument", "ETH-USD")...)
	wantLine(t, out, `^cancelled +ETH-USD sell 1\.500 @ 3001\.25  order \d+ client 103  cancelled 1\.500  reason requested`)

	// A price off the tick is rejected with its reason.
	out, err = ringex(t, nil, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "BTC-USD", "--qty", "0.0001", "--price", "60000.10")...)
	if !errors.Is(err, errRejected) {
		t.Fatalf("order off the tick: error %v", err)
	}
	wantLine(t, out, `^rejected +BTC-USD buy 0\.0001 @ 60000\.10 .* reason invalid-price \(4\)`)

	// Two resting orders, then a mass cancel of one instrument.
	mustRingex(t, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "AAPL", "--qty", "10", "--price", "199.50", "--id", "104")...)
	out = mustRingex(t, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "AAPL", "--qty", "7", "--price", "199.00", "--id", "105")...)
	order105 := wantLine(t, out, `order (\d+) client 105`)[1]

	// Account 1 sells 3 into order 104 while account 4 is logged off: the
	// fill reaches nobody, and the order status tells account 4 later.
	mustRingex(t, clientArgs(a, 1, "order", "--side", "sell", "--instrument", "AAPL", "--qty", "3", "--price", "199.50", "--tif", "ioc")...)
	out = mustRingex(t, clientArgs(a, 4, "orders")...)
	wantLine(t, out, `^status +AAPL buy 10 @ 199\.50  order \d+ client 104  traded 3  leaves 7  seq \d+$`)
	wantLine(t, out, `^status +AAPL buy 7 @ 199\.00  order `+order105+` client 105  traded 0  leaves 7  seq \d+$`)
	wantLine(t, out, `^statusdone +-  2 live order\(s\)  seq \d+$`)
	out = mustRingex(t, clientArgs(a, 4, "orders", "--client-id", "105")...)
	wantLine(t, out, `^status +AAPL buy 7 @ 199\.00  order `+order105+` client 105`)
	wantLine(t, out, `^statusdone +- client 105  1 live order\(s\)`)
	out = mustRingex(t, clientArgs(a, 4, "orders", "--instrument", "BTC-USD")...)
	wantLine(t, out, `^statusdone +BTC-USD  0 live order\(s\)`)
	// Another account sees none of them, even by id.
	out = mustRingex(t, clientArgs(a, 1, "orders", "--order-id", order105)...)
	if strings.Contains(out, "client 105") {
		t.Fatalf("account 1 was shown account 4's order:\n%s", out)
	}
	wantLine(t, out, `^statusdone +-  0 live order\(s\)`)
	// The fill itself, resent: the reports of the inputs after order
	// 105's (an order id is its input's sequence) — only account 4's.
	out = mustRingex(t, clientArgs(a, 4, "resend", "--after", order105)...)
	wantLine(t, out, `^resent fill +AAPL buy 3 @ 199\.50 .*client 104 `)
	wantLine(t, out, `^resend complete: 1 reports of inputs \d+\.\.\d+$`)

	out = mustRingex(t, clientArgs(a, 4, "mass-cancel", "--instrument", "AAPL")...)
	wantLine(t, out, `^cancelled +AAPL buy 10 @ 199\.50 .* client 104  cancelled 7  reason mass-cancel`)
	wantLine(t, out, `^cancelled +AAPL buy 7 @ 199\.00 .* client 105  cancelled 7  reason mass-cancel`)
	wantLine(t, out, `^masscanceldone AAPL  2 order\(s\) cancelled`)
	out = mustRingex(t, clientArgs(a, 4, "mass-cancel")...) // nothing left: answered all the same
	wantLine(t, out, `^masscanceldone -  0 order\(s\) cancelled`)
}

// A GTC order from an account with cancel_on_disconnect gets the note, and
// the order is indeed gone once the command has logged out.
func TestClientCancelOnDisconnectNote(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	out := mustRingex(t, clientArgs(a, 1, "order", "--side", "buy", "--instrument", "BTC-USD", "--qty", "1", "--price", "59000", "--id", "7")...)
	wantLine(t, out, `^note: account 1 has cancel_on_disconnect`)
	// The book is empty again once the session's end has been processed.
	deadline := time.Now().Add(5 * time.Second)
	for {
		out = mustRingex(t, clientArgs(a, 1, "watch", "--instrument", "BTC-USD", "--updates", "0")...)
		if strings.Contains(out, "0 bid / 0 ask levels") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("order still in the book after its session ended:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestClientFlagErrors(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{clientArgs(a, 4, "order", "--side", "up", "--instrument", "BTC-USD", "--qty", "1", "--price", "1"), `side "up"`},
		{clientArgs(a, 4, "order", "--side", "buy", "--instrument", "DOGE", "--qty", "1", "--price", "1"), `unknown instrument "DOGE"`},
		{clientArgs(a, 4, "order", "--side", "buy", "--instrument", "BTC-USD", "--qty", "0.00001", "--price", "1"), "more than 4 decimals"},
		{clientArgs(a, 4, "order", "--side", "buy", "--instrument", "BTC-USD", "--qty", "1"), "needs --price"},
		{clientArgs(a, 4, "order", "--side", "buy", "--instrument", "BTC-USD", "--qty", "1", "--type", "market", "--price", "1"), "takes no --price"},
		{clientArgs(a, 4, "order", "--side", "buy"), `required flag(s) "instrument", "qty" not set`},
		{clientArgs(a, 4, "cancel"), "at least one of the flags in the group [order-id client-id] is required"},
		{clientArgs(a, 4, "order", "--secret", "wrong", "--side", "buy", "--instrument", "BTC-USD", "--qty", "1", "--price", "1"), "logon rejected"},
	} {
		_, err := ringex(t, nil, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ringex %s: error %v, want %q", strings.Join(tc.args[1:], " "), err, tc.want)
		}
	}
}

// On a node with marketdata.require_logon, watch says a logon is wanted,
// and with --logon logs on as --account and prints the book.
func TestClientWatchLogon(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none", "marketdata.require_logon": "true"})
	mustRingex(t, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "BTC-USD", "--qty", "0.0003", "--price", "59999.50")...)
	if _, err := ringex(t, nil, clientArgs(a, 1, "watch", "--instrument", "BTC-USD", "--updates", "0")...); err == nil ||
		!strings.Contains(err.Error(), "NotLoggedOn (the node has marketdata.require_logon: watch --logon)") {
		t.Fatalf("watch without a logon: %v", err)
	}
	out := mustRingex(t, clientArgs(a, 1, "watch", "--logon", "--instrument", "BTC-USD", "--updates", "0")...)
	wantLine(t, out, `^  bid +59999\.50 +0\.0003 +1$`)
	if _, err := ringex(t, nil, clientArgs(a, 1, "watch", "--logon", "--secret", "wrong", "--instrument", "BTC-USD", "--updates", "0")...); err == nil ||
		!strings.Contains(err.Error(), "market-data logon: client: logon rejected: BadSecret") {
		t.Fatalf("watch with a wrong secret: %v", err)
	}
}

// watch prints the book from the snapshot and then follows updates.
func TestClientWatch(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	mustRingex(t, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "BTC-USD", "--qty", "0.0003", "--price", "59999.50")...)
	mustRingex(t, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "BTC-USD", "--qty", "0.0002", "--price", "59999.50")...)
	mustRingex(t, clientArgs(a, 4, "order", "--side", "sell", "--instrument", "BTC-USD", "--qty", "0.0004", "--price", "60001")...)

	out := mustRingex(t, clientArgs(a, 1, "watch", "--instrument", "BTC-USD", "--updates", "0")...)
	wantLine(t, out, `^BTC-USD \(instrument 1\)  md_seq \d+  1 bid / 1 ask levels$`)
	wantLine(t, out, `^  ask +60001\.00 +0\.0004 +1$`)
	wantLine(t, out, `^  ---- spread 1\.50$`)
	wantLine(t, out, `^  bid +59999\.50 +0\.0005 +2$`)

	// Follow two messages: a new level, then a trade (plus its level
	// update) — stop after three.
	var buf testkit.SyncBuffer
	done := make(chan error, 1)
	go func() {
		root := newRootCmd()
		root.SetOut(&buf)
		root.SetArgs(clientArgs(a, 1, "watch", "--instrument", "BTC-USD", "--updates", "3"))
		done <- root.Execute()
	}()
	waitForOr(t, func() bool { return strings.Contains(buf.String(), "1 bid / 1 ask levels") }, func() string {
		select {
		case err := <-done:
			return fmt.Sprintf("watch ended (%v) having printed:\n%s", err, buf.String())
		default:
			return fmt.Sprintf("watch still running, has printed:\n%s", buf.String())
		}
	})
	mustRingex(t, clientArgs(a, 4, "order", "--side", "sell", "--instrument", "BTC-USD", "--qty", "0.0001", "--price", "60000.50")...)
	mustRingex(t, clientArgs(a, 2, "order", "--side", "buy", "--instrument", "BTC-USD", "--qty", "0.0001", "--price", "60000.50", "--tif", "ioc")...)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("watch did not stop after 3 updates:\n%s", buf.String())
	}
	out = buf.String()
	last := out[strings.LastIndex(out, "BTC-USD (instrument 1)"):]
	wantLine(t, last, `1 bid / 1 ask levels$`)
	wantLine(t, last, `^  ask +60001\.00 +0\.0004 +1$`)
	wantLine(t, last, `^  last trade 60000\.50 x 0\.0001 \(buy aggressor\), 1 trades seen$`)
	// In between, the new ask level was shown.
	wantLine(t, out, `^  ask +60000\.50 +0\.0001 +1$`)
	if strings.Contains(out, "\x1b[") {
		t.Fatal("terminal escapes written to a non-terminal")
	}
}

// A watch the market-data port refuses (marketdata.max_connections
// subscribers already served) says why instead of "EOF".
func TestClientWatchRefused(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none", "marketdata.max_connections": "1"})
	held, err := client.DialMarketData(a.MarketData, client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	held.Subscribe(1)
	held.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := held.Next(); err != nil { // its snapshot: the slot is taken
		t.Fatal(err)
	}
	out, err := ringex(t, nil, clientArgs(a, 1, "watch", "--instrument", "BTC-USD", "--updates", "0")...)
	if err == nil || !strings.Contains(err.Error(), "refused the connection: TooManyConnections") {
		t.Fatalf("watch on a full port: %v\n%s", err, out)
	}
}

// fakeMarketData serves a loopback port (serveLoopback) whose
// connections write writes their frames to, then say nothing more until
// the peer hangs up — but for the answer to a ListInstruments when lists
// (nodeFrames: a node since the request), none when not (a node before
// it, whose port skipped the request: the watch waits listWait and takes
// the demo config's instruments). It returns the port's address.
func fakeMarketData(t *testing.T, lists bool, write func(conn io.Writer, enc *proto.Encoder)) string {
	t.Helper()
	return serveLoopback(t, func(conn net.Conn) {
		defer conn.Close()
		write(conn, proto.NewEncoder())
		if !lists {
			io.Copy(io.Discard, conn) // until the watch hangs up
			return
		}
		readAll(nodeFrames(conn))
	})
}

// A watch whose feed goes silent — not even the heartbeats a node sends
// an idle subscriber — fails after --silence instead of showing a frozen
// book for ever: here a port that sends the snapshot and a heartbeat,
// then nothing.
func TestClientWatchSilentFeed(t *testing.T) {
	addr := fakeMarketData(t, true, func(conn io.Writer, enc *proto.Encoder) {
		conn.Write(enc.BookSnapshot(0, proto.BookSnapshot{Instrument: 1, MDSeq: 1}))
		conn.Write(enc.Heartbeat(0))
	})
	out, err := ringex(t, nil, "client", "watch", "--md-addr", addr, "--instrument", "BTC-USD", "--silence", "300ms", "--duration", "10s")
	if err == nil || !strings.Contains(err.Error(), "nothing heard for 300ms") {
		t.Fatalf("watch of a silent feed: %v\n%s", err, out)
	}
}

// A busy feed that goes silent — a heartbeat comes only after
// heartbeat_interval with nothing else sent, so this one never had any,
// but its updates carry input_seq, which came with heartbeats — fails
// after --silence too: a wedged node, a frozen process, a black-holed
// network with the connection still open.
func TestClientWatchBusyFeedThenSilent(t *testing.T) {
	addr := fakeMarketData(t, true, func(conn io.Writer, enc *proto.Encoder) {
		conn.Write(enc.BookSnapshot(0, proto.BookSnapshot{Instrument: 1, MDSeq: 1, InputSeq: 4}))
		for i := range 10 { // updates, no heartbeat
			conn.Write(enc.LevelUpdate(0, proto.LevelUpdate{Instrument: 1, MDSeq: uint64(i + 2), InputSeq: int64(i + 5),
				Side: wire.SideBuy, Price: 100, Quantity: int64(i + 1), Count: 1}))
		}
	})
	out, err := ringex(t, nil, "client", "watch", "--md-addr", addr, "--instrument", "BTC-USD", "--silence", "300ms", "--duration", "10s")
	if err == nil || !strings.Contains(err.Error(), "nothing heard for 300ms") {
		t.Fatalf("watch of a busy feed gone silent: %v\n%.300s", err, out)
	}
}

// A node built before market-data heartbeats sends none: the watch of
// its quiet market is not failed for silence, and ends at --duration.
// (Timed from the connection, it failed after --silence.) Built before
// ListInstruments too, its port leaves the request unanswered: the watch
// names the instrument by the demo config's list, after listWait.
func TestClientWatchNodeWithoutHeartbeats(t *testing.T) {
	addr := fakeMarketData(t, false, func(conn io.Writer, enc *proto.Encoder) {
		conn.Write(enc.BookSnapshot(0, proto.BookSnapshot{Instrument: 1, MDSeq: 1}))
	})
	if out, err := ringex(t, nil, "client", "watch", "--md-addr", addr, "--instrument", "BTC-USD", "--silence", "200ms", "--duration", "1s"); err != nil {
		t.Fatalf("watch of an older node's quiet market: %v\n%s", err, out)
	}
}

// A watch of an instrument the node does not trade says so instead of
// waiting for a snapshot that never comes.
func TestClientWatchUnknownInstrument(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	out, err := ringex(t, nil, clientArgs(a, 1, "watch", "--instrument", "999", "--updates", "0")...)
	if err == nil || !strings.Contains(err.Error(), "refused the subscription to instrument 999: UnknownInstrument") {
		t.Fatalf("watch of instrument 999: %v\n%s", err, out)
	}
}

// shell keeps one session: orders rest (even for cancel_on_disconnect
// accounts) until it ends, and replace finds the order's instrument by
// itself.
func TestClientShell(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	inR, inW := io.Pipe()
	var buf testkit.SyncBuffer
	done := make(chan error, 1)
	go func() {
		root := newRootCmd()
		root.SetOut(&buf)
		root.SetIn(inR)
		root.SetArgs(clientArgs(a, 2, "shell"))
		done <- root.Execute()
	}()
	send := func(line string) { io.WriteString(inW, line+"\n") }
	send("buy ETH-USD 2 2999.99")
	waitFor(t, func() bool { return strings.Contains(buf.String(), "accepted   ETH-USD buy 2.000 @ 2999.99") })
	id := wantLine(t, buf.String(), `accepted .* order (\d+) client`)[1]
	send("replace " + id + " 1.5 2999.98")
	waitFor(t, func() bool {
		return strings.Contains(buf.String(), "replaced   ETH-USD buy 1.500 @ 2999.98  order "+id)
	})
	// Another session trades with the resting order: the shell prints the
	// maker fill as it arrives.
	mustRingex(t, clientArgs(a, 4, "order", "--side", "sell", "--instrument", "ETH-USD", "--qty", "0.5", "--type", "market", "--tif", "ioc")...)
	waitFor(t, func() bool {
		return strings.Contains(buf.String(), "fill       ETH-USD buy 0.500 @ 2999.98  order "+id) &&
			strings.Contains(buf.String(), "leaves 1.000")
	})
	send("orders ETH-USD")
	waitFor(t, func() bool {
		return strings.Contains(buf.String(), "status     ETH-USD buy 1.500 @ 2999.98  order "+id+" ") &&
			strings.Contains(buf.String(), "traded 0.500  leaves 1.000") && strings.Contains(buf.String(), "1 live order(s)")
	})
	send("frobnicate")
	send("sell ETH-USD")
	waitFor(t, func() bool {
		return strings.Contains(buf.String(), `error: unknown command "frobnicate"`) && strings.Contains(buf.String(), "error: usage: sell")
	})
	send("cancel " + id)
	waitFor(t, func() bool { return strings.Contains(buf.String(), "reason requested") })
	send("quit")
	select {
	case err := <-done:
		// Its commands came down a pipe, not from a terminal: the two
		// that failed fail the run, as a script's should (it exited 0).
		if err == nil || !strings.Contains(err.Error(), "client shell: 2 command(s) failed") {
			t.Fatalf("shell's end: %v, want the 2 failed commands counted", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("shell did not quit")
	}
	inW.Close()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	waitForOr(t, cond, func() string { return "" })
}

// waitForOr is waitFor, saying what describe returns when it gives up.
func waitForOr(t *testing.T, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within 10s. %s", describe())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Piped commands print their answers: the shell waits for them at the
// end of its input before logging out.
func TestClientShellPiped(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	out, err := ringex(t, strings.NewReader("buy ETH-USD 1 2999\norders ETH-USD\n"), clientArgs(a, 4, "shell")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	wantLine(t, out, `^accepted +ETH-USD buy 1\.000 @ 2999\.00 `)
	wantLine(t, out, `^statusdone +ETH-USD  1 live order\(s\)`)
}

// `ringex client orders` asks for every page of a long list, waiting out
// the gateway's status rate (one a second here).
func TestClientOrdersPages(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none", "gateway.status_rate": "1"})
	c, err := client.Dial(a.Gateway, 1, "demo-secret-1", client.Options{}) // stays logged on: no cancel-on-disconnect
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 2005
	btc := config.Default().Instruments[0]
	for i := uint64(1); i <= n; i++ {
		c.NewOrder(proto.NewOrder{ClientOrderID: i, Instrument: btc.ID, Side: wire.SideBuy, Type: wire.OrderTypeLimit,
			TIF: wire.TimeInForceGTC, Price: btc.ReferencePrice - int64(1+i%100)*btc.TickSize, Quantity: btc.LotSize})
	}
	c.Flush()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		m, err := c.Next()
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == wire.MessageExecutionReport && m.Report.Kind != wire.ExecKindAccepted {
			t.Fatalf("order refused: %+v", m.Report)
		}
		if m.Type == wire.MessageExecutionReport && m.Report.ClientOrderID == n {
			break
		}
	}
	out := mustRingex(t, clientArgs(a, 1, "orders")...)
	if got := len(regexp.MustCompile(`(?m)^statusdone +-  1000 live order\(s\), more may follow`).FindAllString(out, -1)); got != 2 {
		t.Fatalf("%d full pages, want 2:\n%s", got, regexp.MustCompile(`(?m)^(statusdone|rejected).*$`).FindAllString(out, -1))
	}
	wantLine(t, out, `^statusdone +-  5 live order\(s\)  seq`)
	wantLine(t, out, `^rejected .* reason rate-limited`) // the second page, asked again
	if got := len(regexp.MustCompile(`(?m)^status `).FindAllString(out, -1)); got != n {
		t.Fatalf("%d status lines, want %d", got, n)
	}
}

// The operator's commands: halt and resume an instrument by symbol or id
// (resolved by the node's config: the CLI reads none, so one looking a
// symbol up in the demo config cannot halt another instrument), suspend
// and resume an account; a wrong account or symbol is an error.
func TestAdminCommands(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	admin := []string{"--admin", a.Admin}
	order := clientArgs(a, 4, "order", "--side", "buy", "--instrument", "ETH-USD", "--qty", "1", "--price", "3000")
	out := mustRingex(t, append([]string{"halt", "ETH-USD"}, admin...)...)
	wantLine(t, out, `^halt ETH-USD \(instrument 2\): accepted$`)
	if _, err := ringex(t, nil, order...); !errors.Is(err, errRejected) || !strings.Contains(err.Error(), "instrument-halted") {
		t.Fatalf("order on a halted instrument: %v", err)
	}
	out = mustRingex(t, append([]string{"resume", "2"}, admin...)...)
	wantLine(t, out, `^resume ETH-USD \(instrument 2\): accepted$`) // the node names what it resolved
	mustRingex(t, order...)
	// The order rests (account 4 has no cancel-on-disconnect) until a halt
	// with --cancel-orders clears the book.
	wantLine(t, mustRingex(t, clientArgs(a, 4, "orders")...), `^statusdone +-  1 live order\(s\)`)
	out = mustRingex(t, append([]string{"halt", "ETH-USD", "--cancel-orders"}, admin...)...)
	wantLine(t, out, `^halt-cancel-orders ETH-USD \(instrument 2\): accepted$`)
	wantLine(t, mustRingex(t, clientArgs(a, 4, "orders")...), `^statusdone +-  0 live order\(s\)`)
	mustRingex(t, append([]string{"resume", "ETH-USD"}, admin...)...)
	mustRingex(t, order...)

	out = mustRingex(t, append([]string{"account", "suspend", "4"}, admin...)...)
	wantLine(t, out, `^suspend account 4: accepted$`)
	if _, err := ringex(t, nil, order...); !errors.Is(err, errRejected) || !strings.Contains(err.Error(), "account-suspended") {
		t.Fatalf("order of a suspended account: %v", err)
	}
	mustRingex(t, append([]string{"account", "resume", "4"}, admin...)...)
	mustRingex(t, order...)

	if _, err := ringex(t, nil, append([]string{"account", "suspend", "99"}, admin...)...); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("suspend of an unknown account: %v", err)
	}
	if _, err := ringex(t, nil, append([]string{"halt", "NOPE"}, admin...)...); err == nil || !strings.Contains(err.Error(), "404 Not Found: no such instrument") {
		t.Fatalf("halt of an unknown symbol: %v", err)
	}

	// A shell session of account 2, listed, then closed by the operator.
	// Its id is the one the shell says it logged on with: a session is
	// listed from its registration, before its LogonAck is written, and
	// one closed then was told nothing — its client's logon read EOF, and
	// logged on again as a new session (client.DialCluster), which the
	// close did not end.
	w, shell, shellDone := startShell(t, clientArgs(a, 2, "shell")...)
	defer w.Close()
	id := waitOutput(t, shell, `^logged on as account 2 \(session (\d+)\)`)[1]
	deadline := time.Now().Add(5 * time.Second)
	// Until the shell's is listed, alone: the one-shot orders' sessions
	// before it are unregistered after their Logout, a moment later.
	listed := regexp.MustCompile(`(?m)^` + id + ` +2  trading +127\.0\.0\.1:\d+ +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +\d+$`)
	for {
		out = mustRingex(t, append([]string{"sessions"}, admin...)...)
		if listed.MatchString(out) && strings.Contains(out, "\n1 session(s)\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shell's session %s is not listed alone:\n%s", id, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	out = mustRingex(t, append([]string{"sessions", "close", id}, admin...)...)
	wantLine(t, out, `^close session `+id+`: done$`)
	select {
	case err := <-shellDone:
		if err == nil || !strings.Contains(err.Error(), "connection closed") || !strings.Contains(err.Error(), "closed by an operator") {
			t.Fatalf("the closed shell ended with %v, having said:\n%s", err, shell.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the shell's session was not closed; the shell said:\n%s", shell.String())
	}
	if _, err := ringex(t, nil, append([]string{"sessions", "close", id}, admin...)...); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("closing a closed session: %v", err)
	}
}

// Every client command's session heartbeats at the interval the gateway
// asks for, so one that waits longer than the gateway's read timeout (a
// long resend, an idle shell) is not closed under it.
func TestClientSessionHeartbeats(t *testing.T) {
	// A 2 s read timeout, heartbeats every 500 ms: a loaded machine's
	// pauses fit between them (at 600 ms and 200 ms one of 350 ms closed
	// the session).
	a := testnode.Start(t, map[string]string{"journal.sync": "none", "gateway.read_timeout": "2s",
		"gateway.heartbeat_interval": "500ms"})
	r, w := io.Pipe()
	go func() {
		time.Sleep(5 * time.Second) // 2.5 read timeouts of saying nothing
		io.WriteString(w, "buy BTC-USD 0.0001 59000\nquit\n")
		w.Close()
	}()
	out, err := ringex(t, r, clientArgs(a, 2, "shell")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	wantLine(t, out, `^accepted +BTC-USD buy 0\.0001 @ 59000\.00 `)
}

// `client reports` follows an account as a drop copy: it catches up with
// --after, then prints the reports its trading sessions get, and its
// session does not trade.
func TestClientReports(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	out := mustRingex(t, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "BTC-USD", "--qty", "0.0005", "--price", "59000", "--id", "201")...)
	seq := wantLine(t, out, `order \d+ client 201  leaves 0\.0005  seq (\d+)$`)[1]
	// Until the node stops at the test's end: the lines are awaited, not
	// a time (a sleep for the logon let a slow one see 202 in its resend).
	w, reports, _ := startShell(t, clientArgs(a, 4, "reports", "--after", "0")...)
	defer w.Close()
	waitOutput(t, reports, `^following account 4's reports \(drop copy, session \d+\)$`)
	waitOutput(t, reports, `^resent accepted +BTC-USD buy 0\.0005 @ 59000\.00 .*client 201 .*seq `+seq+`$`)
	waitOutput(t, reports, `^resend complete: 1 reports of inputs 1\.\.\d+$`)
	mustRingex(t, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "BTC-USD", "--qty", "0.0005", "--price", "59000", "--id", "202")...)
	waitOutput(t, reports, `^accepted +BTC-USD buy 0\.0005 @ 59000\.00 .*client 202 `)
}

// waitOutput waits up to 10 s for a line of out matching pattern and
// returns the match's groups.
func waitOutput(t *testing.T, out *testkit.SyncBuffer, pattern string) []string {
	t.Helper()
	re := regexp.MustCompile("(?m)" + pattern)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m
		}
	}
	t.Fatalf("no line matching %q in:\n%s", pattern, out.String())
	return nil
}

// startShell runs `ringex ARGS…` (a shell) with its input from the pipe
// returned, its output gathered in out; done has its result.
func startShell(t *testing.T, args ...string) (in *io.PipeWriter, out *testkit.SyncBuffer, done chan error) {
	t.Helper()
	r, w := io.Pipe()
	out, done = startShellOn(r, args...)
	return w, out, done
}

// startShellOn is startShell reading stdin (a pseudo-terminal, say).
func startShellOn(stdin io.Reader, args ...string) (out *testkit.SyncBuffer, done chan error) {
	out = new(testkit.SyncBuffer)
	root := newRootCmd()
	root.SetOut(out)
	root.SetErr(out)
	root.SetIn(stdin)
	root.SetArgs(args)
	done = make(chan error, 1)
	go func() { done <- root.Execute() }()
	return out, done
}

// `client shell --reconnect` logs on again when its connection ends (here
// an operator closes it), asks for what it missed, and goes on: a fill of
// its resting order after that reaches it.
func TestClientShellReconnects(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	admin := []string{"--admin", a.Admin}
	w, out, shellDone := startShell(t, clientArgs(a, 4, "shell", "--reconnect")...)
	defer w.Close()
	waitFor := func(pattern string) []string { t.Helper(); return waitOutput(t, out, pattern) }
	session := waitFor(`^logged on as account 4 \(session (\d+)\)`)[1]
	io.WriteString(w, "buy BTC-USD 0.0010 59000\n")
	waitFor(`^accepted +BTC-USD buy 0\.0010 @ 59000\.00 `)

	mustRingex(t, append([]string{"sessions", "close", session}, admin...)...)
	waitFor(`^connection lost \(client: closed by the node: operator \(closed by an operator\): EOF\); logging on again$`)
	waitFor(`^logged on again \(session \d+\); asked for the reports from input \d+ on \(resend \d+\)$`)
	waitFor(`^resend complete: 0 reports of inputs \d+\.\.\d+$`)

	mustRingex(t, clientArgs(a, 1, "order", "--side", "sell", "--instrument", "BTC-USD", "--qty", "0.0004", "--price", "59000", "--tif", "ioc")...)
	waitFor(`^fill +BTC-USD buy 0\.0004 @ 59000\.00 .* leaves 0\.0006 `)
	io.WriteString(w, "quit\n")
	select {
	case err := <-shellDone:
		if err != nil {
			t.Fatalf("shell: %v\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the shell did not quit")
	}
}

// A shell whose session the node ends says why, as the node said it
// (its Closing): here an operator closes the session of a piped shell,
// which ends with that as its error.
func TestClientShellNamesTheCauseTheNodeGave(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	w, out, shellDone := startShell(t, clientArgs(a, 4, "shell")...)
	defer w.Close()
	session := waitOutput(t, out, `^logged on as account 4 \(session (\d+)\)`)[1]
	mustRingex(t, "sessions", "close", session, "--admin", a.Admin)
	select {
	case err := <-shellDone:
		if want := "client: connection closed: client: closed by the node: operator (closed by an operator): EOF"; err == nil || err.Error() != want {
			t.Fatalf("shell: %v, want %q\n%s", err, want, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the shell did not end with its session:\n%s", out.String())
	}
}

// `client shell --reconnect` asks again when its resend after the new
// logon is answered busy (the node replaying for another request), as
// `client resend` does: it asked once, and the reports it missed while
// reconnecting never came.
func TestClientShellAsksAgainWhenTheResendIsBusy(t *testing.T) {
	var logons atomic.Int32
	asked := make(chan int64, 4)
	addr := serveLoopback(t, func(conn net.Conn) {
		defer conn.Close()
		fr, enc := nodeFrames(conn), proto.NewEncoder()
		if _, err := fr.Next(); err != nil {
			return
		}
		conn.Write(enc.LogonAck(1, uint64(100+logons.Add(1)), 5000, 0))
		if logons.Load() == 1 {
			time.Sleep(100 * time.Millisecond) // the connection ends: the shell reconnects
			return
		}
		answerResendsBusyOnce(conn, fr, enc, asked)
	})
	w, out, shellDone := startShell(t, "client", "shell", "--addr", addr, "--account", "4", "--reconnect", "--wait", "300ms")
	defer w.Close()
	for i := range 2 {
		select {
		case <-asked:
		case <-time.After(5 * time.Second):
			t.Fatalf("the shell asked for a resend %d time(s), want twice (once more after busy):\n%s", i, out.String())
		}
	}
	io.WriteString(w, "quit\n")
	select {
	case <-shellDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the shell did not quit")
	}
}

// A resend after the last input there is says so: it printed an inverted
// range ("inputs 1200346..28").
func TestResendDoneAfterTheEnd(t *testing.T) {
	got := formatResendDone(proto.ResendDone{Reason: proto.ResendComplete, AfterInputSeq: 1200345, FirstInputSeq: 1200346, ThroughInputSeq: 28})
	if want := "resend complete: no inputs after 1200345 (the last before the request was 28)"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// A resend cut short says what came and that the rest is asked for.
func TestResendDoneCutShort(t *testing.T) {
	got := formatResendDone(proto.ResendDone{Reason: proto.ResendCut, AfterInputSeq: 40, FirstInputSeq: 41, ThroughInputSeq: 90, Count: 12})
	if want := "resend cut: 12 reports of inputs 41..90 (cut short: read too slowly while another resend waited; the rest is asked for after input 90)"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// serveLoggedOn serves a fake gateway that takes any logon (account 4,
// session 101) and hands each connection to serve, which closes it; what
// serve reads through fr, a ListInstruments is answered in (nodeFrames).
func serveLoggedOn(t *testing.T, serve func(conn net.Conn, fr *proto.FrameReader, enc *proto.Encoder)) string {
	return serveLoopback(t, func(conn net.Conn) {
		defer conn.Close()
		fr, enc := nodeFrames(conn), proto.NewEncoder()
		if _, err := fr.Next(); err != nil { // the logon
			return
		}
		conn.Write(enc.LogonAck(4, 101, 5000, 0))
		serve(conn, fr, enc)
	})
}

// nodeFrames reads a fake node's connection as proto.NewFrameReader does
// but answers each ListInstruments there, as a node since the request
// (2026-12-07) does, with the demo config's instruments, and does not
// return it: the CLI asks for the list first thing after its logon
// without --config, and a fake that left it unanswered held every
// command for listWait. The answer is written as the frames are read:
// a fake that reads nothing answers nothing.
func nodeFrames(conn io.ReadWriter) *proto.FrameReader {
	return proto.NewFrameReader(&listAnswering{conn: conn, fr: proto.NewFrameReader(conn, 1<<16), list: config.Default().InstrumentList()}, 1<<16)
}

// listAnswering is nodeFrames's stream: conn's frames but the
// ListInstruments it answers.
type listAnswering struct {
	conn io.ReadWriter
	fr   *proto.FrameReader
	list []byte
	rest []byte // of the frame being passed on, its prefix included
}

func (l *listAnswering) Read(p []byte) (int, error) {
	for len(l.rest) == 0 {
		f, err := l.fr.Next()
		if err != nil {
			return 0, err
		}
		if typ, err := proto.Type(f); err == nil && typ == wire.MessageListInstruments {
			if _, err := l.conn.Write(l.list); err != nil {
				return 0, err
			}
			continue
		}
		l.rest = proto.AppendFrame(l.rest[:0], f)
	}
	n := copy(p, l.rest)
	l.rest = l.rest[n:]
	return n, nil
}

// readAll reads fr until its connection ends: a fake node that takes
// everything and answers only a ListInstruments (nodeFrames).
func readAll(fr *proto.FrameReader) {
	for {
		if _, err := fr.Next(); err != nil {
			return
		}
	}
}

// The fake nodes that stand for a current one answer ListInstruments
// with the demo config's instruments, on either port.
func TestFakeNodesListInstruments(t *testing.T) {
	want := config.Default().Instruments
	for _, tc := range []struct {
		name string
		dial func() (*client.Client, error)
	}{
		{"order entry", func() (*client.Client, error) {
			addr := serveLoggedOn(t, func(_ net.Conn, fr *proto.FrameReader, _ *proto.Encoder) { readAll(fr) })
			return client.Dial(addr, 4, "secret", client.Options{AutoFlush: true, Timeout: 5 * time.Second})
		}},
		{"market data", func() (*client.Client, error) {
			addr := fakeMarketData(t, true, func(conn io.Writer, enc *proto.Encoder) { conn.Write(enc.Heartbeat(0)) })
			return client.DialMarketData(addr, client.Options{AutoFlush: true, Timeout: 5 * time.Second})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.dial()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got, err := c.Instruments()
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d instruments listed, want the demo config's %d", len(got), len(want))
			}
			for i, in := range got {
				if in.ID != want[i].ID || in.Symbol != want[i].Symbol || in.TickSize != want[i].TickSize {
					t.Fatalf("listed %+v, want the demo config's %+v", in, want[i])
				}
			}
		})
	}
}

// `client reports --after N` is how a risk desk "that was away catches up
// and then follows". When the node's resend worker is busy with another
// client's resend (after a failover every reconnecting client asks for
// one), the node answers ResendBusy, "ask again": `client resend` and
// `client shell` did, `client reports` printed "resend busy: …" and never
// asked again, so the desk silently missed the catch-up. It asks again.
func TestClientReportsAsksAgainWhenTheResendIsBusy(t *testing.T) {
	asked := make(chan int64, 4)
	addr := serveLoggedOn(t, func(conn net.Conn, fr *proto.FrameReader, enc *proto.Encoder) {
		answerResendsBusyOnce(conn, fr, enc, asked)
	})
	done := make(chan string, 1)
	go func() {
		out, err := ringex(t, nil, "client", "reports", "--addr", addr, "--account", "4", "--after", "7", "--for", "2s")
		if err != nil {
			out += err.Error()
		}
		done <- out
	}()
	for i := range 2 {
		select {
		case <-asked:
		case <-time.After(3 * time.Second):
			out := <-done
			t.Fatalf("client reports --after asked for the resend %d time(s), want twice (once more after busy):\n%s", i, out)
		}
	}
	if out := <-done; strings.Contains(out, "resend busy") && !strings.Contains(out, "resend complete") {
		t.Fatalf("the catch-up never completed:\n%s", out)
	}
}

// `client resend` whose answer the node cut short (the command read too
// slowly while another client's resend waited: ResendDone reason cut)
// prints it and asks for the rest from where it stopped, until complete.
func TestClientResendAsksForTheRestWhenCutShort(t *testing.T) {
	asked := make(chan int64, 4)
	addr := serveLoggedOn(t, answerResends(asked, func(n int, after int64) (proto.ResendDone, bool) {
		if n > 1 {
			return proto.ResendDone{FirstInputSeq: after + 1, ThroughInputSeq: 30, Reason: proto.ResendComplete}, true
		}
		return proto.ResendDone{FirstInputSeq: after + 1, ThroughInputSeq: 20, Reason: proto.ResendCut}, true
	}))
	out, err := ringex(t, nil, "client", "resend", "--addr", addr, "--account", "4", "--after", "7")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for i, want := range []int64{7, 20} {
		select {
		case got := <-asked:
			if got != want {
				t.Fatalf("ask %d after %d, want %d:\n%s", i, got, want, out)
			}
		default:
			t.Fatalf("client resend asked %d time(s), want twice (once more after the cut):\n%s", i, out)
		}
	}
	wantLine(t, out, `^resend cut: 0 reports of inputs 8\.\.20 \(cut short`)
	wantLine(t, out, `^resend complete: 0 reports of inputs 21\.\.30$`)
}

// `client order --type market` without --tif was sent as a GTC market
// order (--tif defaulted to gtc whatever the type) and the node rejected
// it (invalid-time-in-force), although there was liquidity; the shell's
// `sell AAPL 10 market` makes it IOC, and so does the command now.
func TestClientMarketOrderDefaultTIF(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	mustRingex(t, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "AAPL", "--qty", "5", "--price", "200")...)
	out, err := ringex(t, nil, clientArgs(a, 2, "order", "--side", "sell", "--instrument", "AAPL", "--qty", "5", "--type", "market")...)
	if err != nil {
		t.Fatalf("a market order against a resting bid, --tif left at its default: %v\n%s", err, out)
	}
	wantLine(t, out, `^fill +AAPL sell 5 @ 200\.00 `)
}

// A node built before cde6525 (2026-12-05 06:49; e.g. 9d0113f) pages an
// order listing by the last order listed: its StatusDone{more} echoes the
// request's OrderID (0 for a listing) and the next page is asked with
// AfterOrderID = the last Status report's id. `ringex client orders`
// took StatusDone.OrderID as the cursor, so against such a node it asked
// for the first page again and again, forever (each ask a journaled
// input; against the real 9d0113f binary 416 000 status lines in 20 s for
// an account with 1 100 orders); it takes the larger of the two now. This
// fake gateway answers as that node did.
func TestClientOrdersAgainstANodeBeforeTheStatusCursor(t *testing.T) {
	const live = 1500
	var asks atomic.Int64
	addr := serveLoopback(t, func(conn net.Conn) {
		defer conn.Close()
		fr := proto.NewFrameReader(conn, 1<<16)
		if _, err := fr.Next(); err != nil {
			return
		}
		enc := proto.NewEncoder()
		conn.Write(enc.LogonAck(1, 7, 60000, 0)) // input_seq 0, as from a node before that field
		for {
			f, err := fr.Next()
			if err != nil {
				return
			}
			typ, pos, err := proto.Verify(f)
			if err == nil && typ == wire.MessageListInstruments {
				// Unknown to that node: refused as its gateway refused
				// any type it did not take (the CLI takes the demo
				// config's instruments at once).
				conn.Write(enc.ExecutionReport(0, &proto.Report{Kind: wire.ExecKindRejected, Reason: uint8(engine.ReasonUnknownCommand), InputSeq: -1}))
				continue
			}
			if err != nil || typ != wire.MessageOrderStatus {
				continue
			}
			k := asks.Add(1)
			if k > 50 {
				return // enough: it is looping
			}
			q := proto.OrderStatusAt(f, pos)
			var out []byte
			n := int64(0)
			for id := q.AfterOrderID + 1; id <= live && n < 1000; id++ {
				n++
				out = append(out, enc.ExecutionReport(0, &proto.Report{Kind: wire.ExecKindStatus, OrderID: id, Instrument: 1,
					Side: wire.SideBuy, Price: 5900000, Quantity: 1, Leaves: 1, InputSeq: 100 + k})...)
			}
			done := proto.Report{Kind: wire.ExecKindStatusDone, OrderID: q.OrderID, Quantity: n, InputSeq: 100 + k} // OrderID: the request's
			if n == 1000 {
				done.Reason = 1 // more follow the last one listed
			}
			out = append(out, enc.ExecutionReport(0, &done)...)
			conn.Write(out)
		}
	})
	start := time.Now()
	out, err := ringex(t, nil, "client", "orders", "--addr", addr, "--account", "1", "--wait", "300ms", "--timeout", "3s")
	t.Logf("%v after %v, %d OrderStatus requests", err, time.Since(start).Round(time.Millisecond), asks.Load())
	if got := strings.Count(out, "\nstatus "); asks.Load() != 2 || got != live-1 { // the first line has no \n before it
		t.Fatalf("against a node that pages by the last order listed: %d OrderStatus requests, %d status lines; want 2 and %d",
			asks.Load(), got+1, live)
	}
}

// answerResendsBusyOnce answers the ResendReports read from fr as a node
// does: busy the first time, complete (nothing to resend) after; each
// request's after_input_seq goes to asked. It returns when fr ends.
func answerResendsBusyOnce(conn net.Conn, fr *proto.FrameReader, enc *proto.Encoder, asked chan<- int64) {
	for resends := 0; ; {
		f, err := fr.Next()
		if err != nil {
			return
		}
		typ, _, err := proto.Verify(f)
		if err != nil || typ != wire.MessageResendReports {
			continue
		}
		var m proto.Msg
		proto.VerifyMsg(f, &m)
		after := m.ResendReports(f)
		asked <- after
		done := proto.ResendDone{AfterInputSeq: after, Reason: proto.ResendBusy}
		if resends++; resends > 1 {
			done = proto.ResendDone{AfterInputSeq: after, FirstInputSeq: after + 1, ThroughInputSeq: after}
		}
		conn.Write(enc.ResendDone(proto.Seq(f), done))
	}
}

// `client shell --reconnect` on a connection whose network died without a
// word (the leader's machine lost power, a partition: no FIN, no RST)
// notices the silence — the gateway heartbeats an idle session well
// within its read timeout, which the LogonAck gives — and logs on again.
// Before, the shell read with no deadline: it never noticed, and its user
// saw a quiet market (as did `client reports`, a risk desk's drop copy).
func TestShellReconnectsAfterASilentConnection(t *testing.T) {
	var logons atomic.Int32
	hold := make(chan struct{})
	defer close(hold)
	addr := serveLoopback(t, func(conn net.Conn) {
		defer conn.Close()
		fr, enc := nodeFrames(conn), proto.NewEncoder()
		if _, err := fr.Next(); err != nil {
			return
		}
		// heartbeat_ms 100: the gateway's read timeout is 300 ms.
		conn.Write(enc.LogonAck(1, uint64(100+logons.Add(1)), 100, 0))
		if logons.Load() == 1 {
			// The list asked for at the logon is answered; then the
			// client's heartbeats vanish and nothing ever comes back:
			// half-open.
			go readAll(fr)
			<-hold
			return
		}
		answerResendsBusyOnce(conn, fr, enc, make(chan int64, 16))
	})
	w, out, shellDone := startShell(t, "client", "shell", "--addr", addr, "--account", "4", "--reconnect", "--wait", "300ms")
	defer func() {
		w.Close()
		select {
		case <-shellDone:
		case <-time.After(10 * time.Second):
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(out.String(), "logged on again") {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "logged on again") {
		t.Errorf("after 5 s of silence (over 16 gateway read timeouts, as the LogonAck gave them) the shell had not noticed the connection was dead (%d logons):\n%s",
			logons.Load(), out.String())
	}
}

// The resends the CLI asks for again later: a busy answer, and a request
// refused as over gateway.status_rate under its own tag (a Redial's after
// a burst of status requests: before, the shell and `client reports`
// forgot it, and the reports missed while reconnecting never came).
// Another rejection under a tag, or an order's, is not one.
func TestResendToRetry(t *testing.T) {
	rateLimited := uint8(engine.ReasonRateLimited)
	for _, c := range []struct {
		name  string
		m     client.Message
		after int64
		ok    bool
	}{
		{"busy", client.Message{Type: wire.MessageResendDone, Seq: 7, ResendDone: proto.ResendDone{AfterInputSeq: 40, Reason: proto.ResendBusy}}, 40, true},
		{"complete", client.Message{Type: wire.MessageResendDone, Seq: 7, ResendDone: proto.ResendDone{AfterInputSeq: 40}}, 0, false},
		{"cut short", client.Message{Type: wire.MessageResendDone, Seq: 7,
			ResendDone: proto.ResendDone{AfterInputSeq: 40, FirstInputSeq: 41, ThroughInputSeq: 90, Count: 12, Reason: proto.ResendCut}}, 90, true},
		{"rate-limited", client.Message{Type: wire.MessageExecutionReport, Seq: 7,
			Report: proto.Report{Kind: wire.ExecKindRejected, Reason: rateLimited, ClientOrderID: 7, OrderID: 40, InputSeq: -1}}, 40, true},
		{"other reason", client.Message{Type: wire.MessageExecutionReport, Seq: 7,
			Report: proto.Report{Kind: wire.ExecKindRejected, Reason: uint8(engine.ReasonInvalidSequence), ClientOrderID: 7, OrderID: 40, InputSeq: -1}}, 0, false},
		{"an order's", client.Message{Type: wire.MessageExecutionReport,
			Report: proto.Report{Kind: wire.ExecKindRejected, Reason: rateLimited, ClientOrderID: 7, InputSeq: -1}}, 0, false},
	} {
		if after, ok := resendToRetry(&c.m); after != c.after || ok != c.ok {
			t.Errorf("%s: %d, %v; want %d, %v", c.name, after, ok, c.after, c.ok)
		}
	}
}

// `client reports` asks again for a resend the node answered busy; the
// asking again could fail (Resend's error: the connection, or
// client.ErrTooManyResends) and was dropped — the desk followed on
// without the reports it asked for, and the command exited 0 at --for.
// Its gateway: answerFirstResendBusyOver.
func TestClientReportsFailsWhenAskingAgainFails(t *testing.T) {
	addr := serveLoggedOn(t, answerFirstResendBusyOver)
	out, err := ringex(t, nil, "client", "reports", "--addr", addr, "--account", "4", "--after", "7", "--for", "10s")
	if err == nil || !errors.Is(err, client.ErrTooManyResends) || !strings.Contains(err.Error(), "asking again for the reports after input 7") {
		t.Fatalf("client reports whose asking again failed: err %v, want client.ErrTooManyResends naming input 7\n%s", err, out)
	}
}

// The shell asks again for a resend answered busy or refused, as `client
// reports` does, and dropped the error of asking again: a piped shell
// whose catch-up could not be asked for exited 0, nothing printed. Here
// `resend 7` is refused for the account's status rate, read by the
// client library first (it keeps nothing of a refused request), then 64
// `resend 8` are made and never answered: none of them asks for the
// reports of input 8 (a request from 7 or before would, and would be the
// asking again), and the asking again from 7 is the 65th request not
// answered in full (client.ErrTooManyResends).
func TestClientShellFailsWhenAskingAgainFails(t *testing.T) {
	asked := make(chan int64, 70)
	addr := serveLoggedOn(t, func(conn net.Conn, fr *proto.FrameReader, enc *proto.Encoder) {
		for n := 1; ; n++ {
			seq, after, err := nextResendRequest(fr)
			if err != nil {
				return
			}
			asked <- after
			if n == 1 { // the rest never answered
				conn.Write(enc.ExecutionReport(seq, &proto.Report{Kind: wire.ExecKindRejected, Reason: uint8(engine.ReasonRateLimited),
					Account: 4, OrderID: uint64(after), ClientOrderID: seq, InputSeq: -1}))
			}
		}
	})
	o, s, out := loggedOnShell(t, addr)
	o.timeout = time.Second // the 64 are never answered
	read, release := holdPrinter(t, s)
	w, done := runPipedShell(s, o, out, nil)
	io.WriteString(w, "resend 7\n")
	waitReadOf(t, read, "refusal of the resend", func(m *client.Message) bool { _, ok := resendToRetry(m); return ok })
	io.WriteString(w, strings.Repeat("resend 8\n", 64))
	deadline := time.After(5 * time.Second)
	for range 65 {
		select {
		case <-asked:
		case <-deadline:
			t.Fatalf("the node was not asked 65 times:\n%s", out.String())
		}
	}
	release() // the refusal's asking again is scheduled
	w.Close()
	if err := shellEnd(t, out, done); err == nil {
		t.Fatalf("a piped shell whose asking again failed exited 0:\n%s", out.String())
	}
	wantLine(t, out.String(), `^error: asking again for the reports after input 7: client: too many resends not answered in full$`)
}

// answerFirstResendBusyOver answers the session's first resend request
// busy 70 times over and no request after it: a client asks again for
// each answer, and its 65th asking again is refused by the library
// (client.ErrTooManyResends: 64 asks unanswered), with the connection up.
func answerFirstResendBusyOver(conn net.Conn, fr *proto.FrameReader, enc *proto.Encoder) {
	for answered := false; ; {
		f, err := fr.Next()
		if err != nil {
			return
		}
		var m proto.Msg
		if proto.VerifyMsg(f, &m) != nil || m.Type != wire.MessageResendReports || answered {
			continue
		}
		answered = true
		var out []byte
		for range 70 {
			out = append(out, enc.ResendDone(m.Seq, proto.ResendDone{AfterInputSeq: m.ResendReports(f), Reason: proto.ResendBusy})...)
		}
		conn.Write(out)
	}
}

// A piped shell waits for a resend it asks for again: the busy answer
// schedules the asking again statusRetry (200 ms) later, and with a
// --wait shorter than that the shell, hearing nothing for --wait, ended
// first — the session closed, the catch-up never asked for, exit status
// 0 (the error of asking again on the closed session printed after the
// end, uncounted). It now counts a resend to ask again as a command
// under way, and the send of it as something heard.
func TestClientShellWaitsForTheResendItAsksAgain(t *testing.T) {
	asked := make(chan int64, 4)
	addr := serveLoggedOn(t, func(conn net.Conn, fr *proto.FrameReader, enc *proto.Encoder) {
		answerResendsBusyOnce(conn, fr, enc, asked)
	})
	out, err := ringex(t, strings.NewReader("resend 7\nquit\n"), "client", "shell", "--addr", addr, "--account", "4", "--wait", "50ms", "--timeout", "5s")
	if err != nil {
		t.Fatalf("shell: %v\n%s", err, out)
	}
	wantLine(t, out, `^resend busy: `)
	wantLine(t, out, `^resend complete: no inputs after 7`)
	if len(asked) != 2 {
		t.Fatalf("asked %d times, want twice (once again after busy)\n%s", len(asked), out)
	}
}
