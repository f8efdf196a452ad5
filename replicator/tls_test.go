package replicator

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

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
// address — and a member dialing from another address still gets in: a
// flood of them held a goroutine and a descriptor each for
// handshakeTimeout, without bound, until the node ran out of descriptors.
func TestTLSPendingHandshakesBounded(t *testing.T) {
	s, addr := silentHandshakeFlood(t, []string{"127.0.0.2"}, 400, maxPendingPerAddress)
	if held := s.pendingOf("127.0.0.2"); held != maxPendingPerAddress {
		t.Fatalf("%d handshakes under way for the flooding address, want %d", held, maxPendingPerAddress)
	}
	member, err := s.Dial(raft.ServerAddress(addr), 2*time.Second)
	if err != nil {
		t.Fatalf("a member dialing during the flood: %v", err)
	}
	member.Close()
}

// From more addresses than maxPendingHandshakes/maxPendingPerAddress,
// each within its own bound, the handshakes under way are still at most
// maxPendingHandshakes in all: the rest are closed at once.
func TestTLSPendingHandshakesBoundedInAll(t *testing.T) {
	var from []string
	for i := range maxPendingHandshakes/maxPendingPerAddress + 2 {
		from = append(from, fmt.Sprintf("127.0.0.%d", 2+i))
	}
	silentHandshakeFlood(t, from, maxPendingPerAddress, maxPendingHandshakes)
}

// silentHandshakeFlood opens a consensus port's TLS stream and, from
// each address of from, each connections that say nothing, and checks
// that held of them — no more — wait in their handshakes while the rest
// are refused at once. It returns the stream and its address.
func silentHandshakeFlood(t *testing.T, from []string, each, held int) (*tlsStream, string) {
	t.Helper()
	ca := testkit.NewCA(t, "cluster")
	cfg := mutualTLS(ca.Issue(t, "member"), ca.Pool)
	addr := testkit.ReserveAddrs(t, 1)[0]
	tcp, _ := net.ResolveTCPAddr("tcp", addr)
	s, err := newTLSStream(addr, tcp, cfg)
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
			c.Close()
		}
	}()
	flood := len(from) * each
	// Each flooding connection is watched for the close of a refusal: a
	// read that ends in EOF, not in its deadline (the handshakes admitted
	// wait handshakeTimeout for a ClientHello that never comes).
	var refused atomic.Int32
	for _, ip := range from {
		flooder := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		for range each {
			c, err := flooder.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			c.SetReadDeadline(time.Now().Add(handshakeTimeout / 2))
			go func() {
				if _, err := c.Read(make([]byte, 1)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
					refused.Add(1)
				}
			}()
		}
	}
	// Polled, not slept on: every connection has been accepted and either
	// refused or admitted once all but the admitted ones are closed.
	for deadline := time.Now().Add(handshakeTimeout / 2); refused.Load() < int32(flood-held); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("of %d silent connections from %d addresses, %d were refused; want all but %d", flood, len(from), refused.Load(), held)
		}
	}
	s.mu.Lock()
	inAll := len(s.pending)
	s.mu.Unlock()
	if inAll != held || refused.Load() != int32(flood-held) {
		t.Fatalf("%d silent connections from %d addresses: %d handshakes under way, %d refused; want %d held and the rest refused",
			flood, len(from), inAll, refused.Load(), held)
	}
	return s, addr
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
	s, err := newTLSStream(addr, tcp, mutualTLS(ca.Issue(t, "member"), ca.Pool))
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
