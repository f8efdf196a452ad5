package main

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/loadgen"
	"github.com/ringex/ringex/proto/wire"
)

// mdLoad holds market-data subscribers open through a bench run
// (--md-subscribers): each subscribes to the run's instrument and reads
// every update as it comes, as a feed's clients would. What they cost
// the node shows in its throughput and latency; what they got, and how
// many the node cut off (too slow, or not-current), in the result.
type mdLoad struct {
	conns   []*client.Client
	wg      sync.WaitGroup
	updates atomic.Int64 // added by each reader when it ends
	cut     atomic.Int64 // connections the node closed before the run's end
	closing atomic.Bool
	// end is when the run's duration is over (Unix ns; 0: not known yet,
	// the run not begun). A connection that ends after it is not a cut:
	// what the run measured it measured with the subscriber there — a
	// node stopped as the run ended (a script's) hung up on it while the
	// bench waited for its last answers.
	end  atomic.Int64
	once sync.Once

	mu       sync.Mutex
	firstCut error          // the read error of the first connection cut, under mu
	byCause  map[string]int // the connections cut, by the cause the node gave; under mu
}

// startMDLoad connects --md-subscribers subscribers (round robin over
// --md-addr), logs each on, and returns once each has its book snapshot.
func startMDLoad(o *benchOptions) (*mdLoad, error) {
	l := &mdLoad{}
	addrs := o.mdAddrs
	tlsCfg, err := o.mdTLS.config()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	for i := range o.mdSubscribers {
		// Logged on as the run's accounts (round robin): a port with
		// marketdata.require_logon serves no Subscribe before; one
		// without answers the Logon unchecked.
		acct := uint32(o.accounts[i%len(o.accounts)])
		c, err := client.DialMarketDataLogon(addrs[i%len(addrs)], acct, o.secrets[acct], client.Options{AutoFlush: true, Timeout: 5 * time.Second, TLS: tlsCfg})
		err = mdHint(err, tlsCfg, "--md-tls")
		if errors.Is(err, client.ErrTooManyConnections) {
			err = fmt.Errorf("the port refused the connection: %w (marketdata.max_connections?)", err)
		}
		if err != nil {
			l.stop()
			return nil, fmt.Errorf("bench: market-data connection %d: %w", i, err)
		}
		l.conns = append(l.conns, c)
		if err := subscribed(c, o.instrument); err != nil {
			l.stop()
			return nil, fmt.Errorf("bench: market-data connection %d: %w", i, err)
		}
		l.wg.Add(1)
		go l.read(i, c)
	}
	return l, nil
}

// notCurrentRetry is how long subscribed waits before it sends a
// Subscribe refused NotCurrent again.
const notCurrentRetry = 100 * time.Millisecond

// subscribed subscribes c to instrument and waits up to 5 s for the book
// snapshot that starts its updates. A cluster member not current —
// just started and not yet caught up with its leader, or out of touch
// with it (node/mdcurrent.go) — refuses the Subscribe NotCurrent and
// leaves the connection open: the Subscribe goes again, every 100 ms,
// within the 5 s.
func subscribed(c *client.Client, instrument uint32) error {
	if err := c.Subscribe(instrument); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	refused := 0
	for {
		m, err := c.Next()
		switch {
		case err != nil && refused > 0:
			return fmt.Errorf("subscribe to instrument %d: refused NotCurrent %d times (a cluster member not caught up with its leader, or out of touch with it), then %w", instrument, refused, err)
		case err != nil:
			return err
		case m.Type == wire.MessageLogonReject:
			// The port serves marketdata.max_connections subscribers
			// (and so many per address); it then hangs up.
			return fmt.Errorf("the port refused the connection: %s (marketdata.max_connections?)", m.LogonReject)
		case m.Type == wire.MessageSubscribeReject && m.SubscribeReject == wire.SubscribeRejectReasonNotCurrent:
			refused++
			time.Sleep(notCurrentRetry)
			if err := c.Subscribe(instrument); err != nil {
				return err
			}
		case m.Type == wire.MessageSubscribeReject:
			return fmt.Errorf("subscribe to instrument %d: %s", instrument, m.SubscribeReject)
		case m.Type == wire.MessageBookSnapshot:
			return nil
		}
	}
}

// read counts c's (subscriber i's) updates until the connection ends.
func (l *mdLoad) read(i int, c *client.Client) {
	defer l.wg.Done()
	var m client.Message
	n := int64(0)
	for {
		if err := c.NextInto(&m); err != nil {
			if end := l.end.Load(); !l.closing.Load() && (end == 0 || time.Now().UnixNano() < end) {
				l.cut.Add(1)
				l.mu.Lock()
				if l.firstCut == nil {
					l.firstCut = fmt.Errorf("subscriber %d: %w", i, err)
				}
				l.byCause = countCause(l.byCause, err)
				l.mu.Unlock()
			}
			l.updates.Add(n)
			return
		}
		switch m.Type {
		case wire.MessageLevelUpdate, wire.MessageTrade, wire.MessageTradingStatus:
			n++
		}
	}
}

// runEnds tells the readers when the run's duration is over: a
// connection that ends after it is not counted cut.
func (l *mdLoad) runEnds(end time.Time) { l.end.Store(end.UnixNano()) }

// stop closes the subscribers and waits for their readers; it may be
// called more than once.
func (l *mdLoad) stop() {
	l.once.Do(func() {
		l.closing.Store(true)
		for _, c := range l.conns {
			c.Close()
		}
		l.wg.Wait()
	})
}

// cutErr is the run's error when the node cut subscribers before it
// ended (nil when it cut none): the run's updates and the node's
// throughput beside them are not what subscribers that kept up cost.
// Call it after stop.
func (l *mdLoad) cutErr() error {
	n := l.cut.Load()
	if n == 0 {
		return nil
	}
	return &subscribersCut{n: int(n), of: len(l.conns), first: l.firstCut}
}

// countCause adds one to counts under the cause the node gave for
// closing the connection err ended (loadgen.Untold: none), and returns
// counts (made when nil).
func countCause(counts map[string]int, err error) map[string]int {
	if counts == nil {
		counts = map[string]int{}
	}
	cause := client.ClosedBy(err)
	if cause == "" {
		cause = loadgen.Untold
	}
	counts[cause]++
	return counts
}

// subscribersCut: the node closed market-data subscribers of the run
// before it ended.
type subscribersCut struct {
	n, of int
	first error
}

func (e *subscribersCut) Error() string {
	return fmt.Sprintf("bench: the node cut %d of %d market-data subscribers before the run ended (%v); "+
		"a subscriber reading slower than the updates come is cut as a slow consumer "+
		"(more unsent than marketdata.send_buffer_bytes), a cluster member out of touch with its leader cuts them all (not_current); "+
		"for those the node did not say why, its ringex_marketdata_closed_total{cause} and its log (\"market data: slow subscriber disconnected\") do",
		e.n, e.of, e.first)
}
