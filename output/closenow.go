package output

import (
	"crypto/tls"
	"io"
	"net"
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

// EndReading shuts conn's read side (a TLS connection's, underneath), so
// that its reader ends at once while its outbox still writes what it
// holds and its last frame (Outbox.CloseSaying). A connection with no
// read side to shut (not TCP) is closed now, unsaid, and EndReading
// reports false.
func EndReading(conn net.Conn) bool {
	under := conn
	if tc, ok := conn.(*tls.Conn); ok {
		under = tc.NetConn()
	}
	if tcp, ok := under.(*net.TCPConn); ok && tcp.CloseRead() == nil {
		return true
	}
	CloseNow(conn)
	return false
}
