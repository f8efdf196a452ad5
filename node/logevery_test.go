package node

import (
	"testing"
	"time"
)

// One line per period; the next one let through says how many were held
// back. A stranger's thousand refused Subscribes a second are one line.
func TestLogEveryLetsOneLinePerPeriodThrough(t *testing.T) {
	var l logEvery
	if ok, held := l.allow(time.Hour); !ok || held != 0 {
		t.Fatalf("first line: %v, %d held back", ok, held)
	}
	for i := range 1000 {
		if ok, _ := l.allow(time.Hour); ok {
			t.Fatalf("line %d within the period let through", i+2)
		}
	}
	l.loggedAt.Add(-int64(2 * time.Hour)) // the period has passed
	if ok, held := l.allow(time.Hour); !ok || held != 1000 {
		t.Fatalf("after the period: %v, %d held back, want 1000", ok, held)
	}
}
