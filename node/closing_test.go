package node

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A session that reads, handed a burst of reports larger than its send
// buffer in one batch (the cancels of a mass cancel), is cut as a slow
// consumer — and, its socket having room, is told so: the Closing fits
// behind what it had read. A session of another account whose report
// is in that batch, behind the burst, gets it: the cut costs it nothing.
//
// The execution sender is held while the engine emits the burst, so that
// the sender takes it in one batch. The engine publishes its events one
// by one, and nothing makes a mass cancel's reach the sender together: on
// a loaded machine the sender ran between them (make test, load 10–15,
// "still open after 5 s") and sent them in batches the client read as
// they came, never more than its buffer — no slow consumer to cut.
func TestSlowConsumerWithRoomToldWhy(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("gateway.send_buffer_bytes", fmt.Sprint(64*proto.ReportFrameBytes()))
	cfg.Set("gateway.max_frame_bytes", "1024")
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	c := dial(t, addrs.Gateway, 1)
	calm := dial(t, addrs.Gateway, 2)
	for i := range uint64(200) { // one at a time: their acks never more than the buffer
		c.NewOrder(limit(i+1, wire.SideBuy, in.ReferencePrice-int64(1+i%50)*in.TickSize, 1))
		next(t, c, report(wire.ExecKindAccepted))
	}
	release := holdConsumer(t, n, n.stats.sender, "execution sender")
	defer release()
	burst := n.exec.published() + 200 + 1 // the cancels, then MassCancelDone
	c.MassCancel(in.ID)
	waitUntil(t, func() bool { return n.exec.published() >= burst })
	calm.NewOrder(limit(1, wire.SideSell, in.ReferencePrice+in.TickSize, 1))
	waitUntil(t, func() bool { return n.exec.published() > burst })
	release()
	if got := client.ClosedBy(expectClosed(t, c, "session handed more than its buffer")); got != "slow_consumer" {
		t.Fatalf("told %q, want slow_consumer", got)
	}
	if r := next(t, calm, func(m client.Message) bool { return m.Type == wire.MessageExecutionReport }).Report; r.Kind != wire.ExecKindAccepted || r.ClientOrderID != 1 {
		t.Fatalf("the other session's report, in the batch of the cut one's burst: %+v, want its order 1 accepted", r)
	}
}

// A client whose orders the node took before it stopped gets every
// report of them, then Closing{shutdown}: the gateway stops reading,
// the rings drain into the sessions, and only then are they ended. Stop
// returns once their writers are done, so that `ringex serve`, exiting
// after it, cuts none of it short.
func TestStopSendsTheReportsOwedThenClosing(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	c := dial(t, addrs.Gateway, 1)
	out := n.gw.Session(c.Session).Out
	release := holdEngine(t, n)
	defer release()
	const orders = 20
	before := n.in.published()
	for i := range uint64(orders) {
		c.NewOrder(limit(i+1, wire.SideBuy, in.ReferencePrice-in.TickSize, 1))
	}
	waitUntil(t, func() bool { return n.in.published() >= before+orders }) // in the ring, behind the held engine
	stopped := make(chan error, 1)
	go func() { stopped <- n.Stop() }()
	waitUntil(t, func() bool { // the gateway takes no more: Stop drains
		n.ctlMu.Lock()
		defer n.ctlMu.Unlock()
		return n.ctlClosed
	})
	release()
	accepted, err := countUntilClosed(c, report(wire.ExecKindAccepted))
	if got := client.ClosedBy(err); got != "shutdown" || accepted != orders {
		t.Fatalf("the connection ended (%v) told %q after %d of %d acks; want them all, then shutdown", err, got, accepted, orders)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	select {
	case <-out.Done():
	default:
		t.Fatal("Stop returned with a session's writer still writing")
	}
}

// A node that stops tells its market-data subscribers why
// (Closing{shutdown}), after what their outboxes hold. One that stopped
// reading, with more queued than its socket takes, holds Stop no longer
// than the outbox's close grace, and is closed then, untold. Both are
// counted under ringex_marketdata_closed_total{cause="shutdown"}, as
// the gateway counts its sessions.
func TestStopTellsSubscribersWhy(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("marketdata.send_buffer_bytes", fmt.Sprint(32<<20))
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	stalledSubscriber(t, n, addrs.MarketData, cfg.Instruments[0].ID)
	reading := subscribeMD(t, addrs.MarketData, cfg.Instruments[0].ID)
	stopped := make(chan error, 1)
	go func() { stopped <- n.Stop() }()
	wantToldWhy(t, expectClosed(t, reading, "a subscriber of a node that stopped"), "shutdown")
	if err := received(t, stopped, "Stop still waiting 10 s on a subscriber that stopped reading, past the outbox's close grace"); err != nil {
		t.Fatal(err)
	}
	wantClosed(t, n, mdShutdown, 2) // Stop waited for their readers
}

// A subscriber cut as a slow consumer before the node stops is counted
// slow_consumer, and logged, however late its reader notices: here the
// reader is held between finding its connection ended and its naming of
// the cause while Stop's shutdown runs. It was counted shutdown,
// unlogged, for the shutdown its reader saw first. One cut only after
// the shutdown is not cut (the shutdown closed its outbox) and is
// counted shutdown. The reader finds the end at its read's failure, or
// before its next read when it was still answering the Subscribe (its
// snapshot sent by the fan-out, the reader waiting for the engine to
// switch market data on): held at the failure only, such a reader was
// never held, and the test failed under load ("not held 10 s").
func TestSubscriberCutBeforeStopCountedSlowConsumer(t *testing.T) {
	for _, tc := range []struct {
		name           string
		cutFirst       bool
		sendErr        error // the cut's Send
		slow, shutdown int64 // the closes counted
	}{
		{"cut then stop", true, output.ErrOverflow, 1, 0},
		{"stop then cut", false, output.ErrClosed, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, t.TempDir())
			n, addrs, logs, awaitHeld := startHoldingFoundEnds(t, cfg)
			subscribeMD(t, addrs.MarketData, cfg.Instruments[0].ID)
			out := onlyMDOutbox(t, n)
			cut := func() {
				if err := out.Send(make([]byte, cfg.MarketData.SendBufferBytes+1)); !errors.Is(err, tc.sendErr) {
					t.Fatalf("a frame over the send buffer: %v, want %v", err, tc.sendErr)
				}
			}
			stopped := make(chan error, 1)
			if tc.cutFirst {
				cut()
				unhold := awaitHeld()
				go func() { stopped <- n.Stop() }()
				waitUntil(t, n.mdHub.stopped)
				unhold()
			} else {
				go func() { stopped <- n.Stop() }()
				unhold := awaitHeld() // the shutdown ended its connection
				cut()
				unhold()
			}
			if err := <-stopped; err != nil {
				t.Fatal(err)
			}
			wantClosed(t, n, mdSlowConsumer, tc.slow)
			wantClosed(t, n, mdShutdown, tc.shutdown)
			if logged := strings.Contains(logs.String(), "slow subscriber disconnected"); logged != (tc.slow == 1) {
				t.Fatalf("slow subscriber warning logged: %v, want %v", logged, tc.slow == 1)
			}
		})
	}
}

// startHoldingFoundEnds starts a node of cfg, logging into logs, whose
// market-data readers are held when they find their connection ended —
// their read failed, or before a read the node's end or a cut — before
// they name the cause (endFoundHook): awaitHeld waits (10 s at most)
// until one is, and returns what lets it go on. Every reader is let go
// when the test ends, before the node stops: a test failing while one is
// held must not leave Stop waiting for it for good.
func startHoldingFoundEnds(t *testing.T, cfg *config.Config) (n *Node, addrs Addrs, logs *testkit.SyncBuffer, awaitHeld func() (unhold func())) {
	t.Helper()
	return startHoldingReaders(t, cfg, func(h *mdHub) *func() { return &h.endFoundHook })
}

// startHoldingReaders is startHoldingFoundEnds with the readers held
// in the hook at returns instead: endFoundHook, endedHook (a reader
// that named an end of its own, before it records it) or
// endRecordedHook (after it records it, before it closes the outbox).
func startHoldingReaders(t *testing.T, cfg *config.Config, at func(*mdHub) *func()) (n *Node, addrs Addrs, logs *testkit.SyncBuffer, awaitHeld func() (unhold func())) {
	t.Helper()
	logs = new(testkit.SyncBuffer)
	n, _, err := NewWithOptions(cfg, zerolog.New(logs), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// release is closed once, by the test or at its end. held says a
	// reader is held; it holds one word, and a reader finding it full
	// (another held, or the same one in the hook again: endFoundHook runs
	// at each look that finds an outbox closed by a failed write) is held
	// all the same, never kept by the word it cannot add.
	held, release := make(chan struct{}, 1), make(chan struct{})
	var releaseOnce sync.Once
	unhold := func() { releaseOnce.Do(func() { close(release) }) }
	*at(n.mdHub) = func() { // before Start: read only by readers started after
		select {
		case held <- struct{}{}:
		default:
		}
		<-release
	}
	if addrs, err = n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })
	t.Cleanup(unhold) // runs first
	return n, addrs, logs, func() func() {
		t.Helper()
		received(t, held, "the subscriber's reader not held 10 s on")
		return unhold
	}
}

// A market-data connection cut as a slow consumer, then evicted before
// its reader named the cause (its slot taken by a connection over
// marketdata.max_connections: it follows no instrument), is counted
// slow-consumer, the Closing it was told, and logged. It was counted
// evicted: its reader asked for the eviction before the cut, and its
// LogonReject{TooManyConnections} never went (the cut outbox took it
// no more).
func TestSubscriberCutThenEvictedCountedSlowConsumer(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("marketdata.max_connections", "1")
	n, addrs, logs, awaitHeld := startHoldingFoundEnds(t, cfg)
	c := dialMD(t, addrs.MarketData) // follows nothing: its slot may be taken
	if err := onlyMDOutbox(t, n).Send(make([]byte, cfg.MarketData.SendBufferBytes+1)); !errors.Is(err, output.ErrOverflow) {
		t.Fatalf("a frame over the send buffer: %v, want the outbox cut (ErrOverflow)", err)
	}
	unhold := awaitHeld()                                      // the cut closed its connection
	dialMD(t, addrs.MarketData)                                // over max_connections: evicts it
	waitUntil(t, func() bool { return n.mdHub.served() == 2 }) // admitted: the eviction is done
	unhold()
	wantToldWhy(t, expectClosed(t, c, "a subscriber cut"), "slow_consumer")
	waitUntil(t, func() bool { return n.mdHub.served() == 1 }) // its reader is gone
	wantClosed(t, n, mdSlowConsumer, 1)
	wantClosed(t, n, mdEvicted, 0)
	if !strings.Contains(logs.String(), "slow subscriber disconnected") {
		t.Fatal("the cut subscriber's warning not logged")
	}
}

// A market-data connection cut as a slow consumer after its subscriber
// hung up, and before its reader closed the outbox on finding that, is
// counted slow-consumer and logged: the cut closed it first. Its reader
// looked for a cut, found none, and left the close to its deferred
// plain Close, which the cut had made a no-op: counted under nothing.
func TestSubscriberHungUpThenCutCountedSlowConsumer(t *testing.T) {
	n, addrs, logs, awaitHeld := startHoldingReaders(t, testConfig(t, t.TempDir()), func(h *mdHub) *func() { return &h.hungUpHook })
	c := subscribeMD(t, addrs.MarketData, 1)
	out := onlyMDOutbox(t, n)
	c.Close()
	unhold := awaitHeld()
	if err := out.Send(make([]byte, n.cfg.MarketData.SendBufferBytes+1)); !errors.Is(err, output.ErrOverflow) {
		t.Fatalf("a frame over the send buffer: %v, want the outbox cut (ErrOverflow)", err)
	}
	unhold()
	waitUntil(t, func() bool { return n.mdHub.served() == 0 }) // its reader is gone
	wantClosed(t, n, mdSlowConsumer, 1)
	if !strings.Contains(logs.String(), "slow subscriber disconnected") {
		t.Fatal("the cut subscriber's warning not logged")
	}
}

// A market-data connection that ends itself — idle, or a malformed
// frame (one that is not a message) — is counted once, under the end it
// is told: when its outbox is cut as a slow consumer, or the node's
// shutdown closes it, after the reader named its own end and before it
// closed the outbox, it is told and counted slow-consumer (logged) or
// shutdown. Its reader counted its own cause before its close, which the
// cut or the shutdown had made first: told slow_consumer or shutdown,
// counted idle or malformed. Nothing between, it is told and counted its
// own cause.
func TestSubscriberEndingItselfCountedTheEndItIsTold(t *testing.T) {
	ends := []struct {
		name  string
		cause int
		// end makes the connection c end itself; set configures the node.
		end func(c *client.Client)
		set map[string]string
	}{
		{"malformed", mdMalformed, func(c *client.Client) {
			c.SendRaw(proto.AppendFrame(nil, bytes.Repeat([]byte{0xff}, 40)))
			c.Flush()
		}, nil},
		{"idle", mdIdle, func(*client.Client) {}, map[string]string{"gateway.heartbeat_interval": "250ms", "gateway.read_timeout": "1s"}},
	}
	for _, end := range ends {
		for _, tc := range []struct {
			name string
			// between runs while the reader is held between naming its
			// end and closing the outbox; it returns what waits for the
			// stop it began, if any.
			between func(t *testing.T, n *Node, out *output.Outbox, sendBuffer int) (stopped func())
			told    string
			counted int
		}{
			{"nothing between", func(*testing.T, *Node, *output.Outbox, int) func() { return nil }, end.name, end.cause},
			{"cut between", func(t *testing.T, _ *Node, out *output.Outbox, sendBuffer int) func() {
				if err := out.Send(make([]byte, sendBuffer+1)); !errors.Is(err, output.ErrOverflow) {
					t.Fatalf("a frame over the send buffer: %v, want the outbox cut (ErrOverflow)", err)
				}
				return nil
			}, "slow_consumer", mdSlowConsumer},
			{"shutdown between", func(t *testing.T, n *Node, _ *output.Outbox, _ int) func() {
				stopped := make(chan error, 1)
				go func() { stopped <- n.Stop() }()
				waitUntil(t, n.mdHub.stopped) // its outbox closed with the rest, under liveMu
				return func() {
					if err := <-stopped; err != nil {
						t.Fatal(err)
					}
				}
			}, "shutdown", mdShutdown},
		} {
			t.Run(end.name+"/"+tc.name, func(t *testing.T) {
				cfg := testConfig(t, t.TempDir())
				setConfig(t, cfg, end.set)
				n, addrs, logs, awaitHeld := startHoldingReaders(t, cfg, func(h *mdHub) *func() { return &h.endedHook })
				c := dialMD(t, addrs.MarketData)
				out := onlyMDOutbox(t, n)
				end.end(c)
				unhold := awaitHeld()
				stopped := tc.between(t, n, out, cfg.MarketData.SendBufferBytes)
				unhold()
				wantToldWhy(t, expectClosed(t, c, "a connection ending itself"), tc.told)
				if stopped != nil {
					stopped()
				}
				waitUntil(t, func() bool { return n.mdHub.served() == 0 }) // its reader is gone
				wantClosedOnce(t, n, tc.counted, end.cause, mdSlowConsumer, mdShutdown)
				if logged := strings.Contains(logs.String(), "slow subscriber disconnected"); logged != (tc.counted == mdSlowConsumer) {
					t.Fatalf("slow subscriber warning logged: %v, want %v", logged, tc.counted == mdSlowConsumer)
				}
			})
		}
	}
}

// A subscriber that ends itself (a malformed frame) as the node stops
// being current is counted once, under the end that closed it first,
// the one it is told: its own, when its reader recorded it before —
// not-current passes it by, sending it no SubscribeReject — and
// not-current, when the node's end came first and the reader named its
// own after, on a frame it had read. setCurrent counted not-current for
// every subscriber, ended or not, and the reader its own end after
// not-current had closed the outbox: each was counted twice.
func TestSubscriberEndedAsNotCurrentCountedOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		// at is the hook the reader is held in while the node stops
		// being current: after its end is recorded, or before.
		at      func(*mdHub) *func()
		told    string
		counted int
	}{
		{"own end first", func(h *mdHub) *func() { return &h.endRecordedHook }, "malformed", mdMalformed},
		{"not-current first", func(h *mdHub) *func() { return &h.endedHook }, "not_current", mdNotCurrent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, addrs, _, awaitHeld := startHoldingReaders(t, testConfig(t, t.TempDir()), tc.at)
			c := subscribeMD(t, addrs.MarketData, 1) // setCurrent ends those following an instrument
			c.SendRaw(proto.AppendFrame(nil, bytes.Repeat([]byte{0xff}, 40)))
			c.Flush()
			unhold := awaitHeld()
			n.mdHub.setCurrent(false)
			unhold()
			wantToldWhy(t, expectClosed(t, c, "a subscriber ending itself as the node stops being current"), tc.told)
			waitUntil(t, func() bool { return n.mdHub.served() == 0 }) // its reader is gone
			wantClosedOnce(t, n, tc.counted, mdMalformed, mdNotCurrent)
		})
	}
}

// wantNoOtherClose checks that the market-data port closed no connection
// for any cause but counted.
func wantNoOtherClose(t *testing.T, n *Node, counted int) {
	t.Helper()
	for cause := range mdCauses {
		if cause != counted {
			wantClosed(t, n, cause, 0)
		}
	}
}

// wantClosedOnce checks that the port closed one connection for
// counted, and none for the other causes (each of causes but counted).
func wantClosedOnce(t *testing.T, n *Node, counted int, causes ...int) {
	t.Helper()
	for _, cause := range causes {
		want := int64(0)
		if cause == counted {
			want = 1
		}
		wantClosed(t, n, cause, want)
	}
}

// stalledSubscriber subscribes to instrument on the node's first
// market-data connection, reads nothing more, and has its outbox queue
// 16 MiB of heartbeats, more than the loopback socket buffers take: its
// writer writes until its close grace ends (marketdata.send_buffer_bytes
// must hold them).
func stalledSubscriber(t *testing.T, n *Node, addr string, instrument uint32) (*client.Client, *output.Outbox) {
	t.Helper()
	c := subscribeMD(t, addr, instrument)
	out := onlyMDOutbox(t, n)
	hb := proto.NewEncoder().Heartbeat(0)
	out.Send(bytes.Repeat(hb, 16<<20/len(hb)))
	return c, out
}

// onlyMDOutbox returns the outbox of the node's one market-data
// connection served, once its reader has listed it (a moment after the
// dial: a connection just dialed may not be listed yet).
func onlyMDOutbox(t *testing.T, n *Node) *output.Outbox {
	t.Helper()
	var subs []*subscriber
	waitUntil(t, func() bool {
		n.mdHub.liveMu.Lock()
		defer n.mdHub.liveMu.Unlock()
		subs = slices.Collect(maps.Values(n.mdHub.listed))
		return len(subs) > 0
	})
	if len(subs) != 1 {
		t.Fatalf("%d market-data connections served, want this one alone", len(subs))
	}
	return subs[0].out
}

// A market-data connection the port ended before the stop (here for a
// malformed frame, from a subscriber that reads nothing) still has its
// writer writing what its outbox held and its Closing, within the
// outbox's close grace: Stop waits for it as for the connections it
// ends itself, and returned without it.
func TestStopWaitsForTheWritersOfSubscribersEndedBefore(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("marketdata.send_buffer_bytes", fmt.Sprint(32<<20))
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	c, out := stalledSubscriber(t, n, addrs.MarketData, cfg.Instruments[0].ID)
	c.SendRaw(proto.AppendFrame(nil, make([]byte, 2048))) // over the port's 1024 bytes: malformed
	c.Flush()
	waitUntil(t, func() bool { return n.mdHub.served() == 0 }) // its reader is gone
	wantClosed(t, n, mdMalformed, 1)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-out.Done():
	default:
		t.Fatal("Stop returned with the writer of a subscriber ended before it still writing")
	}
}

// A subscriber of a node that stops gets the updates of every input the
// node took before it is told why (Closing{shutdown}), as a trader gets
// every report: the stop drains the market-data ring into the
// subscribers, it did not halt it. The fan-out is held while a trade
// goes through the engine, and let go once the stop has drained the
// execution ring; the subscriber must read the trade, then the Closing.
func TestStopSendsTheUpdatesOwedThenClosing(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	md := subscribeMD(t, addrs.MarketData, in.ID)
	release := holdConsumer(t, n, n.mdHub.deployed.Load(), "market-data fan-out")
	defer release()
	seller, buyer := dial(t, addrs.Gateway, 2), dial(t, addrs.Gateway, 1)
	seller.NewOrder(limit(1, wire.SideSell, in.ReferencePrice, in.LotSize))
	next(t, seller, report(wire.ExecKindAccepted))
	buyer.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice, in.LotSize))
	next(t, buyer, report(wire.ExecKindFill))
	// Every event of both inputs is in the market-data ring: the engine
	// publishes them before it moves its sequence past their inputs.
	waitUntil(t, func() bool { return n.stats.engine.Sequence().Load()+1 >= n.in.published() })
	stopped := make(chan error, 1)
	go func() { stopped <- n.Stop() }()
	waitUntil(t, n.exec.seq.Halted) // the reports are out; the market data comes next
	release()
	trades, err := countUntilClosed(md, func(m client.Message) bool { return m.Type == wire.MessageTrade })
	if got := client.ClosedBy(err); got != "shutdown" || trades != 1 {
		t.Fatalf("the subscription ended (%v) told %q after %d trades; want the trade, then shutdown", err, got, trades)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

// countUntilClosed reads c until its connection ends, or for 10 s, and
// returns how many of the messages it read match, and the error the
// reads ended with (client.ClosedBy names the cause the node gave).
func countUntilClosed(c *client.Client, match func(client.Message) bool) (int, error) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	matched := 0
	for {
		m, err := c.Next()
		if err != nil {
			return matched, err
		}
		if match(m) {
			matched++
		}
	}
}

// A session that logs out is sent the reports of what it sent before its
// Logout: an order and the Logout in one write, the order's Accepted
// comes before the connection ends. The gateway unregistered the session
// as soon as it read the Logout, so the report of an order the engine
// had not applied yet went to no session — the order rested, its client
// never told (found walking a client's path from proto/README alone).
func TestLogoutSentTheReportsOfWhatCameBefore(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	c := dialUnflushed(t, addrs.Gateway, 1)
	in := cfg.Instruments[0]
	c.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice-in.TickSize, in.LotSize))
	c.Logout() // flushes both in one write
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var kinds []wire.ExecKind
	err := testkit.EachReport(c, func(r proto.Report) { kinds = append(kinds, r.Kind) })
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		t.Fatal("a session that logged out still open after 5 s")
	}
	if !slices.Contains(kinds, wire.ExecKindAccepted) {
		t.Fatalf("an order sent just before the Logout: reports %v before the end (%v), want its Accepted", kinds, err)
	}
}
