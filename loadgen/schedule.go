package loadgen

import "time"

// Schedule gives the due time of each order of one connection.
//
// Invariant: with rate r > 0 over n connections, the run's k-th order
// (0-based, counted over all connections) is due exactly k/r seconds
// after the start, computed without rounding the interval first:
// `--rate 3 --duration 1s` has 3 orders due in the second, not 4
// (a 333 333 333 ns interval puts a fourth at 999 999 999 ns).
type Schedule struct {
	start       time.Time
	rate        int64 // orders per second over every connection; 0: as fast as possible
	connections int64 // n: this connection's i-th order is the run's (i×n + idx)-th
	idx         int64
}

// NewSchedule spreads ratePerSec orders per second over connections; rate
// 0 means no schedule (every order is due when it is sent).
func NewSchedule(start time.Time, ratePerSec, connections int) Schedule {
	s := Schedule{start: start, connections: 1}
	if ratePerSec > 0 && connections > 0 {
		s.rate, s.connections = int64(ratePerSec), int64(connections)
	}
	return s
}

// Conn is connection idx's schedule of n: its orders are the run's
// idx-th, (idx+n)-th, (idx+2n)-th…, so the n connections' orders
// interleave one every 1/rate instead of coming n at once every n/rate.
func (s Schedule) Conn(idx, n int) Schedule {
	if s.rate > 0 && n > 0 {
		s.connections, s.idx = int64(n), int64(idx)
	}
	return s
}

// Due is when order i (0-based) should be sent, or now when unscheduled.
func (s Schedule) Due(i int64, now time.Time) time.Time {
	if s.rate == 0 {
		return now
	}
	// k/rate seconds, split so that k×1e9 cannot overflow: k stays
	// below 2^63/1e9 only for runs of 9.2e9 orders, and a long run at
	// a high rate over many connections passes that.
	k := i*s.connections + s.idx
	whole, part := k/s.rate, k%s.rate
	return s.start.Add(time.Duration(whole)*time.Second + time.Duration(part*int64(time.Second)/s.rate))
}

// Open reports whether the schedule is paced (rate > 0).
func (s Schedule) Open() bool { return s.rate > 0 }

// Start is when the run's first order is due.
func (s Schedule) Start() time.Time { return s.Due(0, s.start) }
