package config

import (
	"fmt"
	"time"
)

// parseSchedule parses snapshot.schedule: "HH:MM", or "" for no schedule
// (hour and minute -1).
func parseSchedule(s string) (hour, minute int, err error) {
	if s == "" {
		return -1, -1, nil
	}
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, 0, fmt.Errorf("%q is not a time of day HH:MM (00:00…23:59) or \"\"", s)
	}
	return t.Hour(), t.Minute(), nil
}

// Next returns the first scheduled snapshot time strictly after t (in
// UTC), and false when snapshot.schedule is "" or does not parse.
func (s Snapshot) Next(t time.Time) (time.Time, bool) {
	h, m, err := parseSchedule(s.Schedule)
	if err != nil || h < 0 {
		return time.Time{}, false
	}
	t = t.UTC()
	next := time.Date(t.Year(), t.Month(), t.Day(), h, m, 0, 0, time.UTC)
	if !next.After(t) {
		next = next.AddDate(0, 0, 1)
	}
	return next, true
}
