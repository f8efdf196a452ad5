package gateway

import (
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A client that takes nothing written to it for its stall time
// (gateway.read_timeout) is cut as a slow consumer, and reads, after the
// reports written before, the Closing that says so, last: its session's
// outbox watches the write under way (Watch), the cut ends that write,
// and the stall's Closing (the gateway's cuts) follows on a stream left
// whole. Counted slow_consumer.
//
// The client's socket is not what stalls here, because a socket cannot
// show it: a write stalls on a client that stopped reading only once its
// receive buffer and the server's send buffer are full, and full they
// take nothing within cutWait — the Closing waits for a read the client
// does not make, and a client that reads later gets what was queued and
// the end, untold (SayWhenCut: "rarely gets it"). So the server's end of
// the connection (stallingConn) takes nothing while the test stalls it,
// as a full socket does, and takes writes again from the cut on, as the
// socket of a client that read again just then would: the nearest to the
// wire at which the stall's Closing can be seen. Everything else — the
// gateway, its session, the TCP connection to a real client — is as in
// production.
func TestStalledClientToldWhyLast(t *testing.T) {
	const timeout = 500 * time.Millisecond
	sc := newStallingConn()
	g, _ := startGatewayWrapping(t, Config{HeartbeatTimeout: timeout}, func(c net.Conn) net.Conn { sc.Conn = c; return sc })
	c, s := logOnSession(t, g) // its LogonAck went through
	enc := proto.NewEncoder()
	report := func(id uint64) []byte {
		return enc.ExecutionReport(id, &proto.Report{Kind: wire.ExecKindAccepted, Account: 1, OrderID: id, Quantity: 10})
	}
	before := sc.took.Load()
	sent := 0
	for id := uint64(1); id <= 3; id++ {
		fr := report(id)
		sent += len(fr)
		if err := s.Out.Send(fr); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); sc.took.Load() < before+int64(sent); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the connection took %d bytes of the reports' %d in 5 s", sc.took.Load()-before, sent)
		}
	}
	sc.stall()
	if err := s.Out.Send(report(4)); err != nil {
		t.Fatal(err)
	}
	// The client sends heartbeats meanwhile: its session's read timeout,
	// the stall time too, must not end it first.
	var beats sync.WaitGroup
	beats.Go(func() {
		for {
			select {
			case <-sc.cut:
				return
			case <-time.After(timeout / 10):
				if c.Heartbeat() != nil {
					return
				}
			}
		}
	})
	select {
	case <-sc.cut:
	case <-time.After(10 * time.Second):
		t.Fatalf("a client that took nothing for 10 s was not cut (its stall time %v)", timeout)
	}
	beats.Wait()
	var orders []uint64
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	err := testkit.EachReport(c, func(r proto.Report) { orders = append(orders, r.OrderID) })
	ce, ok := errors.AsType[*client.ClosedError](err)
	if !ok || ce.Cause != wire.ClosingCauseSlowConsumer || !strings.HasSuffix(ce.Text, "it took nothing written to it for gateway.read_timeout (500ms)") {
		t.Fatalf("after reports %v the client read %v, want the stall's Closing (slow_consumer) last", orders, err)
	}
	if len(orders) != 3 || orders[0] != 1 || orders[2] != 3 {
		t.Fatalf("before its Closing the client read reports %v, want 1, 2, 3 (4 waited for the stalled write)", orders)
	}
	for deadline := time.Now().Add(5 * time.Second); g.Counters.Disconnects[CauseSlowConsumer].Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the stalled session not counted slow_consumer")
		}
	}
	wantCountedOnce(t, g, CauseSlowConsumer, CauseSlowConsumer, CauseHeartbeatTimeout)
}

// stallingConn is the server's end of a connection that, once stalled,
// takes nothing written to it, as a full socket does, until a write
// deadline ends the write (the outbox's cut: one in the past) or a close
// does; after a deadline it takes every write, as the socket of a client
// that read again would.
type stallingConn struct {
	net.Conn
	took atomic.Int64  // the bytes written through
	cut  chan struct{} // closed when a deadline or a close ends a stalled write

	mu       sync.Mutex
	stalled  bool
	closed   bool
	deadline time.Time
	changed  chan struct{} // closed, and replaced, by each SetWriteDeadline and by Close
}

func newStallingConn() *stallingConn {
	return &stallingConn{cut: make(chan struct{}), changed: make(chan struct{})}
}

// Close ends a stalled write too, as closing a socket does.
func (c *stallingConn) Close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.changed)
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

func (c *stallingConn) stall() {
	c.mu.Lock()
	c.stalled = true
	c.mu.Unlock()
}

func (c *stallingConn) Write(b []byte) (int, error) {
	for {
		c.mu.Lock()
		if c.closed && c.stalled {
			c.stalled = false
			close(c.cut)
			c.mu.Unlock()
			return 0, net.ErrClosed
		}
		if !c.stalled {
			c.mu.Unlock()
			n, err := c.Conn.Write(b)
			c.took.Add(int64(n))
			return n, err
		}
		d, changed := c.deadline, c.changed
		if !d.IsZero() && !time.Now().Before(d) {
			c.stalled = false
			close(c.cut)
			c.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		}
		c.mu.Unlock()
		if d.IsZero() {
			<-changed
			continue
		}
		tm := time.NewTimer(time.Until(d))
		select {
		case <-changed:
		case <-tm.C:
		}
		tm.Stop()
	}
}

func (c *stallingConn) SetWriteDeadline(d time.Time) error {
	c.mu.Lock()
	c.deadline = d
	if !c.closed {
		close(c.changed)
		c.changed = make(chan struct{})
	}
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(d)
}
