package gateway

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
)

// The operator's close of a session registered and its LogonAck not yet
// queued waits for it: closed then, its outbox, still holding, dropped
// what it held, the Closing included, and its client's logon read EOF —
// DialCluster took that for a member closing during the logon and
// logged on again as another session, the operator's close naming a
// session its client never knew. The operator's list does not wait: it
// names the session logging on as such, and every other at once — it
// waited for the one held, up to 5 s, before listing any. The hook holds
// the second logon in that window while the operator lists and closes
// it; its client then logs on as that session, which is listed logged
// on, and is told the operator closed it.
func TestOperatorClosesASessionLoggingOnOnceAcked(t *testing.T) {
	t.Cleanup(func() { testHookLogonHeld, testHookAwaitingAck = nil, nil }) // after the gateway's Close: its readers read them
	registered, release, awaiting := make(chan *Session, 1), make(chan struct{}), make(chan struct{}, 2)
	testHookAwaitingAck = func(*Session) { awaiting <- struct{}{} }
	var held atomic.Bool
	g, _ := startGateway(t, Config{})
	other, err := client.Dial(g.Addr().String(), 2, "two", client.Options{AutoFlush: true}) // logged on, before the hold
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	testHookLogonHeld = func(s *Session) {
		if held.CompareAndSwap(false, true) {
			registered <- s
			<-release
		}
	}
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before the gateway's Close, which waits for the reader held

	type dialed struct {
		c   *client.Client
		err error
	}
	done := make(chan dialed, 1)
	go func() {
		c, err := client.DialCluster([]string{g.Addr().String()}, 1, "one", client.Options{AutoFlush: true}, 5*time.Second)
		done <- dialed{c, err}
	}()
	var s *Session
	select {
	case s = <-registered:
	case <-time.After(5 * time.Second):
		t.Fatal("the logon not registered after 5 s")
	}
	// The operator lists the sessions while it is held: at once, the
	// held one logging on, the other logged on — not waiting for the
	// held one's LogonAck (testHookAwaitingAck).
	list := make(chan []SessionInfo, 1)
	go func() { list <- g.Sessions() }()
	select {
	case <-awaiting:
		t.Fatal("the operator's list waits for the LogonAck of the logon held")
	case l := <-list:
		want := []SessionInfo{{ID: other.Session, LoggingOn: false}, {ID: s.ID, LoggingOn: true}}
		if len(l) != 2 || l[0].ID != want[0].ID || l[0].LoggingOn || l[1].ID != want[1].ID || !l[1].LoggingOn {
			t.Fatalf("listed %+v while the logon is held, want the session logged on then the one held, logging on: %+v", l, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the operator's list neither answered nor waiting after 5 s")
	}
	// It closes the session held: the close waits for its LogonAck.
	closed := make(chan bool, 1)
	go func() { closed <- g.CloseSession(s.ID) }()
	select {
	case <-awaiting:
	case ok := <-closed:
		t.Fatalf("the session held closed %v before its LogonAck was queued", ok)
	case <-time.After(5 * time.Second):
		t.Fatal("the operator's close neither answered nor waiting after 5 s")
	}
	free()
	var d dialed
	select {
	case d = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the logon not answered 10 s after its hold")
	}
	if d.err != nil {
		t.Fatalf("logon: %v", d.err)
	}
	t.Cleanup(func() { d.c.Close() })
	if d.c.Session != s.ID {
		t.Fatalf("the client logged on as session %d, not %d, the one held (and closed) while its LogonAck was not queued", d.c.Session, s.ID)
	}
	select {
	case ok := <-closed:
		if !ok {
			t.Error("the session held not closed once its LogonAck was queued")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the operator's close not answered 10 s after the hold")
	}
	if told := closedBy(t, d.c); told != CauseOperator.String() {
		t.Errorf("the client was told %q, want %q", told, CauseOperator.String())
	}
}
