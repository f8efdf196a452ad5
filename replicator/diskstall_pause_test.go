package replicator

import (
	"math/rand/v2"
	"testing"
	"time"
)

// judgeRun drives a diskWatch of limit 4 s started at 0 through wake-ups
// at the given seconds, with one disk operation under way from begin
// until end (seconds by the clock; end < 0: it never returns). It
// returns the wake-up at which the watch judged the operation stalled
// and how long it counted it there (-1 and 0: never).
func judgeRun(wakes []float64, begin, end float64) (float64, time.Duration) {
	const limit = 4 * time.Second
	at := func(s float64) time.Time { return time.Unix(1e6, 0).Add(time.Duration(s * float64(time.Second))) }
	w := newDiskWatch(limit, at(0))
	for _, s := range wakes {
		var waited time.Duration
		if s > begin && (end < 0 || s < end) {
			waited = at(s).Sub(at(begin))
		}
		if ran := w.judge(at(s), waited); ran >= limit {
			return s, ran
		}
	}
	return -1, 0
}

// A process frozen for longer than cluster.disk_stall_timeout with a
// disk write in flight (SIGSTOP, a paused or migrated VM) is not stopped
// when the disk answers after the wake: the watch counts at most a
// quarter of the limit per wake-up of its own. A disk that stops
// answering is still caught at the fifth wake-up after the operation
// began: within 1.25 of the limit on time, and however late the
// wake-ups come when the process is starved. It judged the clock's wait
// alone, and stopped a member that woke from a 6 s freeze with its raft
// log write just answered ("has waited 6.409s").
func TestDiskWatchTellsAFreezeFromAStall(t *testing.T) {
	onTime := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	// Frozen from about 3.5 s to 9.6 s: the wake-up due at 4 comes at 9.6.
	frozen := []float64{1, 2, 3, 9.6, 10.6, 11.6, 12.6, 13.6, 14.6, 15.6}
	for _, tc := range []struct {
		name       string
		wakes      []float64
		begin, end float64
		stopAt     float64 // -1: never
	}{
		{"a freeze, the disk answering right after the wake", frozen, 3.4, 9.7, -1},
		{"a freeze, the disk answering a quarter of the limit after the wake", frozen, 3.4, 10.7, -1},
		{"a freeze, the disk slow before it and answering after the wake", frozen, 1.1, 10.7, -1},
		{"a freeze, then the disk stalled", frozen, 3.4, -1, 13.6},
		{"a stall, the wake-ups on time", onTime, 3.4, -1, 8},
		{"a stall begun at the end of a gap", onTime, 3.99, -1, 8},
		{"a slow write, answered within the limit", onTime, 3.4, 7.3, -1},
		// Each wake-up three quarters of a period late: load 20 on 2 cores.
		{"a stall, the process starved", []float64{1.75, 3.5, 5.25, 7, 8.75, 10.5, 12.25, 14}, 2, -1, 10.5},
		{"a stall, every wake-up a freeze", []float64{10, 20, 30, 40, 50, 60, 70}, 15, -1, 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if at, ran := judgeRun(tc.wakes, tc.begin, tc.end); at != tc.stopAt {
				t.Fatalf("judged stalled at %v s (counted %v of a wait begun at %v s); want %v (-1: never)", at, ran, tc.begin, tc.stopAt)
			}
		})
	}
}

// On seeded random wake-ups (each at least a quarter of the limit after
// the one before, up to 20 times as far) and waits: the watch counts no
// more than the clock's wait — it never stops a member sooner than the
// clock alone did — and judges a wait that has not ended stalled by the
// fifth wake-up after it began.
func TestDiskWatchCountsNoMoreThanTheClockAndCatchesByTheFifthWake(t *testing.T) {
	const limit = 4 * time.Second
	every := limit / 4
	rng := rand.New(rand.NewPCG(1, 2))
	for run := range 20000 {
		start := time.Unix(1e6, 0)
		w := newDiskWatch(limit, start)
		now := start
		began := start.Add(time.Duration(rng.Int64N(int64(30 * time.Second))))
		woken := 0 // wake-ups since began
		for woken < 5 {
			gap := every + time.Duration(rng.Int64N(int64(every)))
			if rng.IntN(4) == 0 {
				gap = every + time.Duration(rng.Int64N(int64(20*every))) // a freeze, or starved
			}
			now = now.Add(gap)
			var waited time.Duration
			if now.After(began) {
				waited = now.Sub(began)
				woken++
			}
			ran := w.judge(now, waited)
			if ran > waited {
				t.Fatalf("run %d: counted %v of a wait of %v by the clock", run, ran, waited)
			}
			if ran >= limit {
				break
			}
			if woken == 5 {
				t.Fatalf("run %d: a wait begun at +%v not judged stalled at the fifth wake-up after it (+%v): counted %v",
					run, began.Sub(start), now.Sub(start), ran)
			}
		}
	}
}
