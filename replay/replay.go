package replay

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/unmarshal"
	"github.com/ringex/ringex/vfs"
)

// ErrMissing: the journal does not hold the first input the replay needs
// (it starts after it — its early segments were retired or lost — and
// there was no usable snapshot to start from instead). Replaying what it
// holds would build a state without the inputs before it.
var ErrMissing = errors.New("replay: the journal does not hold the inputs to start from")

// ErrEnginePanicked: the engine panicked applying a journaled input. The
// input is durable, so every start (and every cluster member) that
// replays it meets the same panic: a bug in this build, which no retry
// mends. Wrapped by *PanicError.
var ErrEnginePanicked = errors.New("replay: the engine panicked")

// PanicError says which input the engine panicked on.
type PanicError struct {
	Seq      int64  // the input's sequence
	Segment  string // the path of its journal segment ("" unknown)
	Offset   int64  // its offset in that segment (-1 unknown)
	Checksum uint32 // its record's journal.Checksum (valid when Segment is known)
	Value    any    // what the engine panicked with
	Stack    string // the engine goroutine's stack at the panic
}

func (e *PanicError) Error() string {
	where := ""
	if e.Segment != "" {
		where = fmt.Sprintf(" (journal segment %s, offset %d, checksum %08x)", e.Segment, e.Offset, e.Checksum)
	}
	return fmt.Sprintf("the engine panicked applying input %d%s: %v; this input cannot be applied by this build"+
		" — see docs/runbook.md 'An input the engine cannot apply' (ringex journal drop)", e.Seq, where, e.Value)
}

func (e *PanicError) Unwrap() error { return ErrEnginePanicked }

// Stats says what a replay applied.
type Stats struct {
	Records int64 // records applied
	Last    int64 // sequence of the last record applied (from-1 if none)
	// Dropped are the inputs applied as dropped (journal.Drops): listed
	// in the journal's drops file with their record's checksum.
	Dropped []int64
	// NotDropped are inputs applied although their sequence is listed:
	// the entry names another checksum, so another input than the one
	// the journal holds there (a journal cut and written again).
	NotDropped []int64
	// TornSegment and TornAt: the journal's last segment ends in a torn
	// tail from offset TornAt (journal.Reader.Torn), which the replay
	// ended at as a node's start truncates it. TornSegment "": none met.
	TornSegment string
	TornAt      int64
	// Applying is the time the engine took to apply the records, with
	// Options.Until's and Applied's calls and the engine's event sink's
	// (a caller printing the events takes its own out): timed per batch, not per
	// record. A replay's time besides it went on reading the journal,
	// each segment whole (journal.Reader checks its preallocated unused
	// tail is zeros): most of a short replay's.
	Applying time.Duration
}

const (
	batchSlots = 1024 // slots per hand-over: amortizes the channel cost
	pool       = 4    // batches in flight
)

type batch struct {
	slots [batchSlots]input.Slot
	seqs  [batchSlots]int64
	n     int
	err   error // set on the last batch when reading failed
	// the journal's torn tail, on the last batch when reading ended
	// there (journal.Reader.Torn; "": none)
	tornSegment string
	tornAt      int64
	// the batch's inputs listed in the drops file: dropped, or whose
	// entry names another checksum (Stats)
	dropped, notDropped []int64
}

// ErrStopped: the replay's stop channel closed before it reached its end.
var ErrStopped = errors.New("replay: stopped")

// Run applies the journal in dir (fs nil: the OS) from sequence from
// through to (0: to the end) to eng.
func Run(dir string, fs vfs.FS, from, to int64, eng *engine.Engine) (Stats, error) {
	return RunWith(dir, fs, from, to, eng, Options{})
}

// Options are a replay's manners.
type Options struct {
	// Stop (nil: never) makes the replay give up with ErrStopped, between
	// two batches, once it is closed.
	Stop <-chan struct{}
	// Until (nil: never) is asked after each record is applied: true
	// ends the replay there, without an error (Stats.Last is that
	// record), as if to were it. A resend that waited too long for its
	// client ends after a whole input (node/resend.go), and keeps the
	// engine in the state after it to carry on from.
	Until func() bool
	// Archive, when set, is read with the journal as one: segments moved
	// there (snapshot.journal_retention: archive) come before the
	// journal's. It need not exist.
	Archive string
	// Checked, when set, spares the replay's Reader the segment headers
	// it remembers (journal.CheckedHeaders): a node's resends.
	Checked *journal.CheckedHeaders
	// Unsynced reads a journal written without fdatasync, a cluster
	// member's (journal.Reader.SetUnsynced).
	Unsynced bool
	// With KnownDrops, Drops is the list of dropped inputs (nil: none)
	// and the journal directory's drops file is not read: a node's
	// resends rebuild what its engine did with the list it started with,
	// whatever the file says now.
	KnownDrops bool
	Drops      *journal.Drops
	// Applied, when set, is called with each input after the engine
	// applied it: a node's recovery reads the session ids the journal
	// holds (node.sessionFloor) from the inputs it replays anyway.
	Applied func(c *engine.Command)
}

// RunWith is Run with Options.
func RunWith(dir string, fs vfs.FS, from, to int64, eng *engine.Engine, opts Options) (Stats, error) {
	stop := opts.Stop
	st := Stats{Last: from - 1}
	dirs := []string{dir}
	if opts.Archive != "" {
		dirs = []string{opts.Archive, dir}
	}
	r, err := journal.NewReaderWith(dirs, fs, from, journal.ReaderOptions{Checked: opts.Checked})
	if err != nil {
		return st, err
	}
	if start := r.Start(); start > from {
		// Checked here, not only at the first record read: a last
		// segment holding no record yet reads none.
		r.Close()
		return st, fmt.Errorf("%w: it starts at input %d, the replay at %d", ErrMissing, start, from)
	}
	if opts.Unsynced {
		r.SetUnsynced()
	}
	drops := opts.Drops
	if !opts.KnownDrops {
		if drops, err = journal.ReadDrops(fs, dir); err != nil {
			r.Close()
			return st, err // applied without it, the inputs it lists would panic again
		}
	}
	full := make(chan *batch, pool)
	free := make(chan *batch, pool)
	for range pool {
		free <- new(batch)
	}
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(full)
		defer r.Close()
		read(r, drops, from, to, free, full, quit)
	}()
	defer func() {
		close(quit)
		for range full { // unblock and wait for the reader
		}
		<-done
	}()
	for b := range full {
		select {
		case <-stop:
			return st, ErrStopped
		default:
		}
		began := time.Now()
		applied, until, perr := applyBatch(eng, b, opts.Until, opts.Applied)
		st.Applying += time.Since(began)
		if applied > 0 {
			st.Records += int64(applied)
			st.Last = b.seqs[applied-1]
			st.Dropped = appendThrough(st.Dropped, b.dropped, st.Last)
			st.NotDropped = appendThrough(st.NotDropped, b.notDropped, st.Last)
		}
		if perr != nil {
			perr.Segment, perr.Offset, perr.Checksum = locate(dirs, fs, perr.Seq, opts.Unsynced)
			return st, perr
		}
		if until {
			return st, nil
		}
		if b.err != nil {
			return st, b.err
		}
		if b.tornSegment != "" {
			st.TornSegment, st.TornAt = b.tornSegment, b.tornAt
		}
		free <- b
	}
	return st, nil
}

// applyBatch applies b's inputs until Until says so (until true). An
// engine panic becomes a PanicError naming the input: it is journaled,
// so the panic would recur at every start — as a crash with a Go stack
// trace, not an error naming it. One deferred recover per batch: none is
// paid per input.
func applyBatch(eng *engine.Engine, b *batch, until func() bool, seen func(*engine.Command)) (applied int, stop bool, perr *PanicError) {
	i := 0
	defer func() {
		if v := recover(); v != nil {
			applied, stop = i, false
			perr = &PanicError{Seq: b.seqs[i], Offset: -1, Value: v, Stack: string(debug.Stack())}
		}
	}()
	for ; i < b.n; i++ {
		eng.Apply(&b.slots[i].Cmd)
		if seen != nil {
			seen(&b.slots[i].Cmd)
		}
		if until != nil && until() {
			return i + 1, true, nil
		}
	}
	return b.n, false, nil
}

// appendThrough appends the sequences of seqs up to last to dst.
func appendThrough(dst, seqs []int64, last int64) []int64 {
	for _, s := range seqs {
		if s <= last {
			dst = append(dst, s)
		}
	}
	return dst
}

// locate finds the segment, offset and checksum of the record of seq,
// read again: only an error report needs them ("", -1 when it cannot).
func locate(dirs []string, fs vfs.FS, seq int64, unsynced bool) (string, int64, uint32) {
	r, err := journal.NewReaderOf(dirs, fs, seq)
	if err != nil {
		return "", -1, 0
	}
	defer r.Close()
	if unsynced {
		r.SetUnsynced()
	}
	var rec journal.Record
	if r.Next(&rec) != nil || rec.Seq != seq {
		return "", -1, 0
	}
	segment, offset := r.Position()
	return segment, offset, journal.Checksum(&rec)
}

// read fills batches from r until the end, to, an error, or stop; an
// input drops lists is decoded as dropped (unmarshal.Drop).
func read(r *journal.Reader, drops *journal.Drops, from, to int64, free <-chan *batch, full chan<- *batch, stop <-chan struct{}) {
	var rec journal.Record
	first := true // no record at or after from read yet
	for {
		var b *batch
		select {
		case b = <-free:
		case <-stop:
			return
		}
		b.n, b.err, b.tornSegment = 0, nil, ""
		b.dropped, b.notDropped = b.dropped[:0], b.notDropped[:0]
		for b.n < batchSlots {
			err := r.Next(&rec)
			if errors.Is(err, io.EOF) {
				b.tornSegment, b.tornAt = r.Torn()
				full <- b
				return
			}
			if err != nil {
				b.err = err
				full <- b
				return
			}
			if rec.Seq < from {
				continue
			}
			if rec.Seq > from && first {
				b.err = fmt.Errorf("%w: it starts at input %d, the replay at %d", ErrMissing, rec.Seq, from)
				full <- b
				return
			}
			first = false
			if to > 0 && rec.Seq > to {
				full <- b
				return
			}
			s := &b.slots[b.n]
			s.RecvTime, s.Session, s.Account, s.Kind = rec.RecvTime, rec.Session, rec.Account, input.Kind(rec.Kind)
			if !s.SetPayload(rec.Payload) {
				s.Len = 0 // larger than any input: unmarshal rejects it as malformed
			}
			drop, listed := false, false
			if drops != nil { // a call per record otherwise (Matches is not inlined)
				drop, listed = drops.Matches(&rec)
			}
			if drop {
				unmarshal.Drop(rec.Seq, s)
				b.dropped = append(b.dropped, rec.Seq)
			} else {
				unmarshal.Decode(rec.Seq, s)
				if listed {
					b.notDropped = append(b.notDropped, rec.Seq)
				}
			}
			b.seqs[b.n] = rec.Seq
			b.n++
			if rec.Seq == to {
				// Not a record further: on a live journal the next one
				// may be half written (a node's resend reads its own).
				full <- b
				return
			}
		}
		full <- b
	}
}
