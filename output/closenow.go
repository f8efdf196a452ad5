package output

import (
	"crypto/tls"
	"io"
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
