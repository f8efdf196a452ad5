package gateway

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// fakeRing records published frames; while blocked, Publish waits (a full
// ring).
type fakeRing struct {
	mu      sync.Mutex
	cond    *sync.Cond
	blocked bool
	// holdControl makes the gateway's own inputs (cancel-on-disconnect)
	// wait, as when the ring is full, while sessions' frames go through.
	holdControl bool
	waiting     int // Publish calls waiting for the ring
	frames      []published
	batches     []int // sizes of PublishBatch calls
	// stalled: a PublishBatch with a wait gives up on the blocked ring
	// (stall); gaveUp counts the frames of those that did, waits the
	// waits they were given.
	stalled bool
	gaveUp  int
	waits   []time.Duration
}

type published struct {
	kind    input.Kind
	session uint64
	account uint32
	typ     wire.Message
	payload []byte
}

func newFakeRing() *fakeRing {
	r := &fakeRing{}
	r.cond = sync.NewCond(&r.mu)
	return r
}

func (r *fakeRing) Publish(kind input.Kind, session uint64, account uint32, _ int64, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.blocked || r.holdControl && kind == input.KindControl {
		r.waiting++
		r.cond.Wait()
		r.waiting--
	}
	typ, _, _ := proto.Verify(payload)
	r.frames = append(r.frames, published{kind, session, account, typ, append([]byte(nil), payload...)})
	r.cond.Broadcast()
	return nil
}

func (r *fakeRing) PublishBatch(kind input.Kind, session uint64, account uint32, now int64, payloads [][]byte, wait time.Duration) (int, error) {
	r.mu.Lock()
	r.batches = append(r.batches, len(payloads))
	r.waits = append(r.waits, wait)
	for r.blocked && !(r.stalled && wait > 0) {
		r.waiting++
		r.cond.Wait()
		r.waiting--
	}
	if r.blocked { // its wait is over (stall): given up before the claim
		r.gaveUp += len(payloads)
		r.mu.Unlock()
		return 0, ErrInputStalled
	}
	r.mu.Unlock()
	for i, p := range payloads {
		if err := r.Publish(kind, session, account, now, p); err != nil {
			return i, err
		}
	}
	return len(payloads), nil
}

// stall makes the batches waiting for the blocked ring, and those that
// come to it, give up as at the end of their wait (ErrInputStalled):
// the deadline a node's claim watches, passed when the test says.
func (r *fakeRing) stall() {
	r.mu.Lock()
	r.stalled = true
	r.cond.Broadcast()
	r.mu.Unlock()
}

func (r *fakeRing) largestBatch() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Max(append([]int{0}, r.batches...))
}

func (r *fakeRing) setBlocked(b bool) {
	r.mu.Lock()
	r.blocked = b
	r.cond.Broadcast()
	r.mu.Unlock()
}

// setHoldControl makes the gateway's own inputs wait (holdControl), or
// lets them go.
func (r *fakeRing) setHoldControl(b bool) {
	r.mu.Lock()
	r.holdControl = b
	r.cond.Broadcast()
	r.mu.Unlock()
}

// awaitWaiting waits, 5 s at most, until a Publish waits for the blocked
// ring (setBlocked). Polled, not slept on.
func (r *fakeRing) awaitWaiting(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		r.mu.Lock()
		waiting := r.waiting
		r.mu.Unlock()
		if waiting > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the gateway never reached the full ring in 5 s")
		}
	}
}

// waitFor waits until n frames were published (bounded).
func (r *fakeRing) waitFor(t *testing.T, n int) []published {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.frames) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d frames published, want %d", len(r.frames), n)
		}
		r.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		r.mu.Lock()
	}
	return append([]published(nil), r.frames...)
}

func startGateway(t *testing.T, cfg Config) (*Gateway, *fakeRing) {
	t.Helper()
	return startGatewayWrapping(t, cfg, nil)
}

// startGatewayWrapping is startGateway with its first connection handed
// to the gateway as wrap makes it (firstWrapped; nil: as it comes).
func startGatewayWrapping(t *testing.T, cfg Config, wrap func(net.Conn) net.Conn) (*Gateway, *fakeRing) {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	if cfg.Accounts == nil {
		cfg.Accounts = []Account{{ID: 1, Secret: "one"}, {ID: 2, Secret: "two", CancelOnDisconnect: true}}
	}
	ring := newFakeRing()
	g, err := New(cfg, ring)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Listen(); err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		g.ln = &firstWrapped{Listener: g.ln, wrap: wrap}
	}
	go g.Serve()
	t.Cleanup(g.Close)
	return g, ring
}

// wantCountedOnce checks that, of the disconnect causes among, cause
// alone was counted, once.
func wantCountedOnce(t *testing.T, g *Gateway, cause Cause, among ...Cause) {
	t.Helper()
	for _, c := range among {
		want := int64(0)
		if c == cause {
			want = 1
		}
		if n := g.Counters.Disconnects[c].Load(); n != want {
			t.Errorf("%s disconnects %d, want %d", c, n, want)
		}
	}
}

func order(clOrd uint64) proto.NewOrder {
	return proto.NewOrder{ClientOrderID: clOrd, Instrument: 1, Side: wire.SideBuy, Type: wire.OrderTypeLimit,
		TIF: wire.TimeInForceGTC, Price: 100, Quantity: 1}
}

func expectClosed(t *testing.T, c *client.Client) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, err := c.Next(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("connection still open")
			}
			return
		}
	}
}

// awaitDisconnects waits, up to 5 s, until g has counted want
// disconnects for cause, and fails naming every cause counted if it
// does not: a client's own end (a close, a logout) is counted by its
// session's reader after the client looks, and a shutdown's by Close
// (the node's and the reader's own ends are counted before their client
// can learn of them: told, counted, unregistered).
func awaitDisconnects(t testing.TB, g *Gateway, cause Cause, want int64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); g.Counters.Disconnects[cause].Load() != want; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			var counted []string
			for c := range numCauses {
				if n := g.Counters.Disconnects[c].Load(); n != 0 {
					counted = append(counted, fmt.Sprintf("%s %d", c, n))
				}
			}
			t.Fatalf("%s disconnects %d, want %d (counted: %s)", cause, g.Counters.Disconnects[cause].Load(), want, strings.Join(counted, ", "))
		}
	}
}

func TestLogonRequiredAndChecked(t *testing.T) {
	g, ring := startGateway(t, Config{})
	addr := g.Addr().String()
	for _, tc := range []struct {
		account uint32
		secret  string
		want    string
	}{{1, "wrong", "BadSecret"}, {2, "one", "BadSecret"}, {9, "one", "BadSecret"}} { // another account's secret opens nothing; an unknown account is not told apart
		_, err := client.Dial(addr, tc.account, tc.secret, client.Options{AutoFlush: true})
		if !errors.Is(err, client.ErrLogonRejected) || !contains(err.Error(), tc.want) {
			t.Fatalf("logon %d/%s: %v", tc.account, tc.secret, err)
		}
	}
	// An order before any logon.
	c, _ := client.DialMarketData(addr, client.Options{AutoFlush: true})
	c.NewOrder(order(1))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := c.Next()
	if err != nil || m.Type != wire.MessageLogonReject || m.LogonReject != wire.LogonRejectReasonNotLoggedOn {
		t.Fatalf("order before logon: %+v %v", m, err)
	}
	expectClosed(t, c)
	// A first frame that fails verification.
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.Write(proto.AppendFrame(nil, []byte("not a flatbuffer at all")))
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	p, err := proto.NewFrameReader(raw, 1<<16).Next()
	if err != nil {
		t.Fatal(err)
	}
	if typ, pos, err := proto.Verify(p); err != nil || typ != wire.MessageLogonReject || proto.LogonRejectAt(p, pos) != wire.LogonRejectReasonMalformed {
		t.Fatalf("malformed logon: answered %v %v", typ, err)
	}
	if len(ring.frames) != 0 {
		t.Fatal("frames published without a logon")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// Frames are published raw, stamped with the session's own account; the
// session cannot name another.
func TestFramesStampedWithSessionAccount(t *testing.T) {
	g, ring := startGateway(t, Config{})
	c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.NewOrder(order(5))
	c.Cancel(proto.Cancel{OrderID: 77})
	c.Heartbeat() // stays in the gateway
	c.SendRaw(proto.AppendFrame(nil, []byte("garbage that is not a flatbuffer")))
	frames := ring.waitFor(t, 3)
	if frames[0].typ != wire.MessageNewOrder || frames[1].typ != wire.MessageCancel || frames[2].typ != wire.MessageNONE {
		t.Fatalf("published %v %v %v", frames[0].typ, frames[1].typ, frames[2].typ)
	}
	for _, f := range frames {
		if f.account != 1 || f.session != c.Session || f.kind != input.KindClient {
			t.Fatalf("frame stamped %+v, session %d", f, c.Session)
		}
	}
}

func TestOversizeFrameRejectedAndDisconnected(t *testing.T) {
	g, ring := startGateway(t, Config{MaxFrameBytes: 256})
	c, _ := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
	other, _ := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
	defer other.Close()
	// A frame within the maximum but larger than any order: rejected, kept.
	c.SendRaw(proto.AppendFrame(nil, make([]byte, 200)))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := c.Next()
	if err != nil || m.Type != wire.MessageExecutionReport || m.Report.Kind != wire.ExecKindRejected {
		t.Fatalf("large frame: %+v %v", m, err)
	}
	c.SendRaw(proto.AppendFrame(nil, make([]byte, 300)))
	m, err = c.Next()
	if err != nil || m.Type != wire.MessageLogonReject || m.LogonReject != wire.LogonRejectReasonFrameTooLarge {
		t.Fatalf("oversize frame: %+v %v", m, err)
	}
	expectClosed(t, c)
	// Nobody else lost anything.
	other.NewOrder(order(1))
	if f := ring.waitFor(t, 1); f[0].session != other.Session {
		t.Fatal("other session's order lost")
	}
	awaitDisconnects(t, g, CauseFrameTooLarge, 1)
}

func TestTruncatedFrameAndSilentClient(t *testing.T) {
	g, _ := startGateway(t, Config{HeartbeatTimeout: 300 * time.Millisecond})
	silent, _ := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
	expectClosed(t, silent)
	// Never logs on at all.
	raw, _ := net.Dial("tcp", g.Addr().String())
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	if _, err := raw.Read(buf); err != nil {
		t.Fatalf("no logon reject for a silent connection: %v", err)
	}
	raw.Close()
	trunc, _ := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
	frame := proto.NewEncoder().NewOrder(1, order(1))
	trunc.SendRaw(frame[:len(frame)-5])
	expectClosed(t, trunc)
	deadline := time.Now().Add(5 * time.Second)
	for g.Counters.Disconnects[CauseHeartbeatTimeout].Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := g.Counters.Disconnects[CauseHeartbeatTimeout].Load(); n < 2 {
		t.Fatalf("heartbeat timeouts counted: %d", n)
	}
}

func TestRateLimits(t *testing.T) {
	g, ring := startGateway(t, Config{RejectRate: 20, DisconnectRate: 60})
	c, _ := client.Dial(g.Addr().String(), 1, "one", client.Options{})
	for i := 0; i < 40; i++ {
		c.NewOrder(order(uint64(i)))
	}
	c.Flush()
	rejects := 0
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for rejects < 20 {
		m, err := c.Next()
		if err != nil {
			t.Fatalf("after %d rejects: %v", rejects, err)
		}
		if m.Type == wire.MessageExecutionReport && m.Report.Reason == reasonRateLimited {
			// The reject names the order it refused, as the engine's do.
			want := order(uint64(20 + rejects))
			if r := m.Report; r.ClientOrderID != want.ClientOrderID || r.Instrument != want.Instrument || r.Side != want.Side ||
				r.Price != want.Price || r.Quantity != want.Quantity || r.Account != 1 {
				t.Fatalf("reject %d: %+v, want the order %+v", rejects, r, want)
			}
			rejects++
		}
	}
	if got := ring.waitFor(t, 20); len(got) != 20 {
		t.Fatalf("%d orders published, want the first 20", len(got))
	}
	// Far above the disconnect rate: the session is closed.
	for i := 0; i < 100; i++ {
		c.NewOrder(order(uint64(i)))
	}
	c.Flush()
	expectClosed(t, c)
	awaitDisconnects(t, g, CauseRateLimit, 1)
}

// Order status requests have their own, lower rate (each one costs the
// engine a page of orders): above it they are rejected, the session stays
// up, its orders still go through, another account's status requests
// are not affected, and another session of the same account shares the
// budget.
func TestStatusRate(t *testing.T) {
	g, ring := startGateway(t, Config{StatusRate: 3})
	c, _ := client.Dial(g.Addr().String(), 1, "one", client.Options{})
	refusedTags := map[uint64]bool{}
	for i := 0; i < 10; i++ { // resend requests share the budget
		if i%2 == 0 {
			c.OrderStatus(proto.OrderStatus{})
		} else if tag, _ := c.Resend(0); i > 2 {
			refusedTags[tag] = true // the first three requests pass
		}
	}
	c.NewOrder(order(77))
	c.Flush()
	rejects := 0
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for rejects < 7 {
		m, err := c.Next()
		if err != nil {
			t.Fatalf("after %d rejects: %v", rejects, err)
		}
		if m.Type == wire.MessageExecutionReport && m.Report.Reason == reasonRateLimited {
			delete(refusedTags, m.Report.ClientOrderID) // a refused resend is named by its tag
			rejects++
		}
	}
	if len(refusedTags) != 0 {
		t.Fatalf("refused resends not named by their tags: %v", refusedTags)
	}
	// The limit is the account's: another session of it does not get a
	// second budget (an account could open as many sessions as it liked
	// and multiply the engine's work), another account is not affected.
	same, _ := client.Dial(g.Addr().String(), 1, "one", client.Options{})
	same.OrderStatus(proto.OrderStatus{})
	same.Flush()
	same.SetReadDeadline(time.Now().Add(5 * time.Second))
	if m, err := same.Next(); err != nil || m.Type != wire.MessageExecutionReport || m.Report.Reason != reasonRateLimited {
		t.Fatalf("another session of the account: %+v, %v; want its status request rejected rate-limited", m, err)
	}
	other, _ := client.Dial(g.Addr().String(), 2, "two", client.Options{})
	other.OrderStatus(proto.OrderStatus{})
	other.Flush()
	got := ring.waitFor(t, 5) // three status requests and the order from the first session, one from the other account
	statuses, orders := 0, 0
	for _, in := range got {
		switch in.typ {
		case wire.MessageOrderStatus, wire.MessageResendReports:
			statuses++
		case wire.MessageNewOrder:
			orders++
		}
	}
	if statuses != 4 || orders != 1 {
		t.Fatalf("published %d status and resend requests and %d orders, want 4 and 1", statuses, orders)
	}
	if got := g.Counters.Rejected[reasonRateLimited].Load(); got != 8 {
		t.Fatalf("%d rate-limited rejects counted, want 8", got)
	}
}

func TestConnectionFlood(t *testing.T) {
	g, ring := startGateway(t, Config{MaxConnections: 3})
	var held []*client.Client
	for i := 0; i < 3; i++ {
		c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	_, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
	if !errors.Is(err, client.ErrLogonRejected) || !contains(err.Error(), "TooManyConnections") {
		t.Fatalf("fourth connection: %v", err)
	}
	held[0].NewOrder(order(1))
	ring.waitFor(t, 1)
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not freed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range held[1:] {
		c.Close()
	}
}

// With the ring full the gateway stops reading; when it drains, every
// frame arrives, in order, none lost.
func TestBackpressureLosesNothing(t *testing.T) {
	g, ring := startGateway(t, Config{})
	ring.setBlocked(true)
	c, _ := client.Dial(g.Addr().String(), 1, "one", client.Options{})
	const n = 20000
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if err := c.NewOrder(order(uint64(i + 1))); err != nil {
				done <- err
				return
			}
		}
		done <- c.Flush()
	}()
	// Unblocked before the gateway met the full ring, nothing was held back.
	ring.awaitWaiting(t)
	ring.mu.Lock()
	published := len(ring.frames)
	ring.mu.Unlock()
	if published != 0 {
		t.Fatalf("%d frames published into a full ring", published)
	}
	ring.setBlocked(false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	all := ring.waitFor(t, n)
	for i, f := range all[:n] {
		if got := proto.NewOrderAt(f.payload, mustPos(t, f.payload)).ClientOrderID; got != uint64(i+1) {
			t.Fatalf("frame %d has client order id %d", i, got)
		}
	}
	c.Close()
}

// Frames that arrive in one read take the ring together, in order; a
// frame still incomplete in the buffer does not hold back the whole ones
// before it.
func TestFramesOfOneReadTakeTheRingTogether(t *testing.T) {
	g, ring := startGateway(t, Config{})
	c, _ := client.Dial(g.Addr().String(), 1, "one", client.Options{})
	defer c.Close()
	enc := proto.NewEncoder()
	var burst []byte
	for i := uint64(1); i <= 20; i++ {
		burst = append(burst, enc.NewOrder(i, order(i))...)
	}
	last := enc.NewOrder(21, order(21))
	burst = append(burst, last[:10]...)
	if c.SendRaw(burst) != nil || c.Flush() != nil {
		t.Fatal("send")
	}
	ring.waitFor(t, 20)
	if ring.largestBatch() < 2 {
		t.Fatal("frames of one write were published one by one")
	}
	if c.SendRaw(last[10:]) != nil || c.Flush() != nil {
		t.Fatal("send")
	}
	for i, f := range ring.waitFor(t, 21) {
		if got := proto.NewOrderAt(f.payload, mustPos(t, f.payload)).ClientOrderID; got != uint64(i+1) {
			t.Fatalf("frame %d has client order id %d", i, got)
		}
	}
}

// Orders sent in the same write as a Logout reach the ring before the
// account's cancel-on-disconnect, so the mass cancel covers them.
func TestOrdersBeforeLogoutPrecedeCancelOnDisconnect(t *testing.T) {
	g, ring := startGateway(t, Config{})
	c, _ := client.Dial(g.Addr().String(), 2, "two", client.Options{})
	for i := uint64(1); i <= 10; i++ {
		c.NewOrder(order(i))
	}
	c.Logout() // flushes the orders and the logout in one write
	expectClosed(t, c)
	frames := ring.waitFor(t, 11)
	for i, f := range frames[:10] {
		if f.typ != wire.MessageNewOrder || proto.NewOrderAt(f.payload, mustPos(t, f.payload)).ClientOrderID != uint64(i+1) {
			t.Fatalf("frame %d: %+v", i, f)
		}
	}
	if f := frames[10]; f.kind != input.KindControl || f.typ != wire.MessageMassCancel {
		t.Fatalf("after the orders: %+v", f)
	}
}

func mustPos(t *testing.T, payload []byte) uint32 {
	_, pos, err := proto.Verify(payload)
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

func TestCancelOnDisconnect(t *testing.T) {
	g, ring := startGateway(t, Config{})
	a, _ := client.Dial(g.Addr().String(), 2, "two", client.Options{AutoFlush: true})
	b, _ := client.Dial(g.Addr().String(), 2, "two", client.Options{AutoFlush: true})
	a.Logout()
	expectClosed(t, a)
	time.Sleep(50 * time.Millisecond)
	ring.mu.Lock()
	early := len(ring.frames)
	ring.mu.Unlock()
	if early != 0 {
		t.Fatal("mass cancel while another session of the account is live")
	}
	b.Close()
	f := ring.waitFor(t, 1)[0]
	if f.kind != input.KindControl || f.typ != wire.MessageMassCancel || f.account != 2 {
		t.Fatalf("published %+v", f)
	}
}

// Sessions a node drops as it stops leading (DropSessions) end with cause
// not_leader and publish no cancel-on-disconnect: their clients log on
// again to the new leader, and a failover keeps orders. Before, each
// cancel-on-disconnect account's last session tried to publish one, which
// a node no longer leading refuses — an error logged per account at
// every failover.
func TestDroppedSessionsPublishNoCancelOnDisconnect(t *testing.T) {
	g, ring := startGateway(t, Config{})
	c, err := client.Dial(g.Addr().String(), 2, "two", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	g.DropSessions()
	expectClosed(t, c)
	for deadline := time.Now().Add(5 * time.Second); g.Live() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the dropped session is still live")
		}
	}
	if n := g.Counters.Disconnects[CauseNotLeader].Load(); n != 1 {
		t.Errorf("%d disconnects counted not_leader, want 1", n)
	}
	if frames := ring.waitFor(t, 0); len(frames) != 0 {
		t.Fatalf("published %+v for a session dropped as the node stopped leading", frames)
	}
}

// A session that logs on while the account's last one is closing has
// its orders published after that session's cancel-on-disconnect: the
// mass cancel never cancels them.
func TestLogonDuringCancelOnDisconnect(t *testing.T) {
	g, ring := startGateway(t, Config{})
	a, err := client.Dial(g.Addr().String(), 2, "two", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	ring.setHoldControl(true) // the mass cancel waits to be published
	a.Close()
	// a's session unregistered: its mass cancel owed, waiting to be
	// published (a sleep here let b's logon take the handover first on a
	// loaded machine: a was then not the account's last session, and
	// published no cancel).
	for deadline := time.Now().Add(5 * time.Second); g.Live() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the closed session is still live")
		}
	}
	logged := make(chan *client.Client, 1)
	go func() {
		b, err := client.Dial(g.Addr().String(), 2, "two", client.Options{AutoFlush: true})
		if err != nil {
			t.Error(err)
			close(logged)
			return
		}
		b.NewOrder(order(1))
		logged <- b
	}()
	time.Sleep(100 * time.Millisecond)
	ring.setHoldControl(false)
	b := <-logged
	if b == nil {
		return
	}
	defer b.Close()
	frames := ring.waitFor(t, 2)
	if frames[0].typ != wire.MessageMassCancel || frames[1].typ != wire.MessageNewOrder {
		t.Fatalf("published %v then %v: the new session's order came before the mass cancel that would cancel it", frames[0].typ, frames[1].typ)
	}
}

// An idle session hears from the exchange every HeartbeatInterval, so a
// client can tell a quiet exchange from a dead one — and no more often.
// The clock starts before the dial: the session's last write (its logon
// answer) comes after it, and each heartbeat an interval or more after
// the one before, so three take 3 intervals or more however slow the
// machine. (Started after Dial returned, a test descheduled ~100 ms in
// between saw the heartbeats sent meanwhile "in" 230 ms, and failed.)
func TestExchangeHeartbeatsIdleSession(t *testing.T) {
	const interval = 100 * time.Millisecond
	g, _ := startGateway(t, Config{HeartbeatTimeout: 3 * time.Second, HeartbeatInterval: interval})
	start := time.Now()
	c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for beats := 0; beats < 3; {
		m, err := c.Next()
		if err != nil {
			t.Fatalf("after %d heartbeats: %v", beats, err)
		}
		if m.Type == wire.MessageHeartbeat {
			beats++
		}
	}
	if d := time.Since(start); d < 3*interval {
		t.Fatalf("3 heartbeats in %v: sent faster than the interval (%v)", d, interval)
	}
}

// An account's own rates replace the gateway's for its sessions only.
func TestPerAccountRateLimit(t *testing.T) {
	g, ring := startGateway(t, Config{Accounts: []Account{{ID: 1, Secret: "one"}, {ID: 3, Secret: "three", RejectRate: 5}}})
	small, _ := client.Dial(g.Addr().String(), 3, "three", client.Options{})
	big, _ := client.Dial(g.Addr().String(), 1, "one", client.Options{})
	for i := 0; i < 10; i++ {
		small.NewOrder(order(uint64(i)))
		big.NewOrder(order(uint64(i)))
	}
	small.Flush()
	big.Flush()
	small.SetReadDeadline(time.Now().Add(5 * time.Second))
	for rejects := 0; rejects < 5; {
		m, err := small.Next()
		if err != nil {
			t.Fatalf("after %d rejects: %v", rejects, err)
		}
		if m.Type == wire.MessageExecutionReport && m.Report.Reason == reasonRateLimited {
			rejects++
		}
	}
	got := ring.waitFor(t, 15)
	perAccount := map[uint32]int{}
	for _, f := range got {
		perAccount[f.account]++
	}
	if perAccount[3] != 5 || perAccount[1] != 10 {
		t.Fatalf("published per account %v: want 5 for the limited account, 10 for the other", perAccount)
	}
}

// A refused ResendReports is answered under its seq, as every answer to
// one is: the client tells it from an order's refusal whose client order
// id happens to equal the tag.
func TestRefusedResendAnsweredUnderItsSeq(t *testing.T) {
	g, _ := startGateway(t, Config{StatusRate: 1})
	c, _ := client.Dial(g.Addr().String(), 1, "one", client.Options{})
	defer c.Close()
	c.Resend(0)
	tag, _ := c.Resend(0) // over the rate
	c.Flush()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		m, err := c.Next()
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == wire.MessageExecutionReport && m.Report.Reason == reasonRateLimited {
			if m.Seq != tag || m.Report.ClientOrderID != tag {
				t.Fatalf("refused resend %d answered under seq %d (client order id %d)", tag, m.Seq, m.Report.ClientOrderID)
			}
			return
		}
	}
}

// A session is registered — and sent its account's reports — before its
// LogonAck is queued; the reports queued in between wait behind the
// LogonAck, which is the first frame the client reads. Here a report of
// the account is committed to the drop copy at the worst moment (the
// execution sender may run at any time; InputSeq runs in that window).
// Before, the report went out first: client.Dial took it for the answer
// to its Logon and failed ("logon answered with ExecutionReport"), and a
// real node did it about once in 400 drop-copy logons of a trading account.
func TestLogonAckIsTheFirstFrame(t *testing.T) {
	var g *Gateway
	enc := proto.NewEncoder()
	cfg := Config{InputSeq: func() int64 {
		for _, s := range g.RoutesOf(1).DropCopy { // what the execution sender does for a report of account 1
			s.Out.Stage(enc.ExecutionReport(0, &proto.Report{Kind: wire.ExecKindAccepted, Account: 1, OrderID: 7, InputSeq: 7}))
			s.Out.Commit(0)
		}
		return 6
	}}
	g, _ = startGateway(t, cfg)
	c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true, DropCopy: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("drop-copy logon while the account trades: %v", err)
	}
	defer c.Close()
	if c.LogonInputSeq != 6 {
		t.Errorf("LogonAck's input sequence %d, want 6", c.LogonInputSeq)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := c.Next()
	if err != nil || m.Type != wire.MessageExecutionReport || m.Report.OrderID != 7 {
		t.Fatalf("after the LogonAck: %+v, %v; want the report held behind it", m, err)
	}
}

// A client whose writes end mid-frame (the next frame's length prefix goes
// out with the current one) leaves part of a frame buffered after every
// frame it sends: the gateway waits on the network all the same, and its
// receive clock must move. Four orders a second at a rate limit of five,
// each write carrying the end of one frame and the start of the next, are
// all taken. Before, the clock moved only when nothing was buffered (or
// every 256 frames): it stood still, and from the sixth order on every one
// was refused as over the limit.
func TestClockMovesForFramesSplitAcrossWrites(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Unix(1000, 0).UnixNano())
	g, ring := startGateway(t, Config{RejectRate: 5, DisconnectRate: 100, Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	enc := proto.NewEncoder()
	const orders = 14
	var stream []byte
	for i := range orders + 1 {
		stream = append(stream, enc.NewOrder(uint64(i+1), order(uint64(i+1)))...)
	}
	frameLen := len(enc.NewOrder(1, order(1)))
	start := 0
	for k := range orders {
		clock.Add(int64(250 * time.Millisecond))
		end := (k+1)*frameLen + 2 // the end of frame k and the first 2 bytes of frame k+1
		if err := c.SendRaw(stream[start:end]); err != nil {
			t.Fatal(err)
		}
		start = end
		// Frame k is taken or refused before the clock moves again.
		deadline := time.Now().Add(5 * time.Second)
		for {
			ring.mu.Lock()
			n := len(ring.frames)
			ring.mu.Unlock()
			if int64(n)+g.Counters.Rejected[reasonRateLimited].Load() > int64(k) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("order %d neither taken nor refused", k+1)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if got, rejected := len(ring.waitFor(t, 0)), g.Counters.Rejected[reasonRateLimited].Load(); rejected != 0 || got != orders {
		t.Fatalf("4 orders/s at rate_limit 5/s, each write ending mid-frame: %d of %d taken, %d refused as rate-limited", got, orders, rejected)
	}
}

// A logon that replaces its client's earlier session (replaces_session,
// as client.Redial always sets) continues that session's rate buckets:
// five sessions each replacing the last, in one frozen instant at
// rate_limit 20, take 20 orders in all. Before, the replaced session's
// reader still held its buckets when the new session took some, so each
// replacing logon started with a fresh second's worth.
func TestRateLimitSurvivesAReplacingLogon(t *testing.T) {
	clock := time.Unix(1000, 0)
	g, ring := startGateway(t, Config{RejectRate: 20, DisconnectRate: 1000, Now: func() time.Time { return clock }})
	var prev uint64
	sent := 0
	for range 5 {
		c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{ReplacesSession: prev})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for range 20 {
			sent++
			c.NewOrder(order(uint64(sent)))
		}
		c.Flush()
		deadline := time.Now().Add(5 * time.Second)
		for {
			ring.mu.Lock()
			n := len(ring.frames)
			ring.mu.Unlock()
			if int64(n)+g.Counters.Rejected[reasonRateLimited].Load() >= int64(sent) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d orders neither taken nor refused", sent)
			}
			time.Sleep(time.Millisecond)
		}
		prev = c.Session
	}
	if got := len(ring.waitFor(t, 0)); got != 20 {
		t.Fatalf("%d orders of account 1 entered the ring in one instant at rate_limit 20/s per session, each session replacing the last; want 20", got)
	}
}

// A session that logs on continues the rate buckets of its account's
// ended session: they started full at every logon, so a client that
// reconnected got a fresh second's worth each time (5×20 orders in one
// instant at rate_limit 20, through five sessions one after the other),
// and one cut for disconnect_rate came straight back.
func TestRateLimitSurvivesAReconnect(t *testing.T) {
	clock := time.Unix(1000, 0) // frozen: every message in the same instant
	g, ring := startGateway(t, Config{RejectRate: 20, DisconnectRate: 40, Now: func() time.Time { return clock }})
	sent := 0
	for range 5 {
		c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			sent++
			c.NewOrder(order(uint64(sent)))
		}
		c.Flush()
		deadline := time.Now().Add(500 * time.Millisecond) // a cut session answers nothing
		for {
			ring.mu.Lock()
			n := len(ring.frames)
			ring.mu.Unlock()
			if int64(n)+g.Counters.Rejected[reasonRateLimited].Load() >= int64(sent) || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		c.Logout()
		c.Flush()
		c.Close()
		deadline = time.Now().Add(5 * time.Second)
		for g.Live() != 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	if got := len(ring.waitFor(t, 0)); got > 20 {
		t.Fatalf("%d orders of account 1 entered the ring in one instant at rate_limit 20/s per session, one session at a time", got)
	}
}
