package replicator

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
)

// Over mutual TLS the members replicate; a member whose certificate
// another CA signed is shut out: it receives nothing and cannot vote.
func TestMutualTLS(t *testing.T) {
	ca, rogue := testkit.NewCA(t, "cluster"), testkit.NewCA(t, "rogue")
	ms := startMembers(t, 3, func(i int) *tls.Config {
		if i == 2 {
			return mutualTLS(rogue.Issue(t, "member 3"), ca.Pool) // trusts the CA, has a foreign cert
		}
		return mutualTLS(ca.Issue(t, "member"), ca.Pool)
	})
	l := waitLeader(t, ms[:2], nil)
	for i := range 5 {
		if err := propose(l, int64(i+1), 1); err != nil {
			t.Fatal(err)
		}
	}
	other := ms[0]
	if other == l {
		other = ms[1]
	}
	deadline := time.Now().Add(5 * time.Second)
	for other.r.Applied() < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("the other member applied %d of 5 inputs over TLS", other.r.Applied())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if got := ms[2].delivered(); len(got) != 0 || ms[2].r.Applied() != 0 || ms[2].r.Ready() {
		t.Fatalf("the member with a foreign certificate got inputs %v", got)
	}
}

// MutualTLS loads PEM files and refuses a CA file without a certificate.
func TestMutualTLSFiles(t *testing.T) {
	ca := testkit.NewCA(t, "cluster")
	certFile, keyFile, caFile := ca.WriteFiles(t, t.TempDir(), ca.Issue(t, "member"))
	if _, err := MutualTLS(certFile, keyFile, caFile); err != nil {
		t.Fatal(err)
	}
	if _, err := MutualTLS(certFile, keyFile, keyFile); err == nil {
		t.Fatal("a CA file with no certificate was accepted")
	}
}

// A connection to the consensus port that never finishes its TLS
// handshake is closed after handshakeTimeout, and holds up no member
// meanwhile: the cluster elects a leader and replicates while it waits.
func TestTLSHandshakeBounded(t *testing.T) {
	ca := testkit.NewCA(t, "cluster")
	ms := startMembers(t, 3, func(int) *tls.Config { return mutualTLS(ca.Issue(t, "member"), ca.Pool) })
	var silent []net.Conn
	for _, m := range ms { // connect to every member and say nothing
		c, err := net.Dial("tcp", string(m.r.trans.LocalAddr()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	l := waitLeader(t, ms, nil)
	if err := propose(l, 1, 3); err != nil {
		t.Fatal(err)
	}
	for _, c := range silent {
		c.SetReadDeadline(time.Now().Add(handshakeTimeout + 5*time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("a connection that never handshook: read %v; want it closed by the member", err)
		}
	}
}

// Connections that never handshake are bounded — in all and from any one
// address — counted and logged, and a member dialing from another
// address still gets in: a flood of them held a goroutine and a
// descriptor each for handshakeTimeout, without bound, until the node
// ran out of descriptors. Before, the refusals were closed unsaid: no
// count moved, and RingexRaftPortRefused did not fire.
func TestTLSPendingHandshakesBounded(t *testing.T) {
	var log testkit.SyncBuffer
	bounds := testHandshakeBounds(zerolog.New(&log))
	const flood = 400
	s, addr := silentHandshakeFlood(t, bounds, []string{"127.0.0.2"}, flood, bounds.perAddress)
	if held := s.pendingOf("127.0.0.2"); held != bounds.perAddress {
		t.Fatalf("%d handshakes under way for the flooding address, want %d", held, bounds.perAddress)
	}
	if got, full := s.refusedAddress.Load(), s.refused.Load(); got != flood-uint64(bounds.perAddress) || full != 0 {
		t.Fatalf("refused counted: %d over the address's bound, %d over the bound in all; want %d and 0", got, full, flood-bounds.perAddress)
	}
	if lines := strings.Count(log.String(), "TLS handshakes from the address"); lines != 1 {
		t.Fatalf("%d lines about the refusals, want 1 (the rest held back):\n%s", lines, log.String())
	}
	memberGetsIn(t, addr, "127.0.0.1")
}

// From more addresses than the bound in all over the one per address,
// each within its own bound, the handshakes under way are still at most
// the bound in all: the rest are closed at once, and counted.
func TestTLSPendingHandshakesBoundedInAll(t *testing.T) {
	bounds := testHandshakeBounds(zerolog.Nop())
	var from []string
	for i := range bounds.max/bounds.perAddress + 2 {
		from = append(from, fmt.Sprintf("127.0.0.%d", 2+i))
	}
	s, _ := silentHandshakeFlood(t, bounds, from, bounds.perAddress, bounds.max)
	if got, want := s.refused.Load(), uint64(len(from)*bounds.perAddress-bounds.max); got != want || s.refusedAddress.Load() != 0 {
		t.Fatalf("refused counted: %d over the bound in all, %d over the address's; want %d and 0", got, s.refusedAddress.Load(), want)
	}
}

// Members behind one address — a NAT, one host running several, a
// member restarting whose old process's handshakes are still under way
// — dial as many connections at once as the port holds from it: a
// member's handshake is taken while the others' from its address are
// under way, up to connsPerPeer for each other member. Before, the
// bound per address was a fixed 8: the ninth handshake under way from
// the address was closed at once, and the member waited for raft's
// backoff to dial again.
func TestTLSMembersBehindOneAddressGetIn(t *testing.T) {
	bounds := testHandshakeBounds(zerolog.Nop())
	const behind = "127.0.0.3"
	// The others' handshakes under way: all but one of the address's
	// bound, none refused.
	s, addr := silentHandshakeFlood(t, bounds, []string{behind}, bounds.perAddress-1, bounds.perAddress-1)
	memberGetsIn(t, addr, behind)
	if got := s.refusedAddress.Load() + s.refused.Load(); got != 0 {
		t.Fatalf("%d connections refused, want none", got)
	}
	if bounds.perAddress <= 8 {
		t.Fatalf("a member of three takes %d handshakes from one address, the fixed bound it replaces was 8", bounds.perAddress)
	}
}

// testHandshakeBounds are a member of three's handshake bounds, logging
// to log, with a handshake's bound a minute: a flood's connections the
// stream admits are held through the test.
func testHandshakeBounds(log zerolog.Logger) handshakeBounds {
	b := handshakeBoundsFor(3, log)
	b.timeout = time.Minute
	return b
}

// memberGetsIn fails t unless a member dialing the TLS stream at addr
// from the address from is taken: it reads the byte the stream's
// taker (silentHandshakeFlood) writes on each connection it accepts.
func memberGetsIn(t *testing.T, addr, from string) {
	t.Helper()
	ca := testkit.NewCA(t, "member")
	cfg := mutualTLS(ca.Issue(t, "member"), ca.Pool)
	cfg.VerifyPeerCertificate = nil // the stream's CA is another: this side checks nothing
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("a member dialing from %s: %v", from, err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatalf("a member dialing from %s was not taken: %v", from, err)
	}
}

// silentHandshakeFlood opens a consensus port's TLS stream held to
// bounds and, from each address of from, each connections that say
// nothing, and checks that held of them — no more — wait in their
// handshakes while the rest are refused at once. It returns the stream
// and its address. Each connection the stream hands over is written a
// byte and closed.
func silentHandshakeFlood(t *testing.T, bounds handshakeBounds, from []string, each, held int) (*tlsStream, string) {
	t.Helper()
	ca := testkit.NewCA(t, "cluster")
	cfg := mutualTLS(ca.Issue(t, "member"), ca.Pool)
	cfg.VerifyPeerCertificate = nil // memberGetsIn's CA is another
	addr := testkit.ReserveAddrs(t, 1)[0]
	tcp, _ := net.ResolveTCPAddr("tcp", addr)
	s, err := newTLSStream(addr, tcp, cfg, bounds)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	go func() { // what the transport does with handshaken connections
		for {
			c, err := s.Accept()
			if err != nil {
				return
			}
			c.Write([]byte{1})
			c.Close()
		}
	}()
	flood := len(from) * each
	// Each flooding connection is watched for the close of a refusal: a
	// read that ends in EOF, not in its deadline (the handshakes admitted
	// wait bounds.timeout for a ClientHello that never comes).
	var refused atomic.Int32
	for _, ip := range from {
		flooder := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		for range each {
			c, err := flooder.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			c.SetReadDeadline(time.Now().Add(bounds.timeout))
			go func() {
				if _, err := c.Read(make([]byte, 1)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, net.ErrClosed) {
					refused.Add(1)
				}
			}()
		}
	}
	// Polled, not slept on: every connection has been accepted and either
	// refused or admitted once all but the admitted ones are closed, and
	// the admitted ones are under way.
	for deadline := time.Now().Add(10 * time.Second); refused.Load() < int32(flood-held) || s.pendingInAll() < held; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("of %d silent connections from %d addresses, %d were refused and %d are under way; want all but %d refused", flood, len(from), refused.Load(), s.pendingInAll(), held)
		}
	}
	if inAll := s.pendingInAll(); inAll != held || refused.Load() != int32(flood-held) {
		t.Fatalf("%d silent connections from %d addresses: %d handshakes under way, %d refused; want %d held and the rest refused",
			flood, len(from), inAll, refused.Load(), held)
	}
	return s, addr
}

// pendingInAll is how many handshakes are under way.
func (s *tlsStream) pendingInAll() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// pendingOf is how many handshakes from ip are under way.
func (s *tlsStream) pendingOf(ip string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pendingBy[ip]
}

type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

// Handshake slots count per IPv4 address and per IPv6 /64: a host given a
// /64 cannot take a fresh address for every connection.
func TestHandshakeSlotsPerHost(t *testing.T) {
	ip := func(s string) string {
		return remoteIP(addrConn{remote: &net.TCPAddr{IP: net.ParseIP(s), Port: 5000}})
	}
	if a, b := ip("2001:db8:1:2::1"), ip("2001:db8:1:2:ffff::9"); a != b {
		t.Errorf("one /64 counted as two hosts: %s, %s", a, b)
	}
	if a, b := ip("2001:db8:1:2::1"), ip("2001:db8:1:3::1"); a == b {
		t.Errorf("two /64s counted as one host: %s", a)
	}
	if a, b := ip("10.0.0.1"), ip("::ffff:10.0.0.1"); a != b || a != "10.0.0.1" {
		t.Errorf("an IPv4 address and its mapped form: %s, %s", a, b)
	}
}

// Every connection to the consensus port proves its peer's certificate:
// none resumes an earlier TLS session. On a resumed session neither side
// sees a certificate (VerifyPeerCertificate is not called, and under
// RequireAnyClientCert nothing checks its expiry), so a peer that kept a
// ticket from one connection — a former member, its certificate expired
// since — got its next connections taken presenting no certificate at
// all. Members never resume (raft dials with no session cache).
func TestConsensusPortTakesNoResumedSession(t *testing.T) {
	ca := testkit.NewCA(t, "cluster")
	addr := testkit.ReserveAddrs(t, 1)[0]
	tcp, _ := net.ResolveTCPAddr("tcp", addr)
	s, err := newTLSStream(addr, tcp, mutualTLS(ca.Issue(t, "member"), ca.Pool), handshakeBoundsFor(3, zerolog.Nop()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	go func() { // each connection taken says so with a byte
		for {
			c, err := s.Accept()
			if err != nil {
				return
			}
			go func() {
				c.Write([]byte{1})
				io.Copy(io.Discard, c) // until the peer hangs up
				c.Close()
			}()
		}
	}()
	peer := mutualTLS(ca.Issue(t, "former member"), ca.Pool)
	peer.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	first, err := tls.Dial("tcp", addr, peer)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	first.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := first.Read(make([]byte, 1)); err != nil { // and any session ticket before the byte
		t.Fatalf("a peer with the cluster CA's certificate: %v", err)
	}
	bare := peer.Clone() // the same session cache
	bare.Certificates = nil
	second, err := tls.Dial("tcp", addr, bare)
	if err != nil {
		return // refused in the handshake
	}
	defer second.Close()
	second.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = second.Read(make([]byte, 1))
	switch {
	case err == nil:
		t.Fatalf("a connection presenting no certificate was taken (resumed session: %t)", second.ConnectionState().DidResume)
	case errors.Is(err, os.ErrDeadlineExceeded):
		t.Fatal("a connection presenting no certificate was neither taken nor refused within 5 s")
	}
}

// A connection that finishes no TLS handshake within its bound is closed
// and counted silent (RaftPortCut), as the port counts one that sends
// no first request. Before, it was closed unsaid.
func TestTLSHandshakeTimedOutIsCounted(t *testing.T) {
	ca := testkit.NewCA(t, "cluster")
	addr := testkit.ReserveAddrs(t, 1)[0]
	tcp, _ := net.ResolveTCPAddr("tcp", addr)
	bounds := handshakeBoundsFor(3, zerolog.Nop())
	bounds.timeout = 100 * time.Millisecond
	s, err := newTLSStream(addr, tcp, mutualTLS(ca.Issue(t, "member"), ca.Pool), bounds)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	silent := testkit.DialFrom(t, addr, "127.0.0.2")
	closedByMember(t, silent, "a connection that sent no ClientHello")
	if got := s.silent.Load(); got != 1 {
		t.Fatalf("%d handshakes counted timed out, want 1", got)
	}
}
