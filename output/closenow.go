package output

import (
	"crypto/tls"
	"io"
	"net"
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
