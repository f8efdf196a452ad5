package main

import (
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
)

// newLogger builds the one logger the node gets: JSON by default, console
// with log.format=console. Never on a hot path: stages log per event only
// on errors.
func newLogger(cfg *config.Config, w io.Writer) zerolog.Logger {
	if cfg.Log.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	level, err := zerolog.ParseLevel(cfg.Log.Level)
	if err != nil {
		level = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}
