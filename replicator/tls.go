package replicator

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
)

// MutualTLS builds the consensus transport's TLS config from PEM files:
// this member's certificate and key, and the CA that signed every
// member's certificate. Both ends of every connection must present a
// certificate that CA signed; host names are not checked — membership is
// "signed by the cluster's CA", addresses come from the peers list.
func MutualTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("replicator: tls: %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("replicator: tls: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("replicator: tls: no certificate in %s", caFile)
	}
	return mutualTLS(cert, pool), nil
}

func mutualTLS(cert tls.Certificate, ca *x509.CertPool) *tls.Config {
	verify := func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("replicator: tls: peer sent no certificate")
		}
		leaf, err := x509.ParseCertificate(raw[0])
		if err != nil {
			return err
		}
		inter := x509.NewCertPool()
		for _, r := range raw[1:] {
			if c, err := x509.ParseCertificate(r); err == nil {
				inter.AddCert(c)
			}
		}
		_, err = leaf.Verify(x509.VerifyOptions{Roots: ca, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		return err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS13,
		// The chain is checked by verify on both sides (no host names).
		ClientAuth:            tls.RequireAnyClientCert,
		InsecureSkipVerify:    true,
		VerifyPeerCertificate: verify,
		// Every connection proves its certificate: a resumed session
		// shows none and verify is not called on it, so a ticket kept
		// from one connection let a peer in on the next with no
		// certificate, or with one expired since. Members dial with no
		// session cache: they never resumed, and lose nothing.
		SessionTicketsDisabled: true,
	}
}

// tlsStream is raft's stream layer over mutual TLS. Raft serves each
// accepted connection with no read deadline (members keep theirs open and
// idle between RPCs), so a connection that never finishes its handshake
// would hold a goroutine and a descriptor for good, and a handshake done
// in Accept would hold up every member behind it. Each handshake runs on
// its own goroutine, bounded by handshakeTimeout; Accept returns only
// connections whose peer proved its certificate.
type tlsStream struct {
	ln        net.Listener // TCP
	advertise net.Addr
	cfg       *tls.Config
	bounds    handshakeBounds
	ready     chan net.Conn // handshaken
	pending   chan struct{} // a slot per handshake under way
	mu        sync.Mutex
	pendingBy map[string]int // handshakes under way by remote IP
	closed    chan struct{}
	closeOnce sync.Once
	// refused: connections closed at once over bounds.max, refusedAddress
	// over bounds.perAddress; silent: closed for no handshake within
	// bounds.timeout — since the start, counted with the port's own
	// (RaftPortRefused, RaftPortCut). over holds back repeats of the
	// lines about the refusals.
	refused        atomic.Uint64
	refusedAddress atomic.Uint64
	silent         atomic.Uint64
	over           raftRepeats
}

// handshakeTimeout bounds a consensus peer's TLS handshake, and
// maxPendingHandshakes how many run at once (more in a cluster of four
// members or more: handshakeBoundsFor). Without the bounds each silent
// connection held a goroutine and a descriptor for the timeout, and a
// flood of them ran the node out of descriptors.
const (
	handshakeTimeout     = 5 * time.Second
	maxPendingHandshakes = 64
)

// handshakeBounds are the bounds a member's TLS stream holds handshakes
// under way to: each within timeout, at most max at once and perAddress
// from one remote address (remoteIP); the rest are connections nobody
// vouched for, closed at once (and logged to log at warn, once per
// raftRepeatEvery at most for each bound).
type handshakeBounds struct {
	timeout         time.Duration
	max, perAddress int
	log             zerolog.Logger
}

// handshakeBoundsFor are the handshake bounds of a member of a cluster
// of peers members: from one address as many as the port holds
// connections from it (portBounds: connsPerPeer for each other member,
// who may all share it — a NAT, one host running several), and in all
// maxPendingHandshakes or room for one address at its bound and every
// other member besides. A handshake is a connection the port holds
// next; a member dials one for each call beyond its pool's idle ones,
// and a member restarting has its old process's handshakes under way
// beside its new one's until the peer's reset or handshakeTimeout.
// The bound per address was a fixed 8: members behind one address
// were refused while dialling together — a restart, an election — and
// waited for raft's backoff. Without the one per address, one host
// holding every slot kept the members out.
func handshakeBoundsFor(peers int, log zerolog.Logger) handshakeBounds {
	perAddress, _ := portBounds(peers)
	return handshakeBounds{timeout: handshakeTimeout, max: max(maxPendingHandshakes, 2*perAddress), perAddress: perAddress, log: log}
}

func newTLSStream(listen string, advertise net.Addr, cfg *tls.Config, bounds handshakeBounds) (*tlsStream, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	s := &tlsStream{ln: ln, advertise: advertise, cfg: cfg, bounds: bounds, ready: make(chan net.Conn), closed: make(chan struct{}),
		pending: make(chan struct{}, bounds.max), pendingBy: map[string]int{}}
	go s.acceptLoop()
	return s, nil
}

// acceptLoop accepts until the listener closes. Other Accept errors
// (EMFILE, an aborted connection) pass: it backs off and goes on, as
// raft's own accept loop does.
func (s *tlsStream) acceptLoop() {
	backoff := 5 * time.Millisecond
	for {
		raw, err := s.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			s.Close()
			return
		}
		if err != nil {
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		if fromAddress, ok := s.admit(raw); !ok {
			raw.Close() // too many handshakes under way
			s.noteRefused(raw, fromAddress)
			continue
		}
		go s.handshake(raw)
	}
}

// admit takes a handshake slot for raw, globally and for its IP; it
// returns how many handshakes from raw's IP were under way before.
func (s *tlsStream) admit(raw net.Conn) (fromAddress int, ok bool) {
	ip := remoteIP(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	fromAddress = s.pendingBy[ip]
	if fromAddress >= s.bounds.perAddress {
		return fromAddress, false
	}
	select {
	case s.pending <- struct{}{}:
	default:
		return fromAddress, false
	}
	s.pendingBy[ip]++
	return fromAddress, true
}

// noteRefused counts raw, closed over a bound — bounds.perAddress when
// fromAddress reached it, else bounds.max — and logs it at warn, its
// repeats held back as the port's own refusals' (boundedStream).
// Before, a refused handshake was closed unsaid: a flood of silent
// connections showed in no count, and no alert.
func (s *tlsStream) noteRefused(raw net.Conn, fromAddress int) {
	counter, key, why := &s.refused, "handshakes over the bound", "as many TLS handshakes are under way as may be (maxPendingHandshakes); a peer's connection is refused too until some end"
	if fromAddress >= s.bounds.perAddress {
		counter, key, why = &s.refusedAddress, "handshakes over the address's bound", "as many TLS handshakes from the address are under way as may be (connsPerPeer for each other member)"
	}
	total := counter.Add(1)
	ok, heldBack := s.over.allow(key, time.Now())
	if !ok {
		return
	}
	e := s.bounds.log.Warn().Str("remote", raw.RemoteAddr().String()).Int("handshakes_from_address", fromAddress).Uint64("refused_since_start", total)
	if heldBack > 0 {
		e = e.Int("held_back", heldBack) // refusals since the last logged
	}
	e.Msg("replicator: closed a connection to the raft port at once: " + why)
}

// release gives back raw's handshake slots.
func (s *tlsStream) release(raw net.Conn) {
	ip := remoteIP(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	<-s.pending
	if s.pendingBy[ip]--; s.pendingBy[ip] <= 0 {
		delete(s.pendingBy, ip)
	}
}

// remoteIP is what a connection's handshakes count against: its IPv4
// address, or the /64 of its IPv6 one (a host usually has a whole /64,
// and could take a fresh address for every connection).
func remoteIP(c net.Conn) string {
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return a.String()
}

func (s *tlsStream) handshake(raw net.Conn) {
	c := tls.Server(raw, s.cfg)
	c.SetDeadline(time.Now().Add(s.bounds.timeout))
	err := c.Handshake()
	s.release(raw)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			s.silent.Add(1) // held its slot for the whole bound
		}
		c.Close()
		return
	}
	c.SetDeadline(time.Time{})
	select {
	case s.ready <- c:
	case <-s.closed:
		c.Close()
	}
}

// Accept returns the next connection that completed its handshake.
func (s *tlsStream) Accept() (net.Conn, error) {
	select {
	case c := <-s.ready:
		return c, nil
	case <-s.closed:
		return nil, net.ErrClosed
	}
}

// Close stops accepting; connections already accepted stay open (the
// transport's boundedStream closes those raft took).
func (s *tlsStream) Close() error {
	err := net.ErrClosed
	s.closeOnce.Do(func() {
		err = s.ln.Close()
		close(s.closed)
	})
	return err
}

func (s *tlsStream) Addr() net.Addr { return s.advertise }

func (s *tlsStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", string(addr), s.cfg)
}
