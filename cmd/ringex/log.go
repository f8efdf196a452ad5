package main

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
)

// logBuffer is how many log lines may wait for a slow stderr before new
// ones are dropped (and counted in a later line).
const logBuffer = 16384

// logTimeFormat stamps each line to the millisecond (zerolog's default is
// the second): a failover, a stop and a restart in place take hundreds of
// milliseconds, and lines a second apart could not be told apart or put
// in order across nodes.
const logTimeFormat = "2006-01-02T15:04:05.000Z07:00"

func init() { zerolog.TimeFieldFormat = logTimeFormat } // a global of zerolog's: set once, before any logger

// newLogger builds the one logger the node gets: JSON by default, console
// with log.format=console (or --log-format), at log.level (--log-level).
// It writes through a bounded queue (lineQueue): a stage that logs never
// waits for the terminal or a log shipper; when the queue is full lines
// are dropped and the drop is reported. Stages log per session or per
// failure, never per event. Durations are logged in milliseconds
// (zerolog's Dur), so their fields end in _ms. close flushes what is
// queued and leaves w open.
func newLogger(cfg *config.Config, w io.Writer) (log zerolog.Logger, close func()) {
	if cfg.Log.Format == "console" {
		// The same stamp as JSON lines: RFC 3339 alone drops the
		// milliseconds logTimeFormat keeps.
		// Colours only on a terminal: in a file or a pipe the escape
		// codes are noise in every line.
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: logTimeFormat, NoColor: !isTerminal(w)}
	}
	level, err := zerolog.ParseLevel(cfg.Log.Level)
	if err != nil {
		level = zerolog.InfoLevel
	}
	q := newLineQueue(w, logBuffer)
	return zerolog.New(q).Level(level).With().Timestamp().Logger(), q.close
}

// closeLogWait bounds how long closing the logger waits for its lines to
// be written out: a destination that blocks (a full pipe) must not keep a
// stop or an exec waiting.
const closeLogWait = time.Second

// lineQueue is the logger's destination: up to size lines wait in a
// channel, and one goroutine writes them out to w in order. A line
// written while size lines wait is dropped, and the drop reported in a
// line of its own once the writer has caught up. It never closes w:
// stderr must stay open for the error main prints after serve returns.
//
// A channel, not zerolog's diode: the diode's reader looked for a line
// and then waited, under a lock its writers do not take, for their
// wake-up, so a line set between the look and the wait stayed in the
// ring until the next one was logged — a signal's "stopping" logged
// while the node waited in recovery or Start, nothing after it, never
// showed (TestEveryLogLineIsWrittenWithNoneAfterIt). Its reader also
// stopped at a slot a writer had claimed and not yet filled.
type lineQueue struct {
	w     io.Writer
	lines chan []byte
	stop  chan struct{} // closed by close (once): the writing goroutine writes out what is queued and ends
	done  chan struct{} // closed by the writing goroutine as it ends
	once  sync.Once
	// dropped is lines dropped and not yet reported (the writing
	// goroutine reports and clears it).
	dropped atomic.Int64
}

func newLineQueue(w io.Writer, size int) *lineQueue {
	q := &lineQueue{w: w, lines: make(chan []byte, size), stop: make(chan struct{}), done: make(chan struct{})}
	go q.writeOut()
	return q
}

// Write queues a copy of p (zerolog reuses it) and never waits: with the
// queue full, p is dropped.
func (q *lineQueue) Write(p []byte) (int, error) {
	select {
	case q.lines <- bytes.Clone(p):
	default:
		q.dropped.Add(1)
	}
	return len(p), nil
}

// writeOut writes the queued lines out until close, then the lines
// queued when it saw close begin — every line logged before close was
// called is among them — and ends.
func (q *lineQueue) writeOut() {
	defer close(q.done)
	for {
		select {
		case line := <-q.lines:
			q.writeLine(line)
		case <-q.stop:
			for n := len(q.lines); n > 0; n-- {
				q.writeLine(<-q.lines)
			}
			return
		}
	}
}

// writeLine writes line out, and after it the lines dropped since the
// last report, if any (writing goroutine).
func (q *lineQueue) writeLine(line []byte) {
	q.w.Write(line)
	if missed := q.dropped.Swap(0); missed > 0 {
		fmt.Fprintf(q.w, "{\"level\":\"warn\",\"dropped_lines\":%d,\"message\":\"log buffer full: lines dropped\"}\n", missed)
	}
}

// close has the writing goroutine write out every line queued before it
// and end, and waits for that up to closeLogWait; a line logged after it
// may be queued and never written out. A restart in place calls it before
// its exec, an exit before os.Exit; again, it does nothing.
//
// It waits for the goroutine's end, not for a count of lines written: a
// Write puts its line in the queue before anything can count it, so a
// count of lines queued, read by close, missed one whose Write was under
// way, and the lines written out reached it with a line logged before
// close still queued behind that one.
func (q *lineQueue) close() {
	q.once.Do(func() {
		close(q.stop)
		t := time.NewTimer(closeLogWait)
		defer t.Stop()
		select {
		case <-q.done:
		case <-t.C:
		}
	})
}
