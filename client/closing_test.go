package client

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testnode"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// streamClient reads stream as a connection's bytes from the node.
func streamClient(stream []byte) *Client {
	return &Client{fr: proto.NewFrameReader(bytes.NewReader(stream), 1<<12)}
}

// The node's Closing is not returned: the messages before it are, then
// the end of the connection comes as a ClosedError naming the cause,
// wrapping how the read ended.
func TestNextNamesTheCauseTheNodeGave(t *testing.T) {
	report := proto.Report{Kind: wire.ExecKindAccepted, Instrument: 2, OrderID: 1, Quantity: 1}
	c := streamClient(slices.Concat(enc().ExecutionReport(0, &report),
		enc().Closing(0, wire.ClosingCauseRateLimit, "more messages a second than gateway.disconnect_rate")))
	if m, err := c.Next(); err != nil || m.Type != wire.MessageExecutionReport {
		t.Fatalf("first: %+v, %v", m, err)
	}
	_, err := c.Next()
	ce, ok := errors.AsType[*ClosedError](err)
	if !ok || ce.Cause != wire.ClosingCauseRateLimit || !errors.Is(err, io.EOF) || ClosedBy(err) != "rate_limit" {
		t.Fatalf("the end: %v, want a ClosedError rate_limit wrapping EOF", err)
	}
	if want := "client: closed by the node: rate_limit (more messages a second than gateway.disconnect_rate): EOF"; err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	if ClosedBy(io.EOF) != "" {
		t.Fatal("ClosedBy named a cause for a plain EOF")
	}
}

// A client built before Closing (union member 27) knows 26 types: to
// it, a Closing is a type newer than itself, as one past today's newest
// is to this build. Next hands it over by its type, to be skipped, and
// the connection's end is the plain EOF it always was.
func TestAClientWithoutClosingSkipsIt(t *testing.T) {
	frame := bytes.Clone(enc().Closing(0, wire.ClosingCauseShutdown, "the node is stopping"))
	payload := frame[proto.PrefixSize:]
	root := int(binary.LittleEndian.Uint32(payload))
	vt := root - int(int32(binary.LittleEndian.Uint32(payload[root:])))
	newer := wire.Message(len(wire.EnumNamesMessage)) // one past the newest member this build knows
	payload[root+int(binary.LittleEndian.Uint16(payload[vt+6:]))] = byte(newer)
	c := streamClient(frame)
	if m, err := c.Next(); err != nil || m.Type != newer {
		t.Fatalf("a Closing to a client that does not know it: %+v, %v; want its type, to skip", m, err)
	}
	if _, err := c.Next(); err != io.EOF {
		t.Fatalf("after it: %v, want EOF", err)
	}
}

// A Closing that the node does not follow with the connection's end (a
// network that dies after it, half-open) leaves the client to its
// ReadTimeout: the error names both, what the node said and that nothing
// came after it for the timeout — the ClosedError wrapping the timeout's
// own error, not the bare deadline.
func TestAClosingThenATimeoutNamesBoth(t *testing.T) {
	near, far := net.Pipe()
	defer near.Close()
	defer far.Close()
	c := &Client{conn: near, fr: proto.NewFrameReader(near, 1<<12), readTimeout: 50 * time.Millisecond}
	go far.Write(enc().Closing(0, wire.ClosingCauseShutdown, "the node is stopping")) // and nothing after it
	_, err := c.Next()
	if ClosedBy(err) != "shutdown" || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the end: %v, want a ClosedError shutdown wrapping the deadline", err)
	}
	if !strings.Contains(err.Error(), "(the node is stopping): client: nothing heard for 50ms (ReadTimeout") {
		t.Fatalf("error %q: want the node's cause and the timeout's own message", err)
	}
}

// A client that ends its sending in the middle of a frame is cut by a
// real node as malformed, and told so: its half of the connection
// closed, it still reads the Closing, and the end of its reads names the
// cause. (A whole frame that is no message is rejected, not cut: only a
// frame the connection's end truncated is malformed to the gateway.)
func TestARealNodeCutsAHalfFrameAsMalformed(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	c, err := Dial(a.Gateway, 1, config.Default().Accounts[0].Secret, Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	frame := enc().Heartbeat(1)
	if err := c.SendRaw(frame[:len(frame)-1]); err != nil {
		t.Fatal(err)
	}
	if err := c.conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for err == nil {
		_, err = c.Next()
	}
	if ce, ok := errors.AsType[*ClosedError](err); !ok || ClosedBy(err) != "malformed" || !errors.Is(err, io.EOF) {
		t.Fatalf("the end: %v, want a ClosedError malformed wrapping EOF", err)
	} else if ce.Text != "the connection ended in the middle of a frame" {
		t.Fatalf("told %q", ce.Text)
	}
}
