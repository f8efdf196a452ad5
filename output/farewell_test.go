package output

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ringex/ringex/internal/testkit"
)

// CloseSaying writes its frame after everything queued before it, as the
// connection's last; on an outbox closed already, and on one closed
// while held (its first frame never came), it writes nothing.
func TestOutboxCloseSayingWritesTheLastFrameLast(t *testing.T) {
	var sink testkit.SyncBuffer
	var wrote atomic.Int64
	o := NewOutbox(&sink, 1<<10, 0, nil)
	o.CountWrites(&wrote)
	o.Append([]byte("ab"))
	o.Append([]byte("cd"))
	last := []byte("bye")
	o.CloseSaying(last)
	last[0] = 'X' // the outbox keeps its own copy
	o.CloseSaying([]byte("again"))
	<-o.Done()
	if got := sink.String(); got != "abcdbye" || wrote.Load() != 7 {
		t.Fatalf("wrote %q, counted %d; want \"abcdbye\", 7", got, wrote.Load())
	}

	var held testkit.SyncBuffer
	o = NewOutbox(&held, 1<<10, 0, nil)
	o.Hold()
	o.Append([]byte("report"))
	o.CloseSaying([]byte("bye"))
	<-o.Done()
	if held.String() != "" {
		t.Fatalf("closed while held, wrote %q", held.String())
	}
}

// tcpPair is a loopback TCP connection's two ends: a socket with a kernel
// buffer, as the node's are (net.Pipe takes nothing until read).
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if server, err = ln.Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// readAll reads c to its end, within 10 s.
func readAll(t *testing.T, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading to the end: %v (read %q)", err, b)
	}
	return b
}

// A cut with the stream whole — the client read everything, a burst over
// its buffer staged — drops what was queued and writes SayWhenCut's
// frame, then closes the connection; ErrOverflow stays the outbox's
// error.
func TestOutboxSaysWhenCutWithTheStreamWhole(t *testing.T) {
	server, client := tcpPair(t)
	var wrote atomic.Int64
	o := NewOutbox(server, 64, 0, nil)
	o.CountWrites(&wrote)
	o.SayWhenCut(&CutFrames{Overflow: []byte("cut")})
	if err := o.Send([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(client, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	o.Append([]byte("queued"))
	if _, err := o.Stage(make([]byte, 100)); !errors.Is(err, ErrOverflow) {
		t.Fatalf("a burst over the limit staged: %v", err)
	}
	if got := readAll(t, client); string(got) != "cut" {
		t.Fatalf("after the cut the client read %q, want \"cut\"", got)
	}
	<-o.Done()
	if !errors.Is(o.Err(), ErrOverflow) || wrote.Load() != 8 {
		t.Fatalf("outbox error %v, counted %d bytes; want ErrOverflow, 8", o.Err(), wrote.Load())
	}
}

// A cut writes the frame of its cause — the outbox's limit, the stall
// time, the budget — so its client is told which limit it crossed; a
// cause given no frame says nothing and closes the connection. (One
// frame said every cut alike.)
func TestOutboxSaysTheFrameOfTheCutsCause(t *testing.T) {
	frames := &CutFrames{Overflow: []byte("over the buffer"), Stalled: []byte("took nothing"), OverBudget: []byte("budget spent")}
	for _, tc := range []struct {
		cut    error
		frames *CutFrames
		want   string
	}{
		{ErrOverflow, frames, "over the buffer"},
		{ErrStalled, frames, "took nothing"},
		{ErrOverBudget, frames, "budget spent"},
		{ErrStalled, &CutFrames{Overflow: []byte("over the buffer")}, ""},
	} {
		t.Run(tc.cut.Error(), func(t *testing.T) {
			server, client := tcpPair(t)
			o := NewOutbox(server, 64, 0, nil)
			o.SayWhenCut(tc.frames)
			o.closeWith(tc.cut)
			if got := readAll(t, client); string(got) != tc.want {
				t.Fatalf("cut by %v, the client read %q, want %q", tc.cut, got, tc.want)
			}
			awaitCutDone(t, o)
		})
	}
}

// A cut that ends a write which took part of its chunk leaves a frame
// written in part: no farewell after it (it would be read as the rest of
// that frame). The connection is closed all the same.
func TestOutboxSaysNothingWhenCutMidFrame(t *testing.T) {
	c := &halfTaker{deadline: make(chan struct{})}
	o := NewOutbox(c, 100, 0, nil)
	o.SayWhenCut(&CutFrames{Overflow: []byte("cut")})
	if err := o.Send(bytes.Repeat([]byte{'a'}, 60)); err != nil {
		t.Fatal(err)
	}
	awaitWriterTook(t, o)
	if err := o.Append(make([]byte, 101)); !errors.Is(err, ErrOverflow) {
		t.Fatalf("Append past the limit: %v", err)
	}
	awaitCutDone(t, o)
	c.mu.Lock()
	defer c.mu.Unlock()
	if got := c.took.String(); got != strings.Repeat("a", 30) || !c.closed {
		t.Fatalf("the connection took %q, closed %v; want the 30 bytes of the write cut short, closed", got, c.closed)
	}
}

// halfTaker is a connection whose first write waits for a write
// deadline, then takes half its bytes and fails as a deadline does;
// later writes it takes whole.
type halfTaker struct {
	deadline chan struct{} // closed by the first SetWriteDeadline
	once     sync.Once
	mu       sync.Mutex
	took     bytes.Buffer
	writes   int
	closed   bool
}

func (c *halfTaker) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	first := c.writes == 1
	c.mu.Unlock()
	if first {
		<-c.deadline
		b = b[:len(b)/2]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.took.Write(b)
	if first {
		return len(b), os.ErrDeadlineExceeded
	}
	return len(b), nil
}

func (c *halfTaker) SetWriteDeadline(time.Time) error {
	c.once.Do(func() { close(c.deadline) })
	return nil
}

func (c *halfTaker) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

// awaitCutDone waits, 10 s at most, for o's writer to exit after a cut.
func awaitCutDone(t *testing.T, o *Outbox) {
	t.Helper()
	select {
	case <-o.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the writer did not exit after the cut")
	}
}

// A client that stopped reading (nothing of the write under way taken)
// is closed within cutWait of the cut: the farewell, which the
// connection does not take, does not keep it open.
func TestOutboxCutOfAStalledClientIsNotHeldByTheFarewell(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	o := NewOutbox(server, 64, 0, nil)
	o.SayWhenCut(&CutFrames{Overflow: []byte("cut")})
	if err := o.Send(make([]byte, 40)); err != nil { // the writer waits for a read that never comes
		t.Fatal(err)
	}
	awaitWriterTook(t, o)
	if err := o.Append(make([]byte, 65)); !errors.Is(err, ErrOverflow) {
		t.Fatalf("Append past the limit: %v", err)
	}
	awaitCutDone(t, o)
	if got := readAll(t, client); len(got) != 0 {
		t.Fatalf("the client read %q after the cut, want nothing", got)
	}
}

// Close on a TLS connection whose peer stopped reading ends it at its
// grace without a close_notify: tls.Conn's Close writes one after the
// record the grace cut short, and waited up to 5 s more for the peer —
// the gateway's closers (an operator, a replacing logon, the lead lost,
// a shutdown) kept a stalled session's writer and connection 6 s, where
// they had closed it at once. Checked by what reaches the peer once the
// write under way has failed, as TestCloseNowSkipsCloseNotify does.
func TestOutboxCloseOfAStalledTLSPeerSendsNoCloseNotify(t *testing.T) {
	server, client := testkit.NewCA(t, "ringex test").TLSPipe(t)
	o := NewOutbox(server, 1<<20, time.Minute, nil) // a stall bound: the writer notes its write under way
	if err := o.Send([]byte("never read")); err != nil {
		t.Fatal(err)
	}
	awaitWriterTook(t, o)
	o.CloseSaying([]byte("bye"))
	for deadline := time.Now().Add(10 * closeGrace); o.writingSince.Load() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the write under way outlived Close's grace")
		}
	}
	// The write failed at the grace: what follows it on the wire is read
	// below the TLS layer, to the end.
	if got := readAll(t, client.NetConn()); len(got) != 0 {
		t.Fatalf("after the write the grace ended, the peer was sent %d bytes (% x): a close_notify", len(got), got)
	}
	awaitCutDone(t, o)
}

// Close of a TLS session whose client took everything written and then
// stopped reading — its socket buffer full, as a pipe always is — ends
// within the grace: tls.Conn's Close wrote its close_notify under a 5 s
// write deadline of its own, and the writer and the connection (and a
// Close or Stop waiting for them) were held that long past the grace.
// The bound is tls.Conn's 5 s, not a speed: the end within the grace has
// the rest for a loaded machine.
func TestOutboxCloseOfAFullTLSPeerEndsWithinTheGrace(t *testing.T) {
	server, client := testkit.NewCA(t, "ringex test").TLSPipe(t)
	o := NewOutbox(server, 1<<20, 0, nil)
	if err := o.Send([]byte("read")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(client, make([]byte, 4)); err != nil { // the last the client reads
		t.Fatal(err)
	}
	awaitWriterTook(t, o)
	o.Close()
	select {
	case <-o.Done():
	case <-time.After(4 * closeGrace):
		t.Fatal("the writer is still closing a TLS connection whose client stopped reading 4 s after Close (a close_notify under tls.Conn's own 5 s deadline)")
	}
}

// Close of a TLS session whose client reads still ends it with a
// close_notify: a clean end, told as TLS tells it. What the server writes
// under the TLS layer after the last frame is counted: a client's read
// ends with io.EOF with or without one.
func TestOutboxCloseOfAReadingTLSPeerSendsCloseNotify(t *testing.T) {
	serverEnd, clientEnd := tcpPair(t)
	under := &countingConn{Conn: serverEnd}
	server, client := testkit.NewCA(t, "ringex test").TLSOver(t, under, clientEnd)
	o := NewOutbox(server, 1<<20, 0, nil)
	if err := o.Send([]byte("last")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(client, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	before := under.wrote.Load()
	o.Close()
	awaitCutDone(t, o)
	if after := under.wrote.Load(); after == before {
		t.Fatal("the session closed cleanly, its client reading, was sent no close_notify")
	}
}

// countingConn counts the bytes written to the connection it wraps.
type countingConn struct {
	net.Conn
	wrote atomic.Int64
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.wrote.Add(int64(n))
	return n, err
}

// Over TLS a cut that finds no write under way — a burst staged over
// the buffer of a client that had read everything — still says
// farewell: the limit SayWhenCut documents is the cut of a write under
// way, after which a tls.Conn takes no write.
func TestOutboxSaysWhenCutOverTLSBetweenWrites(t *testing.T) {
	serverEnd, clientEnd := tcpPair(t)
	server, client := testkit.NewCA(t, "ringex test").TLSOver(t, serverEnd, clientEnd)
	o := NewOutbox(server, 64, 0, nil)
	o.SayWhenCut(&CutFrames{Overflow: []byte("cut")})
	if err := o.Send([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(client, make([]byte, 5)); err != nil { // read: its write is over
		t.Fatal(err)
	}
	if _, err := o.Stage(make([]byte, 100)); !errors.Is(err, ErrOverflow) {
		t.Fatalf("a burst over the limit staged: %v", err)
	}
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := io.ReadAll(client); string(got) != "cut" {
		t.Fatalf("after the cut the client read %q (%v), want \"cut\"", got, err)
	}
	awaitCutDone(t, o)
}

// A cut's farewell reaches a client with room however late the writer
// comes to write it: a writer descheduled past cutWait between arming
// the farewell's deadline and its write found the deadline gone, and
// the write failed untried (1 run in 67 on a loaded machine). The
// descheduling is forced: each write the connection is handed, through
// Write or its raw socket, begins twice cutWait after it was called.
func TestOutboxSaysWhenCutThoughTheWriterIsLate(t *testing.T) {
	server, client := tcpPair(t)
	late := &lateConn{TCPConn: server.(*net.TCPConn), by: 2 * cutWait}
	o := NewOutbox(late, 64, 0, nil)
	o.SayWhenCut(&CutFrames{Overflow: []byte("cut")})
	o.closeWith(ErrOverflow)
	if got := readAll(t, client); string(got) != "cut" {
		t.Fatalf("cut with room, its writer late, the client read %q, want \"cut\"", got)
	}
	awaitCutDone(t, o)
}

// lateConn is a TCP connection whose writes each begin by after they
// were called, as if the writer were descheduled just before them.
type lateConn struct {
	*net.TCPConn
	by time.Duration
}

func (c *lateConn) Write(b []byte) (int, error) {
	time.Sleep(c.by)
	return c.TCPConn.Write(b)
}

func (c *lateConn) SyscallConn() (syscall.RawConn, error) {
	rc, err := c.TCPConn.SyscallConn()
	return lateRawConn{rc, c.by}, err
}

type lateRawConn struct {
	syscall.RawConn
	by time.Duration
}

func (c lateRawConn) Write(f func(fd uintptr) bool) error {
	time.Sleep(c.by)
	return c.RawConn.Write(f)
}

// A client cut while it still sends — a burst over its buffer as it
// trades — reads what the node's socket had taken for it, the cut's
// frame, then the end of the stream. The connection was closed at once
// with the client's bytes unread, and the kernel answered them with a
// reset, dropping what it still held for the client: the client read
// half of what the socket had taken, then "connection reset by peer",
// the frame never.
func TestOutboxCutOfAClientStillSendingSaysItAfterAll(t *testing.T) {
	server, client := tcpPair(t)
	if _, err := client.Write(make([]byte, 64<<10)); err != nil { // never read by the node
		t.Fatal(err)
	}
	var wrote atomic.Int64
	o := NewOutbox(server, 1<<20, 0, nil)
	o.CountWrites(&wrote)
	o.SayWhenCut(&CutFrames{Overflow: []byte("cut")})
	// More than the client's socket takes unread: the node's holds the
	// rest when the cut comes.
	owed := bytes.Repeat([]byte{'x'}, 1<<20)
	if err := o.Send(owed); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); wrote.Load() < int64(len(owed)); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the socket took %d of the %d bytes in 5 s", wrote.Load(), len(owed))
		}
	}
	if _, err := o.Stage(make([]byte, 3<<20)); !errors.Is(err, ErrOverflow) {
		t.Fatalf("a burst over the limit staged: %v", err)
	}
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(client)
	if err != nil || !bytes.Equal(got, append(owed, "cut"...)) {
		t.Fatalf("after the cut the client read %d bytes ending %q, then %v; want the %d owed, \"cut\", then the end of the stream",
			len(got), got[max(0, len(got)-3):], err, len(owed))
	}
	awaitCutDone(t, o)
}

// CloseSayingWithin's grace, not closeGrace, bounds the close: a client
// that keeps sending and never reads holds its connection, lingering,
// until the grace given ends — well before closeGrace — and one that
// reads gets what was queued, the last frame, then the end of the
// stream.
func TestOutboxCloseSayingWithinEndsByItsGrace(t *testing.T) {
	const grace = 100 * time.Millisecond
	server, client := tcpPair(t)
	defer testkit.KeepSending(client, []byte("more"))()
	o := NewOutbox(server, 1<<10, 0, nil)
	o.Send([]byte("answer"))
	start := time.Now()
	o.CloseSayingWithin([]byte("bye"), grace)
	select {
	case <-o.Done():
	case <-time.After(10 * closeGrace):
		t.Fatal("the writer still lingers on a client that keeps sending")
	}
	if took := time.Since(start); took >= closeGrace {
		t.Fatalf("closed %v after CloseSayingWithin(%v), want before closeGrace (%v)", took, grace, closeGrace)
	}

	server, client = tcpPair(t)
	o = NewOutbox(server, 1<<10, 0, nil)
	o.Send([]byte("answer"))
	o.CloseSayingWithin([]byte("bye"), grace)
	if got := readAll(t, client); string(got) != "answerbye" {
		t.Fatalf("read %q, want \"answerbye\" then the end of the stream", got)
	}
	<-o.Done()
}

// An outbox given EndAfter's channel writes its last frame and closes its
// connection only once the channel is closed, whatever closed it:
// CloseSaying, a cut that says why, a cut that says nothing. Before, each
// told the client at once, and a gateway session's client that logged on
// again on reading its end found the ended session still registered.
func TestOutboxEndsTheConnectionAfterEndAfter(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(o *Outbox)
		want string
	}{
		{"close saying", func(o *Outbox) { o.CloseSaying([]byte("bye")) }, "bye"},
		{"cut saying", func(o *Outbox) { o.closeWith(ErrOverflow) }, "cut"},
		{"cut saying nothing", func(o *Outbox) { o.closeWith(ErrStalled) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, client := tcpPair(t)
			after := make(chan struct{})
			o := NewOutbox(server, 64, 0, nil)
			o.SayWhenCut(&CutFrames{Overflow: []byte("cut")})
			o.EndAfter(after, time.Minute)
			tc.end(o)
			// Nothing — no frame, no end of the stream — while after is
			// open; the wait cannot fail on a slow machine, only miss.
			client.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			n, err := client.Read(make([]byte, 16))
			if ne, ok := errors.AsType[net.Error](err); !ok || !ne.Timeout() {
				t.Fatalf("before after was closed the client read %d bytes, %v; want nothing", n, err)
			}
			close(after)
			if got := readAll(t, client); string(got) != tc.want {
				t.Fatalf("after after was closed the client read %q, want %q", got, tc.want)
			}
			awaitCutDone(t, o)
		})
	}
}

// A CloseSaying whose EndAfter channel is closed only after the close
// grace has run still writes its last frame: the grace is counted from
// the end of the wait. Counted from the close, the frame's write found
// its deadline spent, and the client read the end of the stream alone
// (a gateway session's reader held publishing into a full ring past the
// grace).
func TestOutboxGraceCountsFromTheEndOfTheEndAfterWait(t *testing.T) {
	server, client := tcpPair(t)
	after := make(chan struct{})
	o := NewOutbox(server, 64, 0, nil)
	o.EndAfter(after, time.Minute)
	o.CloseSaying([]byte("bye"))
	time.Sleep(closeGrace + 200*time.Millisecond) // a deadline passing, not a wait for the writer
	close(after)
	if got := readAll(t, client); string(got) != "bye" {
		t.Fatalf("the client read %q, want \"bye\" then the end of the stream", got)
	}
	awaitCutDone(t, o)
}

// An outbox whose EndAfter channel is never closed ends its connection
// all the same once the wait's bound has passed, saying its last frame:
// its owner stuck for ever (a ring that stays full) held the connection
// and the writer for ever.
func TestOutboxEndAfterWaitsNoLongerThanItsBound(t *testing.T) {
	server, client := tcpPair(t)
	o := NewOutbox(server, 64, 0, nil)
	o.EndAfter(make(chan struct{}), 100*time.Millisecond)
	o.CloseSaying([]byte("bye"))
	if got := readAll(t, client); string(got) != "bye" {
		t.Fatalf("the client read %q, want \"bye\" then the end of the stream", got)
	}
	awaitCutDone(t, o)
}
