package output

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/internal/testkit"
)

func TestOutboxDeliversInOrder(t *testing.T) {
	var sink testkit.SyncBuffer
	o := NewOutbox(&sink, 1<<10, 0, nil)
	var want bytes.Buffer
	for i := 0; i < 100; i++ {
		frame := []byte{byte(i), byte(i >> 8)}
		want.Write(frame)
		if err := o.Append(frame); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			o.Flush()
		}
	}
	o.Close()
	<-o.Done()
	if sink.String() != want.String() {
		t.Fatalf("got %d bytes, want %d in order", len(sink.String()), want.Len())
	}
}

// Held, an outbox writes nothing — however often it is flushed — until
// Release puts the first frame ahead of what was queued; closed while
// held it writes nothing at all (what waited behind the missing first
// frame must not go out without it).
func TestOutboxHoldsUntilTheFirstFrame(t *testing.T) {
	var sink testkit.SyncBuffer
	o := NewOutbox(&sink, 1<<10, 0, nil)
	o.Hold()
	o.Append([]byte("b"))
	o.Stage([]byte("c"))
	o.Commit(0) // flushes
	o.Send([]byte("d"))
	if err := o.Release([]byte("a")); err != nil {
		t.Fatal(err)
	}
	o.Send([]byte("e"))
	o.Close()
	<-o.Done()
	if got := sink.String(); got != "abcde" {
		t.Fatalf("wrote %q, want the first frame ahead of those queued while held: abcde", got)
	}

	var never testkit.SyncBuffer
	o = NewOutbox(&never, 1<<10, 0, nil)
	o.Hold()
	o.Send([]byte("report"))
	o.Close()
	<-o.Done()
	if got := never.String(); got != "" {
		t.Fatalf("closed while held, it wrote %q", got)
	}
	if err := o.Release([]byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Release after Close: %v, want ErrClosed", err)
	}
}

// Staged frames go out in order, after frames appended before the Commit;
// Stage says which frame is the first of a batch, so the sender lists each
// outbox once.
func TestOutboxStageCommit(t *testing.T) {
	var sink testkit.SyncBuffer
	o := NewOutbox(&sink, 1<<10, 0, nil)
	var want bytes.Buffer
	for batch := range 10 {
		o.Append([]byte{'a', byte(batch)})
		want.Write([]byte{'a', byte(batch)})
		for i := range 5 {
			first, err := o.Stage([]byte{'s', byte(batch), byte(i)})
			if err != nil || first != (i == 0) {
				t.Fatalf("batch %d frame %d: first %v, %v", batch, i, first, err)
			}
			want.Write([]byte{'s', byte(batch), byte(i)})
			if got := o.Staged(); got != 3*(i+1) {
				t.Fatalf("batch %d frame %d: %d bytes staged, want %d", batch, i, got, 3*(i+1))
			}
		}
		if err := o.Commit(0); err != nil {
			t.Fatal(err)
		}
		if got := o.Staged(); got != 0 {
			t.Fatalf("batch %d: %d bytes staged after the commit", batch, got)
		}
	}
	o.Close()
	<-o.Done()
	if sink.String() != want.String() {
		t.Fatalf("got %q, want %q", sink.String(), want.String())
	}
}

// StageAppend stages a frame built in place like Stage stages one built
// elsewhere: in order, first reported once per batch, its size told; one
// over the limit is taken back and overflows the outbox.
func TestOutboxStageAppend(t *testing.T) {
	var sink testkit.SyncBuffer
	o := NewOutbox(&sink, 16, 0, nil)
	stage := func(frame string) (bool, int, error) {
		return o.StageAppend(0, func(staged []byte) []byte { return append(staged, frame...) })
	}
	if first, n, err := stage("abc"); !first || n != 3 || err != nil {
		t.Fatalf("first frame: first %v, %d bytes, %v", first, n, err)
	}
	if _, err := o.Stage([]byte("de")); err != nil {
		t.Fatal(err)
	}
	if first, n, err := stage("fgh"); first || n != 3 || err != nil {
		t.Fatalf("third frame: first %v, %d bytes, %v", first, n, err)
	}
	if err := o.Commit(0); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); sink.String() != "abcdefgh"; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("wrote %q, want the committed frames", sink.String())
		}
	}
	if first, _, err := stage("ij"); !first || err != nil {
		t.Fatalf("after a commit: first %v, %v", first, err)
	}
	if _, n, err := stage("0123456789abcdef"); n != 0 || !errors.Is(err, ErrOverflow) || !errors.Is(o.Err(), ErrOverflow) {
		t.Fatalf("past the limit: %d bytes, %v, outbox %v", n, err, o.Err())
	}
	<-o.Done()
	if got := sink.String(); got != "abcdefgh" {
		t.Fatalf("wrote %q, want the committed frames only", got)
	}
}

// The write observer hears, once the bytes are on the connection, the
// receive stamp committed with them; commits without a stamp are written
// unobserved.
func TestOutboxObservesWrites(t *testing.T) {
	server, client := net.Pipe() // unbuffered: a write ends when read
	o := NewOutbox(server, 1<<10, 0, nil)
	seen := make(chan int64, 4)
	o.ObserveWrites(func(recv int64) { seen <- recv })
	read := func(n int) {
		buf := make([]byte, n)
		if _, err := io.ReadFull(client, buf); err != nil {
			t.Fatal(err)
		}
	}

	o.Stage([]byte("ab"))
	if err := o.Commit(0); err != nil {
		t.Fatal(err)
	}
	read(2)
	o.Stage([]byte("cd"))
	o.Commit(7)
	select {
	case recv := <-seen:
		t.Fatalf("observed %d before the bytes were read", recv)
	case <-time.After(20 * time.Millisecond):
	}
	read(2)
	if recv := <-seen; recv != 7 {
		t.Fatalf("observed %d, want 7", recv)
	}
	select {
	case recv := <-seen:
		t.Fatalf("the unstamped commit was observed too (%d)", recv)
	default:
	}
	o.Close()
	client.Close()
	<-o.Done()
}

// A write carrying the frames of several inputs is observed at the
// oldest receive stamp among them — staged with a frame or given to
// Commit, over the commits the write takes together — so that its
// sample is never less than any of its frames waited. (It was the
// newest: a session's reports of early inputs in a long batch were
// recorded at the latency of its last.)
func TestOutboxObservesTheOldestStampAWriteCarries(t *testing.T) {
	server, client := net.Pipe() // unbuffered: a write ends when read
	o := NewOutbox(server, 1<<10, 0, nil)
	seen := make(chan int64, 4)
	o.ObserveWrites(func(recv int64) { seen <- recv })
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	read := func(want string) {
		t.Helper()
		buf := make([]byte, len(want))
		if _, err := io.ReadFull(client, buf); err != nil || string(buf) != want {
			t.Fatalf("read %q (%v), want %q", buf, err, want)
		}
	}
	observed := func() int64 {
		t.Helper()
		select {
		case recv := <-seen:
			return recv
		case <-time.After(10 * time.Second):
			t.Fatal("no write observed in 10 s")
			return 0
		}
	}
	stage := func(recv int64, frame string) {
		t.Helper()
		if _, _, err := o.StageAppend(recv, func(staged []byte) []byte { return append(staged, frame...) }); err != nil {
			t.Fatal(err)
		}
	}

	commit := func(recv int64) {
		t.Helper()
		if err := o.Commit(recv); err != nil {
			t.Fatal(err)
		}
	}
	// wrote reads frames, the rest of one write, and wants it observed at want.
	wrote := func(frames string, want int64) {
		t.Helper()
		read(frames)
		if recv := observed(); recv != want {
			t.Fatalf("the write ending in %q observed %d, want %d", frames, recv, want)
		}
	}

	stage(50, "ab")
	commit(0)
	read("a") // the writer took "ab": it waits for "b" to be read
	// Committed while "ab" is written: the next write carries them all.
	stage(0, "cd")
	stage(90, "ef")
	stage(40, "gh")
	commit(0)
	stage(60, "ij")
	commit(30) // Commit's own stamp counts too
	stage(20, "kl")
	stage(70, "mn")
	commit(80)
	wrote("b", 50)
	wrote("cdefghijklmn", 20) // the oldest of three commits
	// The stamps went with their write: the next commit's are its own.
	stage(100, "op")
	commit(0)
	wrote("op", 100)
	o.Close()
	client.Close()
	<-o.Done()
}

// Staging more than the limit in one batch overflows at once; staging
// onto an outbox whose peer reads nothing overflows at the Commit that
// would cross the limit. Another outbox is untouched either way.
func TestOutboxStageOverflows(t *testing.T) {
	var other testkit.SyncBuffer
	bystander := NewOutbox(&other, 64, 0, nil)
	o := NewOutbox(&testkit.SyncBuffer{}, 64, 0, nil)
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		_, err = o.Stage(make([]byte, 16))
	}
	if !errors.Is(err, ErrOverflow) || !errors.Is(o.Err(), ErrOverflow) {
		t.Fatalf("Stage past the limit: %v, outbox %v", err, o.Err())
	}

	server, client := net.Pipe() // unbuffered: writes block until read
	defer client.Close()
	stuck := NewOutbox(server, 64, 0, nil)
	err = nil
	for i := 0; i < 100 && err == nil; i++ {
		if _, err = stuck.Stage(make([]byte, 16)); err == nil {
			err = stuck.Commit(0)
		}
	}
	if !errors.Is(err, ErrOverflow) {
		t.Fatalf("Commit past the limit: %v", err)
	}
	if err := bystander.Send([]byte("ok")); err != nil {
		t.Fatalf("another outbox: %v", err)
	}
	bystander.Close()
	<-bystander.Done()
	if other.String() != "ok" {
		t.Fatalf("another outbox wrote %q", other.String())
	}
}

// A peer that never reads: the outbox overflows, closes itself and reports
// ErrOverflow, and Append never blocks the producer.
func TestOutboxSlowConsumerOverflows(t *testing.T) {
	server, client := net.Pipe() // unbuffered: writes block until read
	defer client.Close()
	closed := make(chan error, 1)
	o := NewOutbox(server, 64, 0, func(err error) { closed <- err })
	frame := make([]byte, 16)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = o.Append(frame)
		o.Flush()
	}
	if !errors.Is(err, ErrOverflow) {
		t.Fatalf("Append error = %v, want ErrOverflow", err)
	}
	select {
	case got := <-closed:
		if !errors.Is(got, ErrOverflow) {
			t.Fatalf("onClose(%v), want ErrOverflow", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("onClose not called")
	}
	if err := o.Append(frame); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after overflow = %v, want ErrClosed", err)
	}
	select {
	case <-o.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("writer goroutine did not exit after overflow")
	}
}

// CountWrites counts what the connection took — of a write cut short by
// the close, the part the client read — and none of what was queued or
// staged for a client cut off as a slow consumer: those bytes are
// dropped unwritten. (ringex_bytes_out_total{port="marketdata"} counted
// them.)
func TestOutboxCountsWhatWasWritten(t *testing.T) {
	server, client := net.Pipe() // unbuffered: a write takes what is read
	defer client.Close()
	var wrote atomic.Int64
	o := NewOutbox(server, 100, 0, nil)
	o.CountWrites(&wrote)
	if err := o.Send(bytes.Repeat([]byte{'a'}, 60)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(client, make([]byte, 25)); err != nil { // the writer waits for the other 35
		t.Fatal(err)
	}
	if err := o.Send(bytes.Repeat([]byte{'b'}, 60)); err != nil { // queued behind the write
		t.Fatal(err)
	}
	if _, err := o.Stage(bytes.Repeat([]byte{'c'}, 60)); err != nil {
		t.Fatal(err)
	}
	if err := o.Commit(0); !errors.Is(err, ErrOverflow) { // 60 + 60 > 100: cut, the write cut short
		t.Fatalf("Commit past the limit: %v", err)
	}
	select {
	case <-o.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("writer goroutine did not exit after the overflow")
	}
	if got := wrote.Load(); got != 25 {
		t.Fatalf("counted %d bytes written, want the 25 the client read", got)
	}
}

// A peer that stops reading while too little waits for it to overflow
// the outbox is disconnected once it has taken nothing for the stall
// time; one that reads, however slowly, keeps its connection, and a
// Close still waits only its grace for a stuck peer.
func TestOutboxStalledClientDisconnected(t *testing.T) {
	server, client := net.Pipe() // unbuffered: writes block until read
	defer client.Close()
	closed := make(chan error, 1)
	o := NewOutbox(server, 1<<20, 100*time.Millisecond, func(err error) { closed <- err })
	o.Watch(50*time.Millisecond, nil)
	if err := o.Send(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-closed:
		if !errors.Is(got, ErrStalled) || !errors.Is(o.Err(), ErrStalled) {
			t.Fatalf("onClose(%v), Err %v; want ErrStalled", got, o.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a client that reads nothing kept its connection")
	}

	// 32 KiB every 10 ms: the whole 200 KiB (one write, under the stall
	// chunk) read in ~70 ms, well inside its second even on a loaded
	// machine (4 KiB reads took 500 ms at best: a 2x margin).
	server, client = net.Pipe()
	o = NewOutbox(server, 1<<20, time.Second, nil)
	o.Watch(100*time.Millisecond, nil)
	const size = 200 << 10
	o.Send(make([]byte, size))
	read := 0
	buf := make([]byte, 32<<10)
	for read < size {
		time.Sleep(10 * time.Millisecond)
		n, err := client.Read(buf)
		if err != nil {
			t.Fatalf("a slow reader lost its connection after %d bytes: %v (outbox %v)", read, err, o.Err())
		}
		read += n
	}
	o.Close()
	<-o.Done()
	if o.Err() != nil {
		t.Fatalf("a slow reader's outbox: %v", o.Err())
	}

	server, client = net.Pipe()
	defer client.Close()
	o = NewOutbox(server, 1<<20, time.Minute, nil)
	o.Watch(time.Second, nil)
	o.Send(make([]byte, 1000))
	start := time.Now()
	o.Close()
	select {
	case <-o.Done():
		if took := time.Since(start); took > 10*closeGrace {
			t.Fatalf("Close took %v on a stuck peer", took)
		}
	case <-time.After(10 * closeGrace):
		t.Fatal("Close waited for the stall time, not its grace")
	}
}

func TestOutboxWriteErrorCloses(t *testing.T) {
	server, client := net.Pipe()
	client.Close()
	closed := make(chan error, 1)
	o := NewOutbox(server, 1<<10, 0, func(err error) { closed <- err })
	_ = o.Send([]byte("x"))
	select {
	case got := <-closed:
		if got == nil || errors.Is(got, ErrOverflow) {
			t.Fatalf("onClose(%v), want the write error", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("write error did not close the outbox")
	}
	<-o.Done()
}

// Watch sends a heartbeat only when nothing was written for its
// interval, and does send one then. Checked on the writes' own times,
// not on sleeps: a heartbeat's write begins an interval or more after
// the return of the write two before it (Watch goes by the last write
// completed; the one after may have been under way), or after the
// outbox's start. (The test slept 10 ms between frames and took any
// heartbeat in those 200 ms as a fault: a loaded machine's sleep of over
// 140 ms was one.)
func TestWatchHeartbeatsOnlyWhenIdle(t *testing.T) {
	const every = 150 * time.Millisecond
	conn := &timedConn{}
	started := time.Now()
	o := NewOutbox(conn, 1<<10, 0, nil)
	o.Watch(every, []byte("hb"))
	// Busy: a frame every 10 ms or so, for longer than the interval.
	for range 20 {
		o.Send([]byte("x"))
		time.Sleep(10 * time.Millisecond)
	}
	// Idle: a heartbeat comes after the last frame.
	idleBeat := func() bool {
		all := conn.all()
		return strings.Count(all, "x") == 20 && strings.Contains(all[strings.LastIndex(all, "x"):], "hb")
	}
	for deadline := time.Now().Add(5 * time.Second); !idleBeat(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeat 5 s after the last frame: %q", conn.all())
		}
	}
	o.Close()
	<-o.Done()
	writes := conn.taken()
	for i, w := range writes {
		if !strings.Contains(w.b, "hb") {
			continue
		}
		since := started
		if i >= 2 {
			since = writes[i-2].returned
		}
		if gap := w.began.Sub(since); gap < every {
			t.Fatalf("a heartbeat written %v after the write two before it (or the start), want %v or more: %q", gap, every, conn.all())
		}
	}
}

// timedConn takes every write at once and notes when it began and
// returned.
type timedConn struct {
	mu     sync.Mutex
	writes []timedWrite
}

type timedWrite struct {
	began, returned time.Time
	b               string
}

func (c *timedConn) Write(b []byte) (int, error) {
	began := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, timedWrite{began: began, b: string(b), returned: time.Now()})
	return len(b), nil
}

func (c *timedConn) Close() error { return nil }

func (c *timedConn) taken() []timedWrite {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]timedWrite(nil), c.writes...)
}

func (c *timedConn) all() string {
	var all strings.Builder
	for _, w := range c.taken() {
		all.WriteString(w.b)
	}
	return all.String()
}

// Close on a connection whose peer stopped reading does not leave the
// writer (and the connection) waiting for it forever: the last flush gets
// closeGrace, then the connection is closed.
func TestOutboxCloseDoesNotWaitForeverForAStuckPeer(t *testing.T) {
	server, client := net.Pipe() // unbuffered: writes block until read
	defer client.Close()
	o := NewOutbox(server, 1<<20, 0, nil)
	if err := o.Send([]byte("never read")); err != nil {
		t.Fatal(err)
	}
	awaitWriterTook(t, o) // the writer is now blocked in Write
	o.Close()
	select {
	case <-o.Done():
	case <-time.After(closeGrace + 5*time.Second):
		t.Fatal("the writer still waits for a peer that does not read")
	}
	if _, err := server.Write([]byte("x")); err == nil {
		t.Fatal("the connection is still open")
	}
}

// A burst's buffers are let go once it is written and the outbox has
// been idle for trimAfter: after a client read 12 MB that had waited for
// it, the outbox keeps no buffer of that size for the rest of the
// session.
func TestOutboxLetsGoOfABurstsBuffers(t *testing.T) {
	_, read, before := burstBehindAWaitingWriter(t)
	read(burstBytes)
	waitLetGo(t, before, "after a 12 MB burst was read")
}

// burstBytes is what burstBehindAWaitingWriter stages: 120 frames of
// 100 KiB.
const burstBytes = 120 * 100 << 10

// burstBehindAWaitingWriter stages burstBytes in an outbox over an
// unbuffered pipe, so that they gather while the first write waits for
// the reader. It returns the outbox, read (which reads want bytes from
// the pipe's far end) and the heap before the burst.
func burstBehindAWaitingWriter(t *testing.T) (o *Outbox, read func(want int), before uint64) {
	t.Helper()
	server, client := net.Pipe() // unbuffered: the writer waits for the reader
	o = NewOutbox(server, 32<<20, 0, nil)
	t.Cleanup(func() { o.Close() })
	before = heapAlloc()
	frame := bytes.Repeat([]byte{'x'}, 100<<10)
	for range burstBytes / len(frame) {
		if _, err := o.Stage(frame); err != nil {
			t.Fatal(err)
		}
		if err := o.Commit(0); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 64<<10)
	return o, func(want int) {
		for got := 0; got < want; {
			n, err := client.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	}, before
}

// Frames that would take the staged bytes over the limit are taken back
// with the buffer they grew: the outbox keeps the buffer it had, not one
// the refused frames made far larger than its limit (a market-data
// subscriber that never read held ~9 MB for good after its close).
func TestRefusedStageKeepsNoGrownBuffer(t *testing.T) {
	var sink testkit.SyncBuffer
	o := NewOutbox(&sink, 1000, 0, nil)
	defer o.Close()
	if _, err := o.Stage(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Stage(make([]byte, 8<<20)); !errors.Is(err, ErrOverflow) {
		t.Fatalf("8 MiB over a 1000-byte limit: %v", err)
	}
	if c := cap(o.staged.tail); c > 4096 {
		t.Fatalf("the closed outbox holds a %d-byte staging buffer", c)
	}
}

// As TestOutboxLetsGoOfABurstsBuffers, but the client gets one more frame
// (a new order's ack) right after it has read the burst, before the
// writer has idled for trimAfter: the burst's buffer was then parked
// where the trim never looks (an empty pending, or staged) and kept for
// as long as the session lived.
func TestOutboxLetsGoOfABurstsBuffersAfterTheNextFrame(t *testing.T) {
	o, read, before := burstBehindAWaitingWriter(t)
	read(burstBytes)
	if _, err := o.Stage(make([]byte, 152)); err != nil {
		t.Fatal(err)
	}
	if err := o.Commit(0); err != nil {
		t.Fatal(err)
	}
	read(152)
	waitLetGo(t, before, "after a 12 MB burst and the next frame were read")
}

// A burst staged in one batch (a mass cancel's reports: one Commit) while
// the writer is busy and something is already pending is appended to
// pending; the staging buffer it grew in is kept, burst-sized, for as long
// as the session lives — no trim looks at staged.
func TestOutboxLetsGoOfABurstStagedWhileTheWriterIsBusy(t *testing.T) {
	server, client := net.Pipe() // unbuffered: the writer waits for the reader
	o := NewOutbox(server, 32<<20, 0, nil)
	defer o.Close()
	before := heapAlloc()
	small := make([]byte, 152)
	total := 0
	for i := range 2 { // the first is being written (blocked), the second pending
		o.Stage(small)
		if err := o.Commit(0); err != nil {
			t.Fatal(err)
		}
		total += len(small)
		if i == 0 {
			awaitWriterTook(t, o)
		}
	}
	frame := bytes.Repeat([]byte{'x'}, 100<<10)
	for range 120 { // 12 MB staged in one batch
		if _, err := o.Stage(frame); err != nil {
			t.Fatal(err)
		}
		total += len(frame)
	}
	if err := o.Commit(0); err != nil {
		t.Fatal(err)
	}
	frame = nil
	buf := make([]byte, 64<<10)
	for got := 0; got < total; {
		n, err := client.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got += n
	}
	waitLetGo(t, before, "after a 12 MB burst staged while the writer was busy was read")
}

// A session that keeps getting a small frame now and then after a burst
// (a trading bot's acks, heartbeats of a short interval, a market-data
// subscriber of a live instrument) never idles for trimAfter: the
// burst's buffers were kept for as long as it stayed connected.
func TestOutboxLetsGoOfABurstsBuffersUnderATrickle(t *testing.T) {
	server, client := net.Pipe()
	o := NewOutbox(server, 32<<20, 0, nil)
	defer o.Close()
	go io.Copy(io.Discard, client)
	before := heapAlloc()
	frame := bytes.Repeat([]byte{'x'}, 100<<10)
	for range 120 { // a 12 MB burst
		o.Stage(frame)
	}
	if err := o.Commit(0); err != nil {
		t.Fatal(err)
	}
	frame = nil
	small := make([]byte, 152)
	deadline := time.Now().Add(4 * time.Second)
	for {
		o.Stage(small) // a report every 200 ms
		if err := o.Commit(0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		kept := int64(heapAlloc()) - int64(before)
		if kept < 4<<20 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d MB kept 4 s after a 12 MB burst, the session getting a small frame every 200 ms", kept>>20)
		}
	}
}

// heapAlloc is the heap in use after a collection.
func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// waitLetGo waits up to 5 s for the heap to come back within 4 MB of
// before: a 12 MB burst's buffers let go of.
func waitLetGo(t *testing.T, before uint64, after string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		kept := int64(heapAlloc()) - int64(before)
		if kept < 4<<20 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d MB kept %s", kept>>20, after)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// awaitWriterTook waits until o's writer has taken everything pending (on
// a net.Pipe nobody reads, it is then blocked writing it). Polled, not
// slept on: a writer not yet at it would leave the frames pending, and a
// test meant for a busy writer would run with an idle one.
func awaitWriterTook(t *testing.T, o *Outbox) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		o.mu.Lock()
		n := o.pending.n
		o.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the writer has not taken the %d bytes pending in 5 s", n)
		}
	}
}
