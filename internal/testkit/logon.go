package testkit

import (
	"net"
	"testing"
	"time"

	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// LogonFrom logs on to the order-entry port gw from the local address
// from (any 127/8 address is loopback on Linux; the client library
// cannot choose its address) and returns the port's answer — LogonAck,
// or the LogonReject's reason — and the connection, left open until the
// test ends: a session acknowledged goes on, one refused is read to its
// end. It fails the test on no answer within 5 s.
func LogonFrom(t testing.TB, gw, from string, account uint32, secret string) (acked bool, why wire.LogonRejectReason, conn net.Conn) {
	t.Helper()
	conn = DialFrom(t, gw, from)
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write(proto.NewEncoder().Logon(1, account, secret)); err != nil {
		t.Fatal(err)
	}
	payload, err := proto.NewFrameReader(conn, 4096).Next()
	if err != nil {
		t.Fatalf("logon %d from %s: %v", account, from, err)
	}
	conn.SetDeadline(time.Time{})
	typ, pos, err := proto.Verify(payload)
	switch {
	case err != nil:
		t.Fatalf("logon %d from %s: answer %v", account, from, err)
	case typ == wire.MessageLogonAck:
		return true, wire.LogonRejectReasonNone, conn
	case typ == wire.MessageLogonReject:
		return false, proto.LogonRejectAt(payload, pos), conn
	}
	t.Fatalf("logon %d from %s: answered %v", account, from, typ)
	return false, 0, conn
}
