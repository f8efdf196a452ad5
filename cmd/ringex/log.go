package main

import (
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/asynclog"
)

// logBuffer is how many log lines may wait for a slow stderr before new
// ones are dropped (and counted in a later line).
const logBuffer = 16384

// newLogger builds the one logger the node gets: JSON by default, console
// with log.format=console (or --log-format), at log.level (--log-level).
// It writes through asynclog: a stage that logs never waits for the
// terminal or a log shipper; when logBuffer lines wait, more are dropped
// and the drop is reported. Stages log per session or per failure, never
// per event. close writes every line logged before it and leaves w open.
func newLogger(cfg *config.Config, w io.Writer) (log zerolog.Logger, close func()) {
	if cfg.Log.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	level, err := zerolog.ParseLevel(cfg.Log.Level)
	if err != nil {
		level = zerolog.InfoLevel
	}
	a := asynclog.New(w, logBuffer)
	return zerolog.New(a).Level(level).With().Timestamp().Logger(), func() { a.Close() }
}
