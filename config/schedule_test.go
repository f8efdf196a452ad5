package config

import (
	"testing"
	"time"
)

func TestSnapshotNext(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		schedule, now, want string
	}{
		{"00:00", "2026-03-01T12:00:00Z", "2026-03-02T00:00:00Z"},
		{"00:00", "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"}, // strictly after
		{"13:30", "2026-03-01T12:00:00Z", "2026-03-01T13:30:00Z"},
		{"23:59", "2026-12-31T23:59:30Z", "2027-01-01T23:59:00Z"},
		{"02:00", "2026-03-01T01:00:00+02:00", "2026-03-01T02:00:00Z"}, // UTC
	}
	for _, tt := range tests {
		got, ok := Snapshot{Schedule: tt.schedule}.Next(at(tt.now))
		if !ok || !got.Equal(at(tt.want)) {
			t.Errorf("%s after %s = %v %v, want %s", tt.schedule, tt.now, got, ok, tt.want)
		}
	}
	for _, s := range []string{"", "24:00", "7:00", "noon"} {
		if _, ok := (Snapshot{Schedule: s}).Next(time.Now()); ok {
			t.Errorf("schedule %q has a next time", s)
		}
	}
}
