package loadgen

import "time"

// Schedule gives the due time of each order of one connection.
type Schedule struct {
	start    time.Time
	interval time.Duration // 0: as fast as possible
}

// NewSchedule spreads ratePerSec orders per second over connections; rate
// 0 means no schedule (every order is due when it is sent).
func NewSchedule(start time.Time, ratePerSec, connections int) Schedule {
	s := Schedule{start: start}
	if ratePerSec > 0 && connections > 0 {
		s.interval = time.Duration(int64(time.Second) * int64(connections) / int64(ratePerSec))
		if s.interval <= 0 {
			s.interval = 1
		}
	}
	return s
}

// Conn is connection idx's schedule of n: its orders are due idx/n of an
// interval after the run's start, so the n connections' orders interleave
// one every 1/rate instead of coming n at once every n/rate.
func (s Schedule) Conn(idx, n int) Schedule {
	if s.interval > 0 && n > 0 {
		s.start = s.start.Add(s.interval * time.Duration(idx) / time.Duration(n))
	}
	return s
}

// Due is when order i (0-based) should be sent, or now when unscheduled.
func (s Schedule) Due(i int64, now time.Time) time.Time {
	if s.interval == 0 {
		return now
	}
	return s.start.Add(time.Duration(i) * s.interval)
}

// Open reports whether the schedule is paced (rate > 0).
func (s Schedule) Open() bool { return s.interval > 0 }

// Start is when the run's first order is due.
func (s Schedule) Start() time.Time { return s.start }
