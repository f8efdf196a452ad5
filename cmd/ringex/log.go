package main

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/rs/zerolog/diode"

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
// It writes through a non-blocking ring (zerolog's diode): a stage that
// logs never waits for the terminal or a log shipper; when the ring is
// full lines are dropped and the drop is reported. Stages log per session
// or per failure, never per event. Durations are logged in milliseconds
// (zerolog's Dur), so their fields end in _ms. close flushes what is
// buffered and leaves w open.
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
	// The diode closes a destination that is an io.Closer; stderr must
	// stay open for the error main prints after serve returns.
	out := &countedLines{w: w}
	d := diode.NewWriter(out, logBuffer, 0, func(missed int) {
		out.lost.Add(int64(missed))
		fmt.Fprintf(w, "{\"level\":\"warn\",\"dropped_lines\":%d,\"message\":\"log buffer full: lines dropped\"}\n", missed)
	})
	in := &countedLines{w: d}
	return zerolog.New(in).Level(level).With().Timestamp().Logger(), func() {
		// The diode's poller stops at the first slot a writer has claimed
		// and not yet filled, dropping the lines after it: close waits
		// until every line handed to it before now is out (or counted
		// lost), up to closeLogWait. A restart in place's last line was
		// lost so, another goroutine logging beside it.
		sent := in.lines.Load()
		for deadline := time.Now().Add(closeLogWait); out.lines.Load()+out.lost.Load() < sent && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		d.Close()
	}
}

// closeLogWait bounds how long closing the logger waits for its lines to
// be written out: a destination that blocks (a full pipe) must not keep a
// stop or an exec waiting.
const closeLogWait = time.Second

// countedLines counts the lines (writes: zerolog writes a line at a time)
// written through it, and lost: lines the diode dropped.
type countedLines struct {
	w     io.Writer
	lines atomic.Int64
	lost  atomic.Int64
}

func (c *countedLines) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.lines.Add(1)
	return n, err
}
