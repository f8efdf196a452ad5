package gateway

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
)

// listed reports whether the operator's list (Sessions) names id.
func listed(g *Gateway, id uint64) bool {
	return slices.ContainsFunc(g.Sessions(), func(i SessionInfo) bool { return i.ID == id })
}

// The operator's list and close of a session registered and its
// LogonAck not yet queued wait for it: closed then, its outbox, still
// holding, dropped what it held, the Closing included, and its client's
// logon read EOF — DialCluster took that for a member closing during the
// logon and logged on again as another session, the operator's close
// naming a session its client never knew. The hook holds the first
// logon in that window while the operator lists and closes it, both
// waiting; its client then logs on as that session, which is listed,
// and is told the operator closed it.
func TestOperatorClosesASessionLoggingOnOnceAcked(t *testing.T) {
	t.Cleanup(func() { testHookLogonHeld, testHookAwaitingAck = nil, nil }) // after the gateway's Close: its readers read them
	registered, release, awaiting := make(chan *Session, 1), make(chan struct{}), make(chan struct{}, 2)
	testHookAwaitingAck = func(*Session) { awaiting <- struct{}{} }
	var held atomic.Bool
	testHookLogonHeld = func(s *Session) {
		if held.CompareAndSwap(false, true) {
			registered <- s
			<-release
		}
	}
	g, _ := startGateway(t, Config{})
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
	// The operator lists the session and closes it while it is held,
	// each call waiting for its LogonAck (testHookAwaitingAck) when the
	// hold ends.
	type answer struct {
		call string
		ok   bool
	}
	answers := make(chan answer, 2)
	go func() { answers <- answer{"listed", listed(g, s.ID)} }()
	go func() { answers <- answer{"closed", g.CloseSession(s.ID)} }()
	got := map[string]bool{}
	for range 2 {
		select {
		case <-awaiting:
		case a := <-answers:
			t.Errorf("the session held %s %v before its LogonAck was queued", a.call, a.ok)
			got[a.call] = a.ok
		case <-time.After(5 * time.Second):
			t.Fatal("the operator's list and close neither answered nor waiting after 5 s")
		}
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
	for len(got) < 2 {
		select {
		case a := <-answers:
			got[a.call] = a.ok
		case <-time.After(10 * time.Second):
			t.Fatal("the operator's list and close not answered 10 s after the hold")
		}
	}
	if !got["listed"] || !got["closed"] {
		t.Errorf("the session held listed %v, closed %v; want both once its LogonAck is queued", got["listed"], got["closed"])
	}
	if told := closedBy(t, d.c); told != CauseOperator.String() {
		t.Errorf("the client was told %q, want %q", told, CauseOperator.String())
	}
}
