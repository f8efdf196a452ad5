package gateway

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A reader whose batch waits at a full ring past its wait
// (gateway.read_timeout, handed to PublishBatch) gives up before it
// claims, and its session ends the normal way: counted input_stalled,
// unregistered — its account's one slot (max_sessions_per_account 1)
// takes a new logon while the ring is still full — and its client told.
// The frames it held are not entered, the other sessions' all are.
// Before, PublishBatch had no wait: the reader waited for as long as the
// ring stayed full, its session registered, its client untold.
func TestAReaderHeldOnAFullRingGivesUpAndEndsItsSession(t *testing.T) {
	const timeout = 5 * time.Second // longer than any wait below: EndAfter's bound tells no one here
	g, ring := startGateway(t, Config{MaxSessionsPerAccount: 1, HeartbeatTimeout: timeout,
		Accounts: []Account{{ID: 1, Secret: "one"}, {ID: 3, Secret: "three"}}})
	other, err := client.Dial(g.Addr().String(), 3, "three", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.NewOrder(order(10))
	ring.waitFor(t, 1)

	a, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ring.setBlocked(true)
	a.NewOrder(order(1))
	ring.awaitWaiting(t)
	ring.stall() // its wait is over
	if told := closedBy(t, a); told != "shutdown" {
		t.Fatalf("the client of the session given up on was told %q, want shutdown (the node takes no input)", told)
	}
	awaitDisconnects(t, g, CauseInputStalled, 1)
	b, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatalf("a logon of the account whose session gave up: %v", err)
	}
	defer b.Close()

	ring.setBlocked(false)
	b.NewOrder(order(2))
	other.NewOrder(order(11))
	frames := ring.waitFor(t, 3)
	ring.mu.Lock()
	gaveUp, waits := ring.gaveUp, append([]time.Duration(nil), ring.waits...)
	ring.mu.Unlock()
	for _, f := range frames {
		if f.session == a.Session {
			t.Errorf("a frame of the session given up on was published: %+v", f)
		}
	}
	if len(frames) != 3 || gaveUp != 1 {
		t.Errorf("published %d frames, %d given up on; want 3 (the other sessions' all) and 1", len(frames), gaveUp)
	}
	for _, w := range waits {
		if w != timeout {
			t.Errorf("a batch waited at most %v, want gateway.read_timeout (%v)", w, timeout)
		}
	}
}

// The Closing of a session given up on names the wait it gave up after.
func TestInputStalledClosingNamesTheReadTimeout(t *testing.T) {
	c := inputStalledClosing(Config{HeartbeatTimeout: 7 * time.Second})
	if c.Cause != wire.ClosingCauseShutdown || !contains(c.Text, "gateway.read_timeout (7s)") {
		t.Fatalf("closing %+v", c)
	}
}

// A logon of an account whose last session ended with its
// cancel-on-disconnect still waiting for room in a full ring is
// answered while the ring stays full — refused TooManySessions, counted
// cancel_pending — and, once the MassCancel is published, accepted, its
// orders after it. Before, the MassCancel was published under the
// account's handover lock, and the logon waited on it, unanswered, for
// as long as the ring stayed full (here: until the test let it go).
func TestALogonWhileItsAccountsCancelWaitsForTheRingIsAnswered(t *testing.T) {
	g, ring := startGateway(t, Config{MaxSessionsPerAccount: 1})
	a, err := client.Dial(g.Addr().String(), 2, "two", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	ring.setHoldControl(true) // the ring takes no MassCancel
	defer ring.setHoldControl(false)
	a.Close()
	ring.awaitWaiting(t)
	answered := make(chan error, 1)
	go func() {
		c, err := client.Dial(g.Addr().String(), 2, "two", client.Options{AutoFlush: true})
		if err == nil {
			c.Close()
		}
		answered <- err
	}()
	select {
	case err := <-answered:
		if !errors.Is(err, client.ErrLogonRejected) || !contains(err.Error(), "TooManySessions") {
			t.Fatalf("the logon while the account's cancel-on-disconnect waits for the ring: %v, want LogonReject TooManySessions", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the logon was not answered in 10 s while the account's cancel-on-disconnect waited for the ring")
	}
	awaitDisconnects(t, g, CauseCancelPending, 1)

	ring.setHoldControl(false)
	b, err := client.Dial(g.Addr().String(), 2, "two", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatalf("a logon once the cancel-on-disconnect is published: %v", err)
	}
	defer b.Close()
	b.NewOrder(order(1))
	frames := ring.waitFor(t, 2)
	if frames[0].kind != input.KindControl || frames[0].typ != wire.MessageMassCancel || frames[1].typ != wire.MessageNewOrder {
		t.Fatalf("published %v then %v: want the MassCancel, then the new session's order", frames[0].typ, frames[1].typ)
	}
}

// A Logon read in the instant between the shutdown's flag and
// endReading's close of the connections not logged on — its client told
// its end a moment before, its session left registered for the drain —
// is refused as endReading would have refused it: NotLoggedOn, counted
// shutdown. It was refused TooManySessions (the slot held by the session
// the shutdown keeps for its drain), counted max_sessions_per_account: a
// client told to wait for a session to end, of a node that was stopping.
// The instant is made to last: the flag is set alone, as endReading sets
// it first.
func TestALogonInTheShutdownsFirstInstantIsToldShutdown(t *testing.T) {
	g, _ := startGateway(t, Config{MaxSessionsPerAccount: 1})
	a, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	conn, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for deadline := time.Now().Add(5 * time.Second); g.conns.Load() != 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the second connection was not taken in 5 s")
		}
	}
	g.closing.Store(true) // endReading's first step; its close of conn not yet
	if _, err := conn.Write(proto.NewEncoder().Logon(1, 1, "one")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	payload, err := proto.NewFrameReader(conn, 1024).Next()
	if err != nil {
		t.Fatal(err)
	}
	typ, pos, err := proto.Verify(payload)
	if err != nil || typ != wire.MessageLogonReject {
		t.Fatalf("answer %v, %v; want LogonReject", typ, err)
	}
	if why := proto.LogonRejectAt(payload, pos); why != wire.LogonRejectReasonNotLoggedOn {
		t.Errorf("the logon was refused %v, want NotLoggedOn (as endReading refuses it)", why)
	}
	awaitDisconnects(t, g, CauseShutdown, 1)
	if n := g.Counters.Disconnects[CauseMaxPerAccount].Load(); n != 0 {
		t.Errorf("%d disconnects counted max_sessions_per_account, want 0", n)
	}
}
