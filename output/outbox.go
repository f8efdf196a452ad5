package output

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// ErrOverflow is returned (and the outbox closed) when a client does not
// read fast enough and its pending bytes would exceed the outbox limit.
var ErrOverflow = errors.New("output: send buffer overflow")

// ErrClosed is returned by Append on a closed outbox.
var ErrClosed = errors.New("output: outbox closed")

// ErrStalled closes an outbox whose client took none of the bytes
// written to it for the outbox's stall time: a client that stopped
// reading but keeps its connection alive is disconnected as a slow
// consumer even when too little is sent to it to overflow the outbox —
// as when a resend waits for it to read (it paces itself on Pending).
var ErrStalled = errors.New("output: client stopped reading")

// Outbox is the bounded send buffer of one client connection. Producers
// (the execution sender, the market-data fan-out, the gateway's session
// replies) Append whole frames and call Flush once per batch; the outbox's
// own writer goroutine writes pending bytes to the connection, so a client
// that stops reading blocks only its own writer, never a producer.
//
// When the pending bytes would exceed the limit the outbox closes itself
// (and the connection), calls the overflow callback once, and refuses
// further frames: a slow consumer is disconnected, never waited for.
type Outbox struct {
	conn  io.WriteCloser
	limit int
	// budget, when set (UseBudget), is shared with other outboxes; held
	// is how much of it this one holds: bytes committed and not yet
	// written, charged under mu, given back by the writer; cutMark is
	// set in it once the budget cuts the outbox (budget.go).
	budget *Budget
	held   atomic.Int64
	// stall bounds how long the client may take to accept one chunk of
	// a write (0: no bound); Watch enforces it.
	stall time.Duration

	mu sync.Mutex
	// pending is appended by producers under mu and swapped out by the
	// writer. Invariant: pending.n <= limit.
	pending frames
	closed  bool
	err     error
	// last is the frame the writer writes after everything else once
	// the outbox is closed (farewell): CloseSaying's, or cutSay's for
	// the cause when a cut closed it. Set when it closes, under mu.
	last []byte
	// cutSay is SayWhenCut's frames, one a cause of cut. Under mu.
	cutSay *CutFrames
	// graceEnd is when Close's grace ends (zero: the outbox was not
	// closed by Close, or its connection takes no deadlines). The
	// writer's close of the connection ends by then (closeConn). grace
	// is that grace's length: with EndAfter's channel, counted again
	// from the end of the writer's wait for it (restartGrace). Under mu.
	graceEnd time.Time
	grace    time.Duration
	// takenBy is set by farewell once a cut's frame went: the writer's
	// close of the connection waits, until then, for the client to take
	// it (closeTaken). The writer goroutine's alone.
	takenBy time.Time

	// staged holds frames staged during one batch (Stage), moved into
	// pending by Commit under one lock; stagedRecv is the oldest receive
	// stamp StageAppend was given for them (0: none). Only the staging
	// goroutine (or the holder of the caller's lock) touches them.
	// Invariant: staged.n <= limit.
	staged     frames
	stagedRecv int64
	// holding keeps the writer off pending until Release puts a first
	// frame ahead of it (Hold). Under mu.
	holding bool
	// endAfter, when set (EndAfter), is closed by the outbox's owner
	// once its client may learn that its connection ended: the writer
	// waits for it, at most endWithin, before the last frame and the
	// close. Under mu.
	endAfter  <-chan struct{}
	endWithin time.Duration

	wake chan struct{} // capacity 1: a pending flush
	done chan struct{} // closed when the writer goroutine has exited

	onClose func(error)

	// pendingRecv is the oldest receive stamp committed with the bytes
	// in pending (0: none), swapped out with them by the writer, which
	// tells written once they are on the connection. Both under mu.
	pendingRecv int64
	written     func(recv int64)
	// wrote, when set (CountWrites), is added the bytes of each write
	// the connection took. Under mu.
	wrote *atomic.Int64
	// queued counts the bytes ever queued into pending (Append, Commit,
	// Release), under mu; took those the connection ever took, added by
	// the writer. Progress reads them.
	// Invariant: took <= queued.
	queued int64
	took   atomic.Int64

	// lastWrite is the monoNow of the writer's last completed write (or
	// of the outbox's start), read by Watch.
	lastWrite atomic.Int64
	// writingSince is the monoNow at which the writer began the chunk
	// under way, 0 between chunks, read by Watch. (Both were Unix ns: a
	// wall clock stepped back stopped heartbeats for as long as the step,
	// and one stepped forward past the stall time cut every client being
	// written to as stalled.)
	writingSince atomic.Int64
}

// NewOutbox starts the writer goroutine for conn. limit is the most bytes
// that may wait unsent; a client that takes no chunk of a write for stall
// (0: no bound) is disconnected (ErrStalled) once Watch runs; onClose
// (may be nil) is called once, from any goroutine, with the reason the
// outbox closed (nil for Close).
func NewOutbox(conn io.WriteCloser, limit int, stall time.Duration, onClose func(error)) *Outbox {
	o := &Outbox{
		conn:    conn,
		limit:   limit,
		stall:   stall,
		pending: frames{tail: make([]byte, 0, min(limit, 64<<10))},
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		onClose: onClose,
	}
	o.lastWrite.Store(monoNow())
	go o.writeLoop()
	return o
}

// Watch looks after the outbox every every/2 until it closes: it sends
// heartbeat (nil: none; the outbox keeps its own copy) whenever nothing
// was written for every, so the peer can tell a quiet connection from a
// dead one, and it closes the outbox (ErrStalled) once the client has
// taken nothing of a chunk under way for the stall time. Call it once.
//
// The writer only notes when each chunk began (write). A write deadline
// set per chunk did the same (`ringex bench --rate 0`, alternating runs on
// the Xeon VM: 737–870 k orders/s against 748–883 k this way, both within
// the noise) but took the lock per chunk so as not to undo Close's grace
// deadline.
func (o *Outbox) Watch(every time.Duration, heartbeat []byte) {
	frame := bytes.Clone(heartbeat)
	go func() {
		t := time.NewTicker(max(every/2, time.Millisecond)) // every/2 of 1ns is 0: NewTicker panics
		defer t.Stop()
		for {
			select {
			case <-o.done:
				return
			case <-t.C:
				now := monoNow()
				if since := o.writingSince.Load(); o.stall > 0 && since != 0 && now-since >= int64(o.stall) {
					o.closeWith(ErrStalled) // closes the connection: the write ends
					return
				}
				if frame != nil && now-o.lastWrite.Load() >= int64(every) {
					if o.Send(frame) != nil {
						return
					}
					// Counts from now even if the write is still under way.
					o.lastWrite.Store(now)
				}
			}
		}
	}()
}

// Append queues one frame. It does not write; call Flush at the end of the
// batch. It returns ErrOverflow when the frame does not fit (the outbox is
// then closed) and ErrClosed after Close.
func (o *Outbox) Append(frame []byte) error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return ErrClosed
	}
	if o.pending.n+len(frame) > o.limit {
		o.mu.Unlock()
		o.closeWith(ErrOverflow)
		return ErrOverflow
	}
	if !o.charge(len(frame)) {
		o.mu.Unlock()
		o.closeWith(ErrOverBudget)
		return ErrOverBudget
	}
	o.pending.add(frame)
	o.queued += int64(len(frame))
	o.mu.Unlock()
	return nil
}

// Stage queues one frame, or several back to back, for the next Commit
// without taking the lock: the execution sender stages a batch's frames
// and commits them once per session, instead of locking per frame
// (measured: the per-frame Append lock was a tenth of a node's CPU at
// 880 k orders/s). It reports whether these are the first frames staged
// since the last Commit, so the caller can list each outbox once per
// batch. Stage and Commit must not run concurrently: one goroutine calls
// them, or callers serialize them with a lock of their own. Frames that
// would take the staged bytes over the limit close the outbox with
// ErrOverflow.
func (o *Outbox) Stage(frames []byte) (first bool, err error) {
	first, _, err = o.StageAppend(0, func(staged []byte) []byte { return append(staged, frames...) })
	return first, err
}

// StageAppend is Stage for frames built in place: build appends them to
// the staged bytes (proto.AppendExecutionReport), saving the copy of a
// frame built elsewhere. recv is the receive stamp (Unix ns) of the
// input they answer, 0 for none: Commit carries the oldest of the stamps
// staged with its frames. It reports, besides first, how many bytes
// build added. Frames that take the staged bytes over the limit are
// taken back and close the outbox with ErrOverflow. build is handed the
// tail of the staged bytes (see frames), not all of them.
func (o *Outbox) StageAppend(recv int64, build func(staged []byte) []byte) (first bool, added int, err error) {
	s := &o.staged
	s.sealFor(stageRoom)
	before := len(s.tail)
	tail := build(s.tail)
	added = len(tail) - before
	if s.n+added > o.limit {
		// Not the grown buffer: it may be far larger than the limit.
		o.closeWith(ErrOverflow)
		return false, 0, ErrOverflow
	}
	first = s.n == 0
	s.tail = tail
	s.n += added
	o.stagedRecv = oldestRecv(o.stagedRecv, recv)
	return first, added, nil
}

// oldestRecv is the older of two receive stamps, 0 standing for none.
func oldestRecv(a, b int64) int64 {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

// stageRoom is the room StageAppend leaves for a build in a chunk:
// more than an execution report, so that reports are built in their
// chunk rather than grow it into a fresh buffer.
const stageRoom = 4 << 10

// Commit moves the staged frames into the outbox and wakes the writer.
// recv is the gateway receive time (Unix ns) of the oldest input the
// frames answer, 0 for none — a caller that staged them without stamps
// (Stage) gives it here; with the stamps staged (StageAppend), the
// oldest goes with the frames. Once they are written, the function
// given to ObserveWrites is told the oldest stamp the write carried.
// When nothing is pending (the writer took it) the staged buffer
// becomes the pending one, with no copy; a burst's chunks are linked
// after what is pending, not copied. The staged frames are dropped when
// the outbox is closed (ErrClosed) or would overflow its limit
// (ErrOverflow) or its budget (ErrOverBudget), and then the outbox
// closes.
func (o *Outbox) Commit(recv int64) error {
	recv = oldestRecv(o.stagedRecv, recv)
	o.stagedRecv = 0
	if o.staged.n == 0 {
		return nil
	}
	o.mu.Lock()
	var err error
	switch {
	case o.closed:
		err = ErrClosed
	case o.pending.n+o.staged.n > o.limit:
		err = ErrOverflow
	case !o.charge(o.staged.n):
		err = ErrOverBudget
	default:
		// The writer swaps pending out under mu, so what take leaves in
		// staged is free for staging.
		o.queued += int64(o.staged.n)
		o.pending.take(&o.staged)
		o.pendingRecv = oldestRecv(o.pendingRecv, recv)
	}
	o.mu.Unlock()
	if err != nil {
		o.staged.reset()
		if cap(o.staged.tail) > keepBytes {
			o.staged.tail = nil
		}
	}
	if err == ErrOverflow || err == ErrOverBudget {
		o.closeWith(err)
	}
	if err == nil {
		o.Flush()
	}
	return err
}

// ObserveWrites has written called on the writer goroutine after each
// write that carried committed frames with a receive stamp, with the
// oldest stamp among them: the end of the end-to-end latency (gateway
// receive → on the client's connection) of the write's oldest frame,
// sampled once per write — never less than any of its frames waited.
func (o *Outbox) ObserveWrites(written func(recv int64)) {
	o.mu.Lock()
	o.written = written
	o.mu.Unlock()
}

// CountWrites has the writer add to wrote the bytes the connection takes,
// write by write (of a write cut short, those it took): what reached the
// client's socket, not what was queued for it — frames staged or queued
// for a client cut off as a slow consumer are dropped unwritten. Call it
// before anything is queued.
func (o *Outbox) CountWrites(wrote *atomic.Int64) {
	o.mu.Lock()
	o.wrote = wrote
	o.mu.Unlock()
}

// Pending is how many bytes wait unsent, and the limit they may reach: a
// producer with much to send (a resend) paces itself on it instead of
// overflowing the outbox of a client that reads. With a budget the limit
// is at most the budget's floor, so that such a producer keeps its
// client out of the slow ones a spent budget cuts.
func (o *Outbox) Pending() (pending, limit int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	limit = o.limit
	if b := o.budget; b != nil && b.limit > 0 {
		limit = min(limit, int(b.floor))
	}
	return o.pending.n, limit
}

// Progress is how many bytes were ever queued, and how many of them the
// connection has taken: a frame queued when queued reached q is all
// written once written >= q (a frame Release puts ahead of others moves
// their end on by its size). A producer that must not queue a frame
// again while its last copy waits unsent (the market-data port's
// snapshots) looks here.
func (o *Outbox) Progress() (queued, written int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.queued, o.took.Load()
}

// Staged is how many bytes the batch under way has staged and not yet
// committed: with Pending, what Commit will hold the outbox to. Only the
// staging goroutine may call it (staged is its own).
func (o *Outbox) Staged() int { return o.staged.n }

// Send is Append followed by Flush.
func (o *Outbox) Send(frame []byte) error {
	if err := o.Append(frame); err != nil {
		return err
	}
	o.Flush()
	return nil
}

// Hold keeps what is queued from now on unwritten until Release: a
// session registers, so that reports are routed to it, before it can
// say what its LogonAck carries, which must still be the first frame the
// client reads. Call it before anything else is queued.
func (o *Outbox) Hold() {
	o.mu.Lock()
	o.holding = true
	o.mu.Unlock()
}

// Release queues first ahead of everything queued since Hold and lets
// the writer write them. Errors as Append's.
func (o *Outbox) Release(first []byte) error {
	o.mu.Lock()
	var err error
	switch {
	case o.closed:
		err = ErrClosed
	case o.pending.n+len(first) > o.limit:
		err = ErrOverflow
	case !o.charge(len(first)):
		err = ErrOverBudget
	default:
		o.pending.prepend(first)
		o.queued += int64(len(first))
		o.holding = false
	}
	o.mu.Unlock()
	if err == ErrOverflow || err == ErrOverBudget {
		o.closeWith(err)
	}
	o.Flush()
	return err
}

// Flush wakes the writer. It never blocks.
func (o *Outbox) Flush() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Close flushes what is pending (best effort: for at most closeGrace, on
// a connection with write deadlines), closes the connection and stops the
// writer.
func (o *Outbox) Close() { o.close(nil, nil, closeGrace) }

// CloseSaying is Close with last written after what is pending, as the
// connection's last frame: the node's word to its client of why it ends
// the connection (proto's Closing). Best effort, and nothing is
// guaranteed: it goes only when everything before it was written whole
// within Close's grace, and it is not counted against the outbox's limit
// or budget (it is a few dozen bytes, once). On an outbox already closed
// it does nothing.
func (o *Outbox) CloseSaying(last []byte) { o.CloseSayingWithin(last, closeGrace) }

// CloseSayingWithin is CloseSaying with a grace of the caller's in place
// of closeGrace: what is pending, last, and the lingering close after
// them all end within grace of now. A connection refused at its logon is
// owed its answer alone, and the slot it holds meanwhile cannot be given
// to another: its caller gives it a quarter of the grace a session's end
// gets (the market-data port's refusals, as the order-entry port's
// gateway.RefusedLinger).
func (o *Outbox) CloseSayingWithin(last []byte, grace time.Duration) {
	o.close(nil, bytes.Clone(last), grace)
}

// CutFrames are the frames a cut outbox tries to write as its
// connection's last (SayWhenCut), one for each cause of a cut, so that
// the client is told which limit it crossed. A nil frame says nothing.
// They are built once and shared by the outboxes given them: nothing
// changes them after, and a cut picks one, building nothing.
type CutFrames struct {
	Overflow   []byte // ErrOverflow: the outbox's own limit
	Stalled    []byte // ErrStalled: nothing taken for the stall time
	OverBudget []byte // ErrOverBudget: the shared Budget spent
}

// of is the frame for a cut by err (nil for none, or no frames).
func (f *CutFrames) of(err error) []byte {
	if f == nil {
		return nil
	}
	switch err {
	case ErrOverflow:
		return f.Overflow
	case ErrStalled:
		return f.Stalled
	case ErrOverBudget:
		return f.OverBudget
	}
	return nil
}

// SayWhenCut gives the frames the writer tries to write, as the
// connection's last, when the outbox is cut as a slow consumer: the one
// of frames for the cut's cause (ErrOverflow, ErrStalled,
// ErrOverBudget). Nothing is guaranteed: the frames queued are dropped,
// the write under way is ended (a write deadline in the past, not a
// close), and the frame is written only if that write ended on a
// frame's end — nothing of its chunk taken, or all of it — and the
// connection takes it at once or within cutWait (writeCut); then the
// connection is closed, once the client has taken it, within cutLinger,
// when it went (farewell). A client that stopped reading has a full
// socket buffer, so it rarely gets it; one cut while it reads (a burst
// over its buffer, a spent budget) does — as it sends too. Call it before anything is queued;
// frames is kept, not copied. On a connection without write deadlines
// the cut closes it at once, as without SayWhenCut.
//
// Over TLS the frame goes only when the cut finds no write under way
// (the writer between writes: a burst staged over the buffer of a client
// that had read everything). A cut that ends a write under way leaves a
// tls.Conn unusable — crypto/tls keeps a failed write's error for every
// later write, the record under way may be torn and its sequence number
// is spent — so the frame is never written after it. Letting that write
// run on instead would keep the cut waiting on the one client that is
// not reading, to say why only if it reads after all: the cut stays
// immediate, and such a client sees the connection end untold.
func (o *Outbox) SayWhenCut(frames *CutFrames) {
	o.mu.Lock()
	o.cutSay = frames
	o.mu.Unlock()
}

// EndAfter makes the end of the connection wait for after to be
// closed, for at most within: once the outbox is closed — by Close,
// CloseSaying or a cut — the writer writes what it still may, then
// waits for after before it writes the connection's last frame
// (CloseSaying's, a cut's) and before it closes the connection. So the
// client learns nothing of the end before its owner has done what must
// come first (a gateway session's unregistration: a client that logs on
// again the moment it reads its end must find its old session gone).
// Close's grace for the last frame and the close is counted again from
// the end of that wait when the writer had to wait, not from the close
// alone: an owner that took longer than the grace (a gateway session's
// reader held publishing into a full ring) would have left the last
// frame a deadline already spent. Past
// within the writer waits no more and ends the connection as after's
// close would have — its owner perhaps stuck for ever (a ring that
// stays full): the connection, its writer and whoever waits for them
// are held that long at most. A cut on a connection with deadlines
// ends the write under way and the connection's reading at once, as
// always, and leaves the close to the writer; only a write that failed,
// on a connection already broken, closes at once. Call it before
// anything is queued, with within > 0.
func (o *Outbox) EndAfter(after <-chan struct{}, within time.Duration) {
	o.mu.Lock()
	o.endAfter, o.endWithin = after, within
	o.mu.Unlock()
}

// cutWait bounds the write of SayWhenCut's frame: long enough for a
// connection with room to take a few dozen bytes, short enough that a
// full one is closed at once, as a cut always closed it.
const cutWait = 10 * time.Millisecond

// aLongTimeAgo is a write deadline in the past: it ends a write under
// way at once.
var aLongTimeAgo = time.Unix(1, 0)

// isCut reports whether err is one that cuts a slow consumer.
func isCut(err error) bool {
	return err == ErrOverflow || err == ErrStalled || err == ErrOverBudget
}

// closeGrace bounds the last flush after Close and CloseSaying. Without
// it a peer that stopped reading (its receive window closed, the
// connection otherwise alive) held the writer goroutine and the
// connection open for as long as it liked after its session had ended —
// a way to run the node out of file descriptors. CloseSayingWithin takes
// a grace of its caller's instead.
const closeGrace = time.Second

// Done is closed when the writer goroutine has exited.
func (o *Outbox) Done() <-chan struct{} { return o.done }

// Err is the reason the outbox closed (nil while open or after Close).
func (o *Outbox) Err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

func (o *Outbox) closeWith(err error) { o.close(err, nil, 0) }

// close closes the outbox for err (nil: Close), with last (nil: none)
// to be written after what is pending, all within grace of now (a
// close for err has none: its connection is closed at once, or after
// a cut's frame, within cutLinger).
func (o *Outbox) close(err error, last []byte, grace time.Duration) {
	d, deadlines := o.conn.(interface{ SetWriteDeadline(time.Time) error })
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	o.err = err
	o.last = last
	if isCut(err) && deadlines {
		o.last = o.cutSay.of(err)
	}
	say := o.last != nil
	// A cut that says nothing ends the write under way as one that says
	// something does, when the close must wait (EndAfter): the writer
	// closes the connection after the wait.
	waits := isCut(err) && deadlines && o.endAfter != nil
	// The deadlines are set before the unlock: the writer sees closed
	// only after it, so the deadline it sets for its farewell (cutWait)
	// is the later one — set after the unlock, this one could land on
	// the farewell's write and cut it short, or tear it.
	switch {
	case err != nil && (say || waits):
		// Ends the write under way without closing the connection: the
		// writer, which knows where the stream stands, says farewell.
		// (Over TLS a write it ends leaves nothing more to say it on:
		// SayWhenCut.)
		d.SetWriteDeadline(aLongTimeAgo)
		// And the connection's reading, as the close it no longer gets
		// at once ended it (EndReading's deadline): what the client sends
		// meanwhile is read by nobody.
		if r, ok := o.conn.(interface{ SetReadDeadline(time.Time) error }); ok {
			r.SetReadDeadline(aLongTimeAgo)
		}
	case err == nil && deadlines:
		o.grace = grace
		o.graceEnd = time.Now().Add(grace)
		d.SetWriteDeadline(o.graceEnd) // also ends a write under way
	}
	o.mu.Unlock()
	if err != nil && !say && !waits {
		// Unblock a writer stuck on a peer that stopped reading.
		CloseNow(o.conn)
	}
	o.Flush()
	if o.onClose != nil {
		o.onClose(err)
	}
}

func (o *Outbox) writeLoop() {
	defer close(o.done)
	defer o.closeConn()
	defer o.releaseAll()
	var writing frames // empty between writes: its chunks back in the pool
	var lastBig int64  // when the writer last wrote more than keepBytes/2
	for {
		o.awaitWake(&writing)
		o.mu.Lock()
		if o.holding {
			if !o.closed {
				o.mu.Unlock()
				continue
			}
			o.pending.reset() // closed before its first frame: nothing goes out without it
			o.last = nil
		}
		writing, o.pending = o.pending, writing
		recv, written, wrote := o.pendingRecv, o.written, o.wrote
		o.pendingRecv = 0
		closed, cut := o.closed, o.err != nil
		o.mu.Unlock()
		if cut {
			writing.reset() // a cut drops what waits: only the farewell may go
			o.farewell(true, false)
			return
		}
		if writing.n > 0 {
			for i := 0; i <= len(writing.chunks); i++ {
				b := writing.tail
				if i < len(writing.chunks) {
					b = writing.chunks[i]
				}
				if len(b) == 0 {
					continue // a tail emptied by sealing: no write (on a net.Pipe it would wait for a read)
				}
				n, err := o.write(b)
				if n > 0 {
					o.took.Add(int64(n))
					if wrote != nil {
						wrote.Add(int64(n))
					}
				}
				if err != nil {
					o.closeWith(err)
					// A chunk starts and ends on a frame's end: the stream
					// is whole unless the write took part of it.
					o.farewell(n == 0 || n == len(b), false)
					// A connection that failed a write is closed without a
					// TLS close_notify: tls.Conn's Close would write one
					// after a record cut short, blocking up to 5 s on the
					// peer that stopped reading, past Close's grace. One
					// whose cut's frame went after it waits for its client
					// to take it (closeConn).
					if o.takenBy.IsZero() {
						CloseNow(o.conn)
					}
					return
				}
				o.release(int64(len(b))) // chunk by chunk: a burst gives the budget back as it goes
			}
			now := monoNow()
			o.lastWrite.Store(now)
			if writing.n > keepBytes/2 {
				lastBig = now
			} else if cap(writing.tail) > keepBytes && now-lastBig > int64(trimAfter) {
				// Only small writes for trimAfter since the last big one,
				// never idle long enough for awaitWake's trim (a trickle
				// of reports): a buffer grown by one large frame.
				writing.tail = nil
			}
			writing.reset()
			if recv != 0 && written != nil {
				written(recv)
			}
		}
		if closed {
			o.farewell(true, true) // all it held written: its grace starts once its owner lets it end
			return
		}
	}
}

// closeConn closes the connection as the writer exits, by the end of
// Close's grace: lingering (CloseLingering), so that a client still
// sending reads what was written to it, its last frame included, and
// then the end of the stream, not a reset; a TLS close_notify goes only
// to a peer that takes it by then. tls.Conn's Close wrote it under a 5 s
// deadline of its own, so a session closed with everything written into
// the socket buffer of a client that had stopped reading — full after
// that — held its writer and connection (and the Close or Stop waiting
// on them) 5 s past the grace. An outbox cut, or whose write failed, has
// no grace left: its connection is closed without one (it was already,
// CloseNow) — but for a cut whose frame went, closed once its client
// has taken it, by takenBy (closeTaken).
func (o *Outbox) closeConn() {
	if !o.takenBy.IsZero() {
		closeTaken(o.conn, o.takenBy)
		return
	}
	o.mu.Lock()
	end := o.graceEnd
	o.mu.Unlock()
	CloseLingering(o.conn, end)
}

// farewell writes the outbox's last frame, if it has one and the stream
// is whole (whole: no frame was left written in part), on the writer
// goroutine, the only one that writes. After a cut it writes within
// cutWait; a cut that said nothing closes the connection at once
// (without a TLS close_notify, as a cut always did), and one whose frame
// went leaves it to the writer's close, within cutLinger (takenBy:
// closed at once with the bytes of a client still sending unread, the
// kernel answered them with a reset and dropped the frame it held for
// the client, with all that was written before it and not yet taken).
// After Close, Close's grace deadline bounds it, and a connection that
// does not take it is closed at once too. It first waits for EndAfter's
// channel; written says everything queued was written, and a Close's
// grace is then counted from the end of that wait, when it had to wait
// (restartGrace): the grace ends a grace after the end of the wait, or
// after the close when the channel closed while the writer still wrote
// what was queued (the grace was the writing's then, as without
// EndAfter) — not after a failed write, whose connection has no more
// time to be given.
func (o *Outbox) farewell(whole, written bool) {
	o.mu.Lock()
	after, within := o.endAfter, o.endWithin
	o.mu.Unlock()
	if after != nil {
		select {
		case <-after: // closed before the writer came: the grace runs on from the close
		default:
			t := time.NewTimer(within)
			select {
			case <-after:
			case <-t.C:
			}
			t.Stop()
			if written {
				o.restartGrace()
			}
		}
	}
	o.mu.Lock()
	last, cut, wrote := o.last, isCut(o.err), o.wrote
	o.mu.Unlock()
	said := false
	if last != nil && whole {
		var n int
		var err error
		if cut {
			n, err = writeCut(o.conn, last)
		} else {
			n, err = o.conn.Write(last)
		}
		if wrote != nil && n > 0 {
			wrote.Add(int64(n))
		}
		said = err == nil
		cut = cut || err != nil // a connection that failed it is closed now too (writeLoop)
	}
	switch {
	case cut && said:
		o.takenBy = time.Now().Add(cutLinger)
	case cut:
		CloseNow(o.conn)
	}
}

// restartGrace counts a Close's grace again from now, for the last frame
// and the close that follow the wait for EndAfter's channel: the grace
// set by close ran meanwhile. A cut, or a close on a connection without
// deadlines, has no grace (graceEnd zero) and keeps none.
func (o *Outbox) restartGrace() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.graceEnd.IsZero() || o.err != nil {
		return
	}
	o.graceEnd = time.Now().Add(o.grace)
	if d, ok := o.conn.(interface{ SetWriteDeadline(time.Time) error }); ok {
		d.SetWriteDeadline(o.graceEnd)
	}
}

// cutLinger bounds how long a cut whose frame went waits for its client
// to take it, with what its socket held before it, before the
// connection is closed (closeTaken): a client that reads takes a
// socket's worth — a few MiB — within milliseconds on a LAN, and one
// that does not is closed by then, 100 ms later than a cut closed it.
// Meanwhile the cut holds its writer goroutine and its connection, and
// the connection's reader reads on until the close, as it read on until
// the cut's close; it holds nothing of the budget (given back before).
const cutLinger = 100 * time.Millisecond

// writeCut writes a cut's farewell b: first what the socket takes at
// once, with no deadline (tryWrite), then the rest within cutWait.
// A deadline set before the write alone let the writer's scheduling
// decide: descheduled past cutWait between the two, it found the
// deadline gone and the write failed untried, and a client with room
// lost its Closing (1 run in 67 on a loaded machine). Over TLS, or on a
// connection that is no socket, the deadline alone still bounds it: the
// record is sealed and written by tls.Conn, which takes no first try —
// giving it one would take a net.Conn of ours under every TLS
// connection, put there at accept on each port, whose Write the cut
// switches to one try without a deadline.
func writeCut(conn io.Writer, b []byte) (int, error) {
	n := tryWrite(conn, b)
	if n == len(b) {
		return n, nil
	}
	if d, ok := conn.(interface{ SetWriteDeadline(time.Time) error }); ok {
		d.SetWriteDeadline(time.Now().Add(cutWait))
	}
	m, err := conn.Write(b[n:])
	return n + m, err
}

// The outbox's buffers (staged, pending, the one being written) pass from
// one role to the next without being freed, so a session that once
// received a burst — a mass cancel's reports, a resend — kept buffers of
// the burst's size for as long as it stayed connected: up to three times
// gateway.send_buffer_bytes (16 MiB) per session, whether it ever needed
// them again or not. A burst now goes in chunks the writer gives back
// to chunkPool (frames); a tail still grows past keepBytes by one large
// frame (a book snapshot). Once the writer has had nothing to write for
// trimAfter, it lets go of the buffers it holds above keepBytes
// (TestOutboxLetsGoOfABurstsBuffers). Not sooner: a session under
// sustained load writes more than keepBytes at a time, and reallocating
// its buffers per write cost ~5 % of `ringex bench --rate 0`.
const (
	keepBytes = 1 << 20
	trimAfter = time.Second
)

// awaitWake waits for the next wake. While *writing or the pending
// buffer holds more than keepBytes, a wait longer than trimAfter lets go
// of *writing and of an empty pending buffer of that size.
func (o *Outbox) awaitWake(writing *frames) {
	o.mu.Lock()
	big := cap(writing.tail) > keepBytes || cap(o.pending.tail) > keepBytes
	o.mu.Unlock()
	if !big {
		<-o.wake
		return
	}
	t := time.NewTimer(trimAfter)
	defer t.Stop()
	select {
	case <-o.wake:
		return
	case <-t.C:
	}
	writing.tail = nil
	o.mu.Lock()
	if o.pending.n == 0 && cap(o.pending.tail) > keepBytes {
		o.pending.tail = nil
	}
	o.mu.Unlock()
	<-o.wake
}

// write writes b to the connection, in chunks when the outbox has a
// stall bound, noting when each began for Watch: a client that reads,
// however slowly over the whole of b, keeps its connection. It returns
// how many bytes of b the connection took.
func (o *Outbox) write(b []byte) (int, error) {
	if o.stall == 0 {
		return o.conn.Write(b)
	}
	total := 0
	for len(b) > 0 {
		chunk := b[:min(len(b), stallChunk)]
		o.writingSince.Store(monoNow())
		n, err := o.conn.Write(chunk)
		o.writingSince.Store(0)
		total += n
		if err != nil {
			return total, err
		}
		b = b[n:]
	}
	return total, nil
}

// stallChunk is how much a client must take per stall time to keep its
// connection: 256 KiB per read_timeout (15 s by default) is ~17 KB/s.
const stallChunk = 256 << 10

// monoEpoch and monoNow: the outbox's times are nanoseconds on the
// monotonic clock (since the process started, never 0), not Unix wall
// time, so that a wall clock stepped by NTP neither stops heartbeats nor
// cuts a reading client off as stalled.
var monoEpoch = time.Now()

func monoNow() int64 { return int64(time.Since(monoEpoch)) + 1 }
