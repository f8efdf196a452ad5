package gateway

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A client that keeps sending while the node ends its session — as a
// bench's connection does at a leader's restart — reads every frame it
// was owed, then the Closing, then the end of the stream, over a real
// loopback connection. The node closed the connection with the client's
// last orders unread in its socket, and the kernel answered them with a
// reset: the frames still in the node's socket (the Closing among them)
// were dropped, and the client read "connection reset by peer". The
// client reads its bytes as they come and decodes them after, so that
// it reads all it is owed well within the outbox's close grace.
func TestClientStillSendingReadsEverythingThenTheEnd(t *testing.T) {
	for _, tc := range []struct {
		cause Cause
		tls   bool
		end   func(g *Gateway, session uint64)
	}{
		{CauseShutdown, false, func(g *Gateway, _ uint64) { go g.Close() }},
		{CauseShutdown, true, func(g *Gateway, _ uint64) { go g.Close() }},
		{CauseOperator, false, func(g *Gateway, session uint64) { g.CloseSession(session) }},
		{CauseNotLeader, false, func(g *Gateway, _ uint64) { g.DropSessions() }},
	} {
		name := tc.cause.String()
		if tc.tls {
			name += "/tls"
		}
		t.Run(name, func(t *testing.T) {
			g, _, conn := startAndDial(t, Config{}, tc.tls)
			enc := proto.NewEncoder()
			session := rawLogOn(t, conn)
			// Owed more than the loopback sockets hold, so that the node
			// still has some in its socket when it writes the Closing.
			const owed = 60000
			var frames []byte
			for i := range owed {
				frames = append(frames, enc.Heartbeat(uint64(i+1))...)
			}
			if err := g.Session(session).Out.Send(frames); err != nil {
				t.Fatal(err)
			}
			defer testkit.KeepSending(conn, enc.NewOrder(1, order(1)))()
			tc.end(g, session)
			rest, err := io.ReadAll(conn)
			if err != nil {
				t.Errorf("the connection ended with %v after %d bytes, want the end of the stream after the Closing", err, len(rest))
			}
			next := uint64(1)
			var last wire.Message
			fr := proto.NewFrameReader(bytes.NewReader(rest), 1<<20)
			for {
				payload, err := fr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("after %d frames owed: %v", next-1, err)
				}
				typ, pos, err := proto.Verify(payload)
				if err != nil {
					t.Fatal(err)
				}
				if last == wire.MessageClosing {
					t.Fatalf("a %v after the Closing", typ)
				}
				last = typ
				switch {
				case typ == wire.MessageHeartbeat && proto.Seq(payload) != 0: // 0: the outbox's own
					if proto.Seq(payload) != next {
						t.Fatalf("heartbeat %d read after %d", proto.Seq(payload), next-1)
					}
					next++
				case typ == wire.MessageClosing:
					if cause, _ := proto.ClosingAt(payload, pos); proto.ClosingCauseName(cause) != tc.cause.String() {
						t.Errorf("told %s, want %s", proto.ClosingCauseName(cause), tc.cause)
					}
				}
			}
			if next != owed+1 || last != wire.MessageClosing {
				t.Errorf("read %d of the %d frames owed, then a %v last; want them all, then the Closing", next-1, owed, last)
			}
		})
	}
}

// startAndDial starts a gateway with cfg — on TLS, with a self-signed
// certificate, when useTLS — and dials it, over TLS when useTLS: conn is
// closed when the test ends, and has 10 s to do all it does.
func startAndDial(t *testing.T, cfg Config, useTLS bool) (*Gateway, *fakeRing, net.Conn) {
	t.Helper()
	var pool *x509.CertPool
	if useTLS {
		var cert tls.Certificate
		cert, pool = selfSigned(t)
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	g, ring := startGateway(t, cfg)
	var conn net.Conn
	conn, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if useTLS {
		conn = tls.Client(conn, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return g, ring, conn
}

// rawLogOn logs on as account 1 over conn and returns the session id
// its LogonAck names, reading nothing after it.
func rawLogOn(t *testing.T, conn net.Conn) (session uint64) {
	t.Helper()
	if _, err := conn.Write(proto.NewEncoder().Logon(1, 1, "one")); err != nil {
		t.Fatal(err)
	}
	var prefix [proto.PrefixSize]byte
	if _, err := io.ReadFull(conn, prefix[:]); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, binary.LittleEndian.Uint32(prefix[:]))
	if _, err := io.ReadFull(conn, ack); err != nil {
		t.Fatal(err)
	}
	typ, pos, err := proto.Verify(ack)
	if err != nil || typ != wire.MessageLogonAck {
		t.Fatalf("logon answered %v (%v)", typ, err)
	}
	session, _, _ = proto.LogonAckAt(ack, pos)
	return session
}

// A session cut as a slow consumer while its client still sends — the
// Closing in the node's socket, the connection open until the client
// takes it (output's cutLinger) — reads no more of what its client
// sends: of the orders streamed after the cut, at most those of the one
// socket read under way are published (the cut's wake-up, a read
// deadline in the past, loses to data arriving with it). Its reader read
// on until the close, and published the orders of a session cut off,
// whose reports went nowhere. The client then reads what the socket
// took for it, the Closing, and the end of the stream.
func TestCutSessionReadsNoMoreOfItsClient(t *testing.T) {
	const limit = 2 << 20
	g, ring, conn := startAndDial(t, Config{SendBufferBytes: limit}, false)
	s := g.Session(rawLogOn(t, conn))
	// More than the client's socket takes unread, so that the node's
	// holds the rest, the Closing after it, when the cut comes.
	enc := proto.NewEncoder()
	var owed []byte
	for i := 0; len(owed) < 1<<20; i++ {
		owed = append(owed, enc.Heartbeat(uint64(i+1))...)
	}
	before := g.Counters.BytesOut.Load()
	if err := s.Out.Send(owed); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); g.Counters.BytesOut.Load()-before < int64(len(owed)); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the socket took %d of the %d bytes owed in 5 s", g.Counters.BytesOut.Load()-before, len(owed))
		}
	}
	if err := s.Out.Send(make([]byte, limit+1)); !errors.Is(err, output.ErrOverflow) {
		t.Fatalf("a frame over the send buffer: %v, want the cut", err)
	}
	orderFrame := bytes.Clone(enc.NewOrder(1, order(1)))
	defer testkit.KeepSending(conn, orderFrame)()
	awaitDisconnects(t, g, CauseSlowConsumer, 1)
	orders := 0
	for _, f := range ring.waitFor(t, 0) {
		if f.typ == wire.MessageNewOrder {
			orders++
		}
	}
	if most := 64 << 10 / len(orderFrame); orders > most {
		t.Errorf("%d orders its client sent after the cut were published, want at most %d (one socket read's)", orders, most)
	}
	testkit.ReadToClosing(t, conn, CauseSlowConsumer.String())
}

// A client that sends orders after its Logon without waiting for the
// answer — pipelined — and then reads, reads the answer to its Logon,
// then the end of the stream: a LogonReject (a wrong secret, a standby
// that knows no leader) or a standby's Redirect. The connection was
// closed with the orders unread, and the kernel answered them with a
// reset: the client read "connection reset by peer" after the answer
// (on loopback, where the answer is in its socket before the reset; a
// reset that overtakes it loses it).
func TestRefusedClientStillSendingReadsItsAnswerThenTheEnd(t *testing.T) {
	standby := func(leader string) func() (string, bool) { return func() (string, bool) { return leader, true } }
	for _, tc := range []struct {
		name   string
		cfg    Config
		secret string
		want   wire.Message
		tls    bool
	}{
		{"bad secret", Config{}, "wrong", wire.MessageLogonReject, false},
		{"bad secret/tls", Config{}, "wrong", wire.MessageLogonReject, true},
		{"standby", Config{Standby: standby("10.0.0.1:7400")}, "one", wire.MessageRedirect, false},
		{"standby without a leader", Config{Standby: standby("")}, "one", wire.MessageLogonReject, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, conn := startAndDial(t, tc.cfg, tc.tls)
			enc := proto.NewEncoder()
			// More than the node's socket takes unread: orders it never
			// reads before it answers.
			pipelined := append(enc.Logon(1, 1, tc.secret), bytes.Repeat(enc.NewOrder(1, order(1)), 4000)...)
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				conn.Write(pipelined)
			}()
			defer func() { conn.Close(); <-sent }()
			all, err := io.ReadAll(conn)
			if err != nil {
				t.Errorf("the connection ended with %v after %d bytes, want the end of the stream after the answer", err, len(all))
			}
			fr := proto.NewFrameReader(bytes.NewReader(all), 1<<20)
			payload, err := fr.Next()
			if err != nil {
				t.Fatalf("no answer to the Logon: %v", err)
			}
			if typ, _, err := proto.Verify(payload); err != nil || typ != tc.want {
				t.Fatalf("the Logon answered %v (%v), want %v", typ, err, tc.want)
			}
			if _, err := fr.Next(); err != io.EOF {
				t.Fatalf("after the answer: %v, want the end of the stream", err)
			}
		})
	}
}

// A refused client that keeps sending past its answer and never closes
// holds its slot for the lingering close's bound (RefusedLinger) at
// most: with every slot held so, a client with the right secret logs on
// once the linger ends.
func TestRefusedClientStillSendingHoldsItsSlotBriefly(t *testing.T) {
	const slots = 2
	g, _ := startGateway(t, Config{MaxConnections: slots})
	enc := proto.NewEncoder()
	for range slots {
		conn, err := net.Dial("tcp", g.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write(enc.Logon(1, 1, "wrong")); err != nil {
			t.Fatal(err)
		}
		defer testkit.KeepSending(conn, enc.NewOrder(1, order(1)))()
	}
	for deadline := time.Now().Add(5 * time.Second); g.Counters.Disconnects[CauseLogonFailed].Load() < slots; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d logons refused in 5 s, want %d", g.Counters.Disconnects[CauseLogonFailed].Load(), slots)
		}
	}
	awaitLogonAcked(t, g.Addr().String(), "127.0.0.1", 1, "one", "a client, every slot held by a refused client still sending,")
}
