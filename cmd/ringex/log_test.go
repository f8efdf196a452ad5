package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testkit"
)

// millisecondTime is a log line's time as logTimeFormat writes it.
var millisecondTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$`)

func TestLoggerFormatsAndLevel(t *testing.T) {
	cfg := config.Default()
	var out testkit.SyncBuffer
	log, closeLog := newLogger(cfg, &out)
	log.Debug().Msg("hidden at info")
	log.Info().Int("n", 7).Msg("hello")
	closeLog()
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out.String())), &line); err != nil || line["message"] != "hello" || line["n"] != 7.0 {
		t.Fatalf("JSON log %q: %v", out.String(), err)
	}
	if ts, _ := line["time"].(string); !millisecondTime.MatchString(ts) {
		t.Fatalf("JSON log time %q, want it to the millisecond", ts)
	}

	cfg.Set("log.format", "console")
	cfg.Set("log.level", "debug")
	var con testkit.SyncBuffer
	log, closeLog = newLogger(cfg, &con)
	log.Debug().Msg("shown at debug")
	closeLog()
	if s := con.String(); !strings.Contains(s, "shown at debug") || strings.HasPrefix(s, "{") {
		t.Fatalf("console log %q", s)
	}
}

// --log-format console stamps each line to the millisecond too: a
// failover or a restart in place takes hundreds of milliseconds, and a
// terminal's lines a second apart could not be put in order. Written
// anywhere but a terminal (here a buffer) it has no colour codes.
func TestConsoleLogStampsMilliseconds(t *testing.T) {
	cfg := config.Default()
	cfg.Set("log.format", "console")
	var con testkit.SyncBuffer
	log, closeLog := newLogger(cfg, &con)
	log.Info().Msg("hello")
	closeLog()
	line := strings.TrimSpace(con.String())
	if strings.Contains(line, "\x1b[") {
		t.Fatalf("console log line %q to a buffer, not a terminal, has colour codes", line)
	}
	stamp, _, _ := strings.Cut(line, " ")
	if !millisecondTime.MatchString(stamp) {
		t.Fatalf("console log line %q: time %q, want it to the millisecond", line, stamp)
	}
}

// stuckWriter never returns, like a terminal nobody reads.
type stuckWriter struct{ block chan struct{} }

func (s stuckWriter) Write(p []byte) (int, error) { <-s.block; return len(p), nil }

// A stage that logs never waits for the log's destination: with stderr
// stuck, logging still returns at once (lines beyond the buffer are
// dropped and counted).
func TestLoggingNeverBlocks(t *testing.T) {
	w := stuckWriter{block: make(chan struct{})}
	log, closeLog := newLogger(config.Default(), w)
	done := make(chan struct{})
	go func() {
		for i := range 3 * logBuffer {
			log.Info().Int("i", i).Msg("line")
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("logging blocked on a stuck writer")
	}
	close(w.block)
	closeLog()
}

// closeRecorder is a log destination that remembers being closed.
type closeRecorder struct {
	testkit.SyncBuffer
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

// Closing the logger flushes it and leaves its destination open: it is
// stderr, where main then prints the error that stopped `ringex serve`
// (closed, every startup failure — a port in use, a corrupt journal —
// ended with exit status 1 and no word why).
func TestLoggerCloseLeavesStderrOpen(t *testing.T) {
	w := &closeRecorder{}
	log, closeLog := newLogger(config.Default(), w)
	log.Info().Msg("last line")
	closeLog()
	if w.closed {
		t.Fatal("closing the logger closed its destination")
	}
	if !strings.Contains(w.String(), "last line") {
		t.Fatalf("not flushed: %q", w.String())
	}
}

// Every line logged before close is written out, also while other
// goroutines log: close is what a restart in place calls before its exec
// and an exit before os.Exit, and the diode (the queue before lineQueue)
// stopped at the first slot a concurrent writer had claimed but not yet
// filled — dropping the lines after it, "restarting in place" among them
// (CI: the line was missing from a member's log, the exec's next lines
// there).
func TestLoggerCloseWritesEveryLineLogged(t *testing.T) {
	for round := range 200 {
		var out testkit.SyncBuffer
		log, closeLog := newLogger(config.Default(), &out)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
						log.Info().Msg("busy")
						time.Sleep(20 * time.Microsecond) // well within what the queue drains: none dropped
					}
				}
			})
		}
		time.Sleep(time.Millisecond)
		log.Warn().Msg("the last line")
		closeLog()
		close(stop)
		wg.Wait()
		if strings.Contains(out.String(), "dropped_lines") {
			t.Fatalf("round %d: lines dropped, the ring full (test setup)", round)
		}
		if !strings.Contains(out.String(), "the last line") {
			t.Fatalf("round %d: a line logged before close is not written out", round)
		}
	}
}

// lineSignal tells of each line written to it; it holds as many
// signals as its capacity, and a Write past them waits.
type lineSignal chan struct{}

func (s lineSignal) Write(p []byte) (int, error) { s <- struct{}{}; return len(p), nil }

// A line is written out with no line logged after it: a signal's
// "stopping", logged while recovery or Start waits, is the node's last
// line until they return. zerolog's diode, the queue before, left such a
// line in its ring until the next one now and then (its reader missed
// the wake-up of a line set between its look and its wait):
// TestSignalsDuringRecoveryAndStart's wait for "stopping" failed once
// under load, and here a line of the first few hundred stayed unwritten.
func TestEveryLogLineIsWrittenWithNoneAfterIt(t *testing.T) {
	const lines = 20000
	written := make(lineSignal, lines) // a line written out late does not hold up close
	log, closeLog := newLogger(config.Default(), written)
	defer closeLog()
	for i := range lines {
		log.Info().Int("i", i).Msg("alone")
		select {
		case <-written:
		case <-time.After(10 * time.Second):
			t.Fatalf("line %d not written out 10 s after it was logged, none after it", i)
		}
	}
}

// stopGate writes the line it names only once q's stop is closed (close
// has begun), every other line at once: the writing goroutine still
// writing a line as close runs.
type stopGate struct {
	testkit.SyncBuffer
	q    *lineQueue
	line string
}

func (g *stopGate) Write(p []byte) (int, error) {
	if strings.Contains(string(p), g.line) {
		<-g.q.stop
	}
	return g.SyncBuffer.Write(p)
}

// A line logged before close is written out by the time close returns,
// also while another goroutine's Write is under way: a Write puts its
// line in the queue and only then counts it, and close, which waited
// until as many lines were written out as it counted queued, took that
// one's line, written out first, for the last one's — and returned with
// the last one queued behind it (an exit then loses it).
func TestLoggerCloseWritesALineLoggedBesideAnother(t *testing.T) {
	for round := range 20 {
		g := &stopGate{line: "the last line"}
		q := newLineQueue(g, 16)
		g.q = q
		q.lines <- []byte("another goroutine's line, in the queue and not yet counted\n")
		q.Write([]byte("the last line\n"))
		q.close()
		if !strings.Contains(g.String(), "the last line") {
			t.Fatalf("round %d: a line logged before close was not written out when close returned: %q", round, g.String())
		}
	}
}
