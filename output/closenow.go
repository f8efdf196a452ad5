package output

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"time"
)

// CloseNow closes a connection without a TLS close_notify. tls.Conn's
// Close sends one, with a 5 s write deadline, unless a write is under way:
// to a peer that stopped reading it blocks that long — on the execution
// sender, every report waited; under the gateway's lock, every logon. A
// connection dropped for misbehaving, a failover or a shutdown is not
// owed the courtesy.
func CloseNow(c io.Closer) error {
	if tc, ok := c.(*tls.Conn); ok {
		return tc.NetConn().Close()
	}
	return c.Close()
}

// CloseBy closes c by end at the latest, a TLS connection's close_notify
// included when the peer takes it by then: tls.Conn's Close writes it
// under a 5 s write deadline of its own, which a peer that stopped
// reading (its socket buffer full) held for all of it. At end the
// connection underneath is closed, ending that write, and the peer gets
// no close_notify, as with CloseNow — at once when end has passed. Other
// connections are closed at once.
func CloseBy(c io.Closer, end time.Time) error {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return c.Close()
	}
	wait := time.Until(end)
	if wait <= 0 {
		return CloseNow(c)
	}
	t := time.AfterFunc(wait, func() { tc.NetConn().Close() })
	defer t.Stop()
	return tc.Close()
}

// CloseLingering closes c after its client has had its chance to read
// all that was written to it, by end at the latest: it half-closes c
// (a TLS connection's close_notify, then the TCP FIN), reads and drops
// what the client still sends, then closes c — once the client ends its
// side, or nothing came from it for lingerQuiet and its socket has
// taken everything written to it (unacked), or at end. A socket closed
// with bytes of its client's unread answers them with a reset, and the
// kernel drops what it still held for the client — the frames written
// last, the Closing among them — and the client reads "connection reset
// by peer": a client sending orders as the node ended its session lost
// them. A pause alone does not end it: with a pause of 250 ms ending it,
// a client reading what the socket still held lost the rest to a reset
// in 1 run of 60 on the loaded test machine. Where the socket cannot be
// asked (not Linux) a client that neither sends nor ends its side holds
// its connection to end, as one that does not read always did. Other
// connections, or an end passed, are closed as CloseBy closes them.
// Nothing else may read c meanwhile: the bytes it drops would be split
// with that reader. The outbox's writer calls it once the connection's
// reader has been ended (EndReading); the gateway's reader, for a
// connection it refuses, calls it itself. The read deadlines it sets
// replace EndReading's: a reader woken by EndReading that has not run
// by then reads once more, as one whose wake-up lost to arriving data
// does. That is allowed, not fixed: both ports' readers ask for the
// node's end before every frame (the gateway's endedByNode, the
// market-data port's firstEnd), so such a reader acts on one frame at
// most, whole or torn by the split (then garbage, taken as any
// client's garbage is), and then stops.
// Keeping EndReading's deadline would need this to wait for the reader
// to leave, which the outbox cannot see.
func CloseLingering(c io.Closer, end time.Time) error {
	under := c
	tc, isTLS := c.(*tls.Conn)
	if isTLS {
		under = tc.NetConn()
	}
	tcp, ok := under.(*net.TCPConn)
	wait := time.Until(end)
	if !ok || wait <= 0 {
		return CloseBy(c, end)
	}
	// Ends, at end, a close_notify the client does not take (tls.Conn
	// waits 5 s for it).
	t := time.AfterFunc(wait, func() { tcp.Close() })
	defer t.Stop()
	if isTLS {
		tc.CloseWrite() // fails, sending nothing, before the handshake ended
	}
	if tcp.CloseWrite() == nil {
		buf := make([]byte, 4<<10)
		for {
			tcp.SetReadDeadline(minTime(end, time.Now().Add(lingerQuiet)))
			_, err := tcp.Read(buf)
			if err == nil {
				continue
			}
			if !errors.Is(err, os.ErrDeadlineExceeded) || !time.Now().Before(end) || unacked(tcp) == 0 {
				break
			}
		}
	}
	return tcp.Close()
}

// closeTaken closes c once its client has taken all that was written to
// it — its socket holds nothing unacknowledged (unacked) — or at end,
// reading nothing of it: the connection's reader may still be reading.
// The TCP write side is shut first (a TLS connection's under the TLS
// layer, without a close_notify, as CloseNow), so the client reads the
// end of the stream after the last frame. Closed with bytes of its
// client's unread, a socket answers them with a reset and drops what it
// still held for the client; once the client's socket has taken it
// all, the reset loses none of it (the client reads what its socket
// holds, then the end). Polled: the kernel tells nobody when the peer
// acknowledges. Where the socket cannot be asked (not Linux), or c is
// no TCP connection, it is closed at once, as CloseNow closes it.
func closeTaken(c io.Closer, end time.Time) error {
	under := c
	if tc, ok := c.(*tls.Conn); ok {
		under = tc.NetConn()
	}
	if tcp, ok := under.(*net.TCPConn); ok && tcp.CloseWrite() == nil {
		for wait := time.Millisecond; unacked(tcp) > 0 && time.Now().Before(end); wait = min(2*wait, takenPoll) {
			time.Sleep(min(wait, time.Until(end)))
		}
	}
	return CloseNow(c)
}

// takenPoll is the longest closeTaken sleeps between two looks at what
// its client has not yet taken (the first after 1 ms, each after twice
// the one before).
const takenPoll = 10 * time.Millisecond

// lingerQuiet is how long CloseLingering waits for more of a client
// whose socket has taken all that was written to it: a client still
// sending sends on without such a pause, and an idle one that keeps its
// connection open holds a shutdown no longer than this (it held it for
// the rest of the grace, a second, waiting for the client's end).
const lingerQuiet = 50 * time.Millisecond

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// EndReading ends conn's reader now — a read deadline in the past (a TLS
// connection's, underneath) — while its outbox still writes what it
// holds and its last frame (Outbox.CloseSaying). Its read side is not
// shut: a socket shut both ways, the read side here and the write side
// by the outbox's lingering close (CloseLingering), answers the next
// byte its client sends with a reset. A reader that sets a read
// deadline of its own must look for its end after it, or it waits that
// deadline out. A connection that is not TCP is closed now, unsaid, and
// EndReading reports false.
func EndReading(conn net.Conn) bool {
	under := conn
	if tc, ok := conn.(*tls.Conn); ok {
		under = tc.NetConn()
	}
	if _, ok := under.(*net.TCPConn); ok && conn.SetReadDeadline(aLongTimeAgo) == nil {
		return true
	}
	CloseNow(conn)
	return false
}
