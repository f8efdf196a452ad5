package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// deadAddr is a loopback address nobody listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// busyGateway answers every logon LogonReject TooManyConnections, as a
// member at its connection limits does.
func busyGateway(t *testing.T) *gateway {
	return startGateway(t, func(e *proto.Encoder, _ logon) [][]byte {
		return one(e.LogonReject(0, wire.LogonRejectReasonTooManyConnections))
	})
}

// A member at its connection limits is busy, not the cluster: DialCluster
// goes on to the next member, which takes the logon. Before, it returned
// the refusal at once. A cluster whose every member is busy is a refusal
// when within has passed, ErrTooManyConnections (an ErrLogonRejected).
func TestDialClusterPassesABusyMember(t *testing.T) {
	busy, leader := busyGateway(t), startGateway(t, ack)
	for _, dial := range []struct {
		name string
		f    func(addrs []string) (*Client, error)
	}{
		{"DialCluster", func(addrs []string) (*Client, error) { return DialCluster(addrs, 3, "s3", quick, 5*time.Second) }},
		{"DialClusterContext", func(addrs []string) (*Client, error) {
			return DialClusterContext(context.Background(), addrs, 3, "s3", quick)
		}},
	} {
		t.Run(dial.name, func(t *testing.T) {
			c, err := dial.f([]string{busy.addr(), leader.addr()})
			if err != nil {
				t.Fatalf("a busy member and a leader: %v", err)
			}
			defer c.Close()
			if c.RemoteAddr() != leader.addr() {
				t.Fatalf("logged on to %s, want the leader %s", c.RemoteAddr(), leader.addr())
			}
		})
	}
	if _, err := Dial(busy.addr(), 3, "s3", quick); !errors.Is(err, ErrTooManyConnections) || !errors.Is(err, ErrLogonRejected) {
		t.Fatalf("Dial to a busy member: %v, want ErrTooManyConnections, an ErrLogonRejected", err)
	}
	_, err := DialCluster([]string{busy.addr()}, 3, "s3", quick, 100*time.Millisecond)
	if !errors.Is(err, ErrTooManyConnections) || !errors.Is(err, ErrLogonRejected) {
		t.Fatalf("every member busy: %v, want ErrTooManyConnections", err)
	}
}

// DialClusterContext gives up as soon as its context is cancelled — a
// member that accepts and never answers holding the logon, the others
// dead, and opts.Timeout a minute — with an error that wraps
// context.Canceled, and the last member's refusal if one refused. A
// deadline ends it the same way (context.DeadlineExceeded).
func TestDialClusterContextCancelled(t *testing.T) {
	silent := startGateway(t, func(*proto.Encoder, logon) [][]byte { return nil })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	go func() {
		c, err := DialClusterContext(ctx, []string{deadAddr(t), silent.addr(), deadAddr(t)}, 3, "s3", Options{Timeout: time.Minute})
		if c != nil {
			c.Close()
		}
		result <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); silent.logonCount() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) { // the logon is under way, and will never be answered
			t.Fatal("no logon reached the silent member in 10s")
		}
	}
	cancel()
	select {
	case err := <-result:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled: %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("DialClusterContext went on after its context was cancelled (the logon's Timeout is a minute)")
	}

	// Cancelled once a member refused: the error names that refusal too.
	refused := startGateway(t, func(e *proto.Encoder, _ logon) [][]byte {
		return one(e.LogonReject(1, wire.LogonRejectReasonNotLeader))
	})
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		_, err := DialClusterContext(ctx, []string{refused.addr()}, 3, "s3", quick)
		result <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); refused.logonCount() < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) { // the first refusal was read: the client asked again
			t.Fatal("the refusing member was not asked twice in 10s")
		}
	}
	cancel()
	if err := <-result; !errors.Is(err, context.Canceled) || !errors.Is(err, ErrNotLeader) {
		t.Fatalf("cancelled after refusals: %v, want context.Canceled and ErrNotLeader", err)
	}
	// A deadline passed.
	ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := DialClusterContext(ctx, []string{refused.addr()}, 3, "s3", quick); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("past its deadline: %v, want context.DeadlineExceeded", err)
	}
	if _, err := DialClusterContext(context.Background(), nil, 3, "s3", quick); err == nil {
		t.Fatal("DialClusterContext with no addresses succeeded")
	}
}

// ErrTooManySessions (the account's gateway.max_sessions_per_account
// sessions logged on, refused by the leader) is final: DialCluster
// returns it at once, asking that member once, as it does any other
// rejection but a busy member's.
func TestDialClusterReturnsTooManySessionsAtOnce(t *testing.T) {
	full := startGateway(t, func(e *proto.Encoder, _ logon) [][]byte {
		return one(e.LogonReject(0, wire.LogonRejectReasonTooManySessions))
	})
	_, err := DialCluster([]string{deadAddr(t), full.addr()}, 3, "s3", quick, 5*time.Second)
	if !errors.Is(err, ErrTooManySessions) || !errors.Is(err, ErrLogonRejected) || errors.Is(err, ErrTooManyConnections) {
		t.Fatalf("the account's sessions all in use: %v, want ErrTooManySessions, an ErrLogonRejected", err)
	}
	if n := full.logonCount(); n != 1 {
		t.Fatalf("%d logons, want 1", n)
	}
}

// Busy members (TooManyConnections) are asked again after a pause that
// grows — 100ms, 200ms, 400ms... up to 2s — not every 10ms as during an
// election: logging on again at once only adds to a loaded member's
// work. Over a second that is five rounds (at 0, 0.1, 0.3, 0.7 and as
// within ends); before, it was about a hundred.
func TestDialClusterBacksOffBusyMembers(t *testing.T) {
	busy := busyGateway(t)
	_, err := DialCluster([]string{busy.addr()}, 3, "s3", quick, time.Second)
	if !errors.Is(err, ErrTooManyConnections) {
		t.Fatalf("every member busy: %v, want ErrTooManyConnections", err)
	}
	// A slow machine makes fewer rounds, never more.
	if n := busy.logonCount(); n > 8 {
		t.Fatalf("%d logons to a busy member within a second, want 5 or so (backing off from 100ms)", n)
	}
}

// The last round's attempt, cut short by within's end, timing out is our
// own cut, not the member's answer: the refusal seen before is the error.
// Before, a busy member's logon taking longer than the 50 ms left (a
// loaded machine) turned "every member busy" into a timeout.
func TestDialClusterKeepsTheRefusalOverItsOwnCut(t *testing.T) {
	var answered atomic.Int32
	member := startGateway(t, func(e *proto.Encoder, _ logon) [][]byte {
		if answered.Add(1) == 1 {
			return one(e.LogonReject(0, wire.LogonRejectReasonTooManyConnections))
		}
		return nil // busier still: no answer within the time left
	})
	_, err := DialCluster([]string{member.addr()}, 3, "s3", quick, 400*time.Millisecond)
	if !errors.Is(err, ErrTooManyConnections) {
		t.Fatalf("a member busy, then silent past within: %v, want ErrTooManyConnections", err)
	}
	if n := answered.Load(); n < 2 {
		t.Fatalf("%d logons: the round cut short never ran (test setup)", n)
	}
}

// Rounds with a busy member back off, doubling to maxBusyPause; one that
// also met an election (a follower answering NotLeader: the leader died)
// keeps the election's pace — a follower at its limits must not slow the
// logon to the next leader — and starts the back-off over. Rounds in
// which no member answered back off from electionPause, doubling to
// maxDeadPause, each pause drawn from the upper half of its step; a dead
// member in a round with an election keeps the election's pace.
func TestRoundPause(t *testing.T) {
	var backoff, pause time.Duration
	var got []time.Duration
	for _, r := range []round{
		{busy: true}, {busy: true}, {busy: true}, {busy: true}, {busy: true}, {busy: true},
		{busy: true, electing: true}, {electing: true}, {}, {busy: true},
		{electing: true, dead: true}, {busy: true, dead: true},
	} {
		pause, backoff = roundPause(r, backoff)
		got = append(got, pause)
	}
	ms := time.Millisecond
	want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 2000 * ms, 10 * ms, 10 * ms, 10 * ms, 100 * ms, 10 * ms, 100 * ms}
	if !slices.Equal(got, want) {
		t.Fatalf("pauses %v, want %v", got, want)
	}
	backoff = 0
	for i, step := range []time.Duration{10 * ms, 20 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 640 * ms, 1000 * ms, 1000 * ms} {
		if pause, backoff = roundPause(round{dead: true}, backoff); pause <= step/2 || pause > step || backoff != step {
			t.Fatalf("dead round %d: pause %v (back-off %v), want in (%v, %v]", i, pause, backoff, step/2, step)
		}
	}
	if pause, backoff = roundPause(round{electing: true}, backoff); pause != electionPause || backoff != 0 {
		t.Fatalf("an election after dead rounds: pause %v, back-off %v; want %v, 0", pause, backoff, electionPause)
	}
}

// refusingListener accepts connections and closes them at once, as a
// member at its limits does to a connection it evicts mid-TLS-handshake,
// and counts them.
func refusingListener(t *testing.T) (addr string, accepts *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepts = new(atomic.Int32)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String(), accepts
}

// A member that closes every connection before answering — a TLS
// handshake cut, a logon read at EOF — is dialled again after a pause
// that grows, not every 10 ms: over a second that is at most nine
// rounds (pauses from 5–10 ms doubling). Before, it was about a hundred.
func TestDialClusterBacksOffMembersThatDoNotAnswer(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"logon", quick},
		{"tls", Options{Timeout: 2 * time.Second, AutoFlush: true, TLS: &tls.Config{InsecureSkipVerify: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, accepts := refusingListener(t)
			_, err := DialCluster([]string{addr}, 3, "s3", tc.opts, time.Second)
			if err == nil || errors.Is(err, ErrLogonRejected) {
				t.Fatalf("a member closing every connection: %v, want a network error", err)
			}
			// A slow machine makes fewer rounds, never more.
			if n := accepts.Load(); n > 12 {
				t.Fatalf("%d connections to a member that closes them within a second, want at most 10 (backing off from 10 ms): %v", n, err)
			}
		})
	}
}

// DialCluster at addresses none of which took a connection in any round
// — one standalone node not started, a wrong port — says so, naming
// them, with the dial's error: it said "no leader took the logon", of a
// node that never heard from it. Once a member answered (busy here), it
// is the cluster's leader that did not take the logon.
func TestDialClusterConnectingNowhereSaysSo(t *testing.T) {
	one, two := deadAddr(t), []string{deadAddr(t), deadAddr(t)}
	for _, tc := range []struct {
		addrs []string
		want  string
	}{
		{[]string{one}, "client: could not connect to " + one + " within 100ms: "},
		{two, "client: could not connect to any of " + two[0] + ", " + two[1] + " within 100ms: "},
	} {
		_, err := DialCluster(tc.addrs, 3, "s3", quick, 100*time.Millisecond)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("DialCluster(%v): %v, want %q and the refusal", tc.addrs, err, tc.want)
		}
	}
	_, err := DialCluster([]string{one, busyGateway(t).addr()}, 3, "s3", quick, 100*time.Millisecond)
	if err == nil || !strings.HasPrefix(err.Error(), "client: no leader took the logon within 100ms: ") {
		t.Errorf("a dead member and a busy one: %v, want no leader took the logon", err)
	}
}

// One address that takes connections but answers no logon — it closes
// them at once (EOF, or a cut TLS handshake), or says nothing until the
// logon's timeout: no ringex gateway, or one spoken to without its TLS —
// says so, naming it, with what happened: it said "no leader took the
// logon", of a port that answered nothing. So do several, each named —
// they said "no leader took the logon" still — and the others, where
// some took no connection. A member that answered, with a redirect to
// such a port here, is still a cluster whose leader did not take the
// logon.
func TestDialClusterAtAPortThatAnswersNoLogonSaysSo(t *testing.T) {
	closing, _ := refusingListener(t)
	silent := startGateway(t, func(*proto.Encoder, logon) [][]byte { return nil })
	follower := startGateway(t, func(e *proto.Encoder, _ logon) [][]byte { return one(e.Redirect(0, closing)) })
	dead := deadAddr(t)
	withTLS := Options{Timeout: 2 * time.Second, AutoFlush: true, TLS: &tls.Config{InsecureSkipVerify: true}}
	const itsPort, theirPorts = " (is it a ringex gateway port, with TLS if the node uses it?): ", " (are they ringex gateway ports, with TLS if the nodes use them?): "
	hungUp := func(err error) bool { return errors.Is(err, ErrHungUpAtLogon) }
	for _, tc := range []struct {
		name  string
		addrs []string
		opts  Options
		want  string
		is    func(error) bool
	}{
		{"closing", []string{closing}, quick, closing + " accepted the connection but answered no logon within 200ms" + itsPort, hungUp},
		{"tls cut", []string{closing}, withTLS, closing + " accepted the connection but answered no logon within 200ms" + itsPort,
			func(err error) bool { return !errors.Is(err, ErrHungUpAtLogon) }},
		{"silent", []string{silent.addr()}, quick, silent.addr() + " accepted the connection but answered no logon within 200ms" + itsPort, timedOut},
		{"two", []string{silent.addr(), closing}, quick, silent.addr() + ", " + closing + " accepted the connection but answered no logon within 200ms" + theirPorts, hungUp},
		{"one of two, the other dead", []string{dead, closing}, quick,
			closing + " accepted the connection but answered no logon within 200ms, and " + dead + " took none" + itsPort, hungUp},
		{"redirected", []string{follower.addr()}, quick, "no leader took the logon within 200ms: ", hungUp},
	} {
		_, err := DialCluster(tc.addrs, 3, "s3", tc.opts, 200*time.Millisecond)
		if err == nil || !strings.HasPrefix(err.Error(), "client: "+tc.want) || !tc.is(err) {
			t.Errorf("%s: %v, want %q and the attempt's error", tc.name, err, tc.want)
		}
	}
}

// A member redirecting to a leader that is gone (the leader died; its
// followers have not noticed yet) is an election under way: the logon's
// error says so, and DialCluster keeps the election's pace.
func TestRedirectToAGoneLeaderIsAnElection(t *testing.T) {
	dead := deadAddr(t)
	follower := startGateway(t, func(e *proto.Encoder, _ logon) [][]byte { return one(e.Redirect(0, dead)) })
	_, err := Dial(follower.addr(), 3, "s3", quick)
	if !errors.Is(err, errLeaderGone) {
		t.Fatalf("redirected to a dead address: %v, want errLeaderGone", err)
	}
	if _, err := Dial(dead, 3, "s3", quick); errors.Is(err, errLeaderGone) {
		t.Fatalf("a dead address dialled itself: %v, not errLeaderGone", err)
	}
}

// selfSignedTLS is a server config with a self-signed certificate for
// 127.0.0.1 (the client skips verifying it).
func selfSignedTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// A leader that is there but closes every connection before answering —
// at its limits, evicting connections mid-TLS-handshake or before their
// logon — is backed off from when followers redirect to it, as when it is
// dialled directly: only a redirect to an address that takes no
// connection (the leader died) keeps the election's pace. Before, any
// failure at the redirect's address was errLeaderGone, and a client
// redirected to such a leader dialled it every 10 ms.
func TestDialClusterBacksOffALeaderRedirectedToThatDoesNotAnswer(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		ln   func(net.Listener) net.Listener
	}{
		{"logon", quick, func(ln net.Listener) net.Listener { return ln }},
		{"tls", Options{Timeout: 2 * time.Second, AutoFlush: true, TLS: &tls.Config{InsecureSkipVerify: true}},
			func(ln net.Listener) net.Listener { return tls.NewListener(ln, selfSignedTLS(t)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leader, accepts := refusingListener(t)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			follower := startGatewayOn(t, tc.ln(ln), func(e *proto.Encoder, _ logon) [][]byte { return one(e.Redirect(0, leader)) })
			_, err = DialCluster([]string{follower.addr()}, 3, "s3", tc.opts, time.Second)
			// A slow machine makes fewer rounds, never more.
			if n := accepts.Load(); n > 12 {
				t.Fatalf("%d connections to the leader redirected to within a second, want at most 10 (backing off from 10 ms): %v", n, err)
			}
			if err == nil || errors.Is(err, errLeaderGone) {
				t.Fatalf("redirected to a leader closing every connection: %v, want a network error, not errLeaderGone", err)
			}
		})
	}
}
