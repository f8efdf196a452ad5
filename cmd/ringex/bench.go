package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/loadgen"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// benchOptions are `ringex bench`'s flags.
type benchOptions struct {
	addr        string
	rate        int
	duration    time.Duration
	connections int
	mix         string
	instrument  uint32
	price       int64
	accounts    []uint
	secretFmt   string
	json        bool
	plot        string
	window      int
	rest        int
	restAccount uint
	// market-data subscribers held open through the run
	mdSubscribers int
	mdAddr        string
	// mdAddrs are mdAddr's addresses (runBench: addrList, with
	// --md-subscribers), the subscribers' round robin.
	mdAddrs []string
	// configPath names the config --instrument's tick size and price band
	// are read from; runBench resolves them into tick and band (ticks, 0:
	// none).
	configPath string
	tick, band int64
	// secrets holds the secret of each account the run logs on as
	// (runBench: --secret-format's, or the config's).
	secrets map[uint32]string
	tls     gatewayTLSFlags
	// mdTLS is the market-data port's (--md-tls): a node's two ports
	// have TLS each on its own (gateway.tls, marketdata.tls).
	mdTLS gatewayTLSFlags
	// dial is how the run's sessions log on (runBench: --addr, TLS).
	dial func(acct uint32) (*client.Client, error)
}

func newBenchCmd() *cobra.Command {
	o := benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Open-loop load generator: orders/s and latency percentiles against a running node",
		Long: `Sends orders over TCP through the client library at a fixed rate (open
loop: the schedule never waits for answers) and measures, for each order,
the time from when it was due to be sent until its first execution report
arrived (the read from the socket that brought it returned) — so a stall
is charged to every order it delayed (no coordinated omission). --rate 0
sends as fast as the connections allow. It also reports how late it
wrote the orders itself (sender lag): latency below that is the load
generator's, not the node's. Run on the node's host (one clock), it also
splits each trip at the gateway's receive stamp that reports carry:
written → received by the gateway, and gateway → report read.

A connection the node hangs up on (a client too slow to read its reports
is disconnected) stops; the run goes on with the others, prints what it
measured (connections_lost in the JSON) and exits with an error. So
does a run with orders unanswered at its end, and one in which the node
accepted no order (all rejected: an instrument it does not list, a price
outside the band — rejected_by_reason says which). A run does not follow
a failover: a cluster's leader deposed or stopped under it (a rolling
restart reaching the leader) hangs up on every connection (not_leader,
shutdown in connections_lost_by_cause) — run it again.

Mixes:
  cross    buys and sells at the same price (connections in pairs, one
           buying and one selling; the last of an odd number alternates),
           from the --accounts: every pair trades, an order meeting its own
           account's cancels it (STP cancel-resting), the book stays small
           (default)
  passive  GTC orders 100 to 199 ticks away from --price, each cancelled by
           the next message

Prices are in the instrument's price units (--price a multiple of its
tick); its tick size and price band come from the config (--config; the
embedded demo config by default), and so do the secrets the connections
log on with, unless --secret-format gives them.

--rest N first rests N orders away from the touch (bids and asks on 250
levels from 200 ticks off --price outward, 100 ticks apart or closer so
that all are inside the price band; 200 000 a second), from one more session
logged on as --rest-account, and keeps them through the run: a book as
deep as an exchange's, for the engine's snapshots and lookups to work
on. That session closes at the end (an account with cancel_on_disconnect
then loses them). The node's engine.max_open_orders (100 000 by
default) bounds the orders of an account: rest more against a node
started with --set engine.max_open_orders=0 (the demo's account 3 then
has no limit).

--md-subscribers N holds N market-data connections open through the run
(on --md-addr, round robin), each subscribed to --instrument and reading
every update: what subscribers cost the node shows in its throughput and
latency, and the result says how many updates they got and how many the
node cut off before the run ended, by the cause the node gave each
(slow_consumer, not_current, …; untold: it gave none). A run whose subscribers the node cut during its --duration
prints its result and fails (exit status 1), saying how many and the
causes to look for; one hung up on after it (a node stopped as the run
ended) is not counted. They speak TLS with --md-tls (--md-tls-ca),
to a node with marketdata.tls: --tls is order entry's alone, as the two
ports' TLS are set apart (gateway.tls, marketdata.tls).

--json prints one object (a key with nothing to say is left out, not
zero or empty: rejected_by_reason, connections_lost_by_cause, rested,
market_data and its disconnected_by_cause):
  sent, acked, rejected   orders written; first answers read (rejections
                          included); of those, rejections
  rejected_by_reason      rejected, by reject reason
  unanswered              orders due in the run with no answer at its end
                          (never sent, or never answered within 5 s after
                          it): in the latencies with the time they waited
  connections, connections_lost, target_rate_per_s
                          --connections, those the node hung up on, --rate
  connections_lost_by_cause
                          those by the cause the node gave (rate_limit,
                          slow_consumer, not_leader, …; untold: none)
  duration_s              from the first order due until the last answer
                          (or giving up on it): --duration and the tail
  throughput_per_s        accepted orders (acked less rejected) per second
                          of duration_s; not orders sent, nor answered
  p50_us p90_us p99_us p999_us p9999_us max_us
                          latency in µs, due → first report, of every
                          order due (unanswered ones included)
  send_lag_p50_us send_lag_p99_us
                          due → written (paced runs; 0 with --rate 0)
  to_gateway_p50_us to_gateway_p99_us from_gateway_p50_us from_gateway_p99_us
                          written → gateway receive, and → report read
                          (one clock: on the node's host only)
  rested                  --rest
  market_data             with --md-subscribers: subscribers, updates
                          (read by all of them), disconnected,
                          disconnected_by_cause (as connections_lost_by_cause)`,
		Example: `  ringex bench --rate 100000 --duration 10s --connections 8
  ringex bench --rate 0 --duration 10s --json
  ringex bench --rate 50000 --plot latency.svg
  ringex bench --rest 1000000 --rate 100000 --duration 10s --json
  ringex bench --rate 20000 --md-subscribers 64`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.mdSubscribers > 0 && cmd.Flag("addr").Changed && !cmd.Flag("md-addr").Changed {
				// The default market-data address is a local node's (or
				// none): not the node --addr names.
				return errors.New("bench: --md-subscribers with --addr needs --md-addr, the market-data address of the node under load")
			}
			res, err := runBench(o)
			var lost *connectionsLost
			var unanswered *ordersUnanswered
			var rejected *noneAccepted
			var cut *subscribersCut
			if err != nil && !errors.As(err, &lost) && !errors.As(err, &unanswered) && !errors.As(err, &rejected) && !errors.As(err, &cut) {
				return err
			}
			if err := writeBenchResult(cmd.OutOrStdout(), res, &o); err != nil {
				return err
			}
			return err // nil, or what went wrong in a run that still printed what it measured
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:7400", "gateway address; for a cluster, every member's, comma-separated (connections log on to the leader)")
	f.IntVar(&o.rate, "rate", 10000, "orders per second in total; 0 = as fast as possible")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "how long to send")
	f.IntVar(&o.connections, "connections", 4, "connections (sessions)")
	f.StringVar(&o.mix, "mix", "cross", "order mix: cross or passive")
	f.Uint32Var(&o.instrument, "instrument", 1, "instrument id")
	f.Int64Var(&o.price, "price", 6_000_000, "price to trade around, in the instrument's price units (a multiple of its tick)")
	f.StringVar(&o.configPath, "config", "", "config file giving --instrument's tick size and price band (default: the embedded demo config)")
	f.UintSliceVar(&o.accounts, "accounts", []uint{1, 2}, "accounts the connections log on as (round robin)")
	f.StringVar(&o.secretFmt, "secret-format", "", "secret of account N as a pattern with one %d for N, e.g. demo-secret-%d (default: each account's secret in --config, which ps does not show every local user as it does a flag's value)")
	f.BoolVar(&o.json, "json", false, "print one JSON object")
	f.StringVar(&o.plot, "plot", "", "write a latency-percentile plot (SVG) to this file")
	f.IntVar(&o.rest, "rest", 0, "orders to rest away from the touch before the run, kept through it")
	f.UintVar(&o.restAccount, "rest-account", 3, "account the resting orders are placed as (its max_open_orders, else the node's engine.max_open_orders, must allow --rest)")
	f.IntVar(&o.mdSubscribers, "md-subscribers", 0, "market-data subscribers of --instrument held open through the run")
	f.StringVar(&o.mdAddr, "md-addr", "127.0.0.1:7401", "market-data address(es) for --md-subscribers, comma-separated (every cluster member serves market data)")
	o.tls.register(cmd, false)
	o.mdTLS.registerMD(cmd)
	f.IntVar(&o.window, "window", 4096, "most orders one connection has sent without an answer; the sender waits above it (a client that lets more answers pile up than the node's send buffer holds is disconnected)")
	return cmd
}

// writeBenchResult prints the result, then writes the plot (with --plot).
// The result first: a plot that cannot be drawn (a run with no latency
// to plot) failed the command before it printed what was measured.
func writeBenchResult(w io.Writer, res loadgen.Result, o *benchOptions) error {
	var err error
	if o.json {
		err = res.WriteJSON(w)
	} else {
		err = res.WriteText(w)
	}
	if o.plot != "" {
		title := fmt.Sprintf("ringex bench: %d connections, rate %d/s, %s mix", o.connections, o.rate, o.mix)
		err = errors.Join(err, writePlot(o.plot, res, title))
	}
	return err
}

// writePlot writes res's latency plot to path; a plot it could not write
// leaves no file (an empty one read as a plot of nothing).
func writePlot(path string, res loadgen.Result, title string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err = res.WritePlotSVG(f, title); err == nil {
		err = f.Close()
	} else {
		f.Close()
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("--plot %s: %w", path, err)
	}
	return nil
}

// inflight maps client order ids to due times; a ring, since ids grow by
// one per order on a connection.
const inflightSlots = 1 << 18

// Connection idx numbers its orders idx<<connIDShift + 1, 2, …: connections
// logged on as the same account (--accounts round robin) must not reuse each
// other's client order ids, which the node rejects as duplicates while the
// first order lives.
const connIDShift = 40

func runBench(o benchOptions) (loadgen.Result, error) {
	if o.connections < 1 || len(o.accounts) == 0 {
		return loadgen.Result{}, fmt.Errorf("bench: need at least one connection and one account")
	}
	if o.window < 1 || o.window > inflightSlots/2 {
		return loadgen.Result{}, fmt.Errorf("bench: --window must be 1..%d", inflightSlots/2)
	}
	if o.mix != "cross" && o.mix != "passive" {
		return loadgen.Result{}, fmt.Errorf("bench: --mix %q: want cross or passive", o.mix)
	}
	if o.rate < 0 || o.duration <= 0 {
		return loadgen.Result{}, fmt.Errorf("bench: --rate must not be negative (0: as fast as possible) and --duration must be positive")
	}
	if o.rest < 0 || o.mdSubscribers < 0 {
		return loadgen.Result{}, fmt.Errorf("bench: --rest and --md-subscribers must not be negative")
	}
	addrs, err := addrList("--addr", o.addr, "the gateway's address, or every cluster member's, comma-separated")
	if err != nil {
		return loadgen.Result{}, fmt.Errorf("bench: %w", err)
	}
	if o.mdSubscribers > 0 {
		if o.mdAddrs, err = addrList("--md-addr", o.mdAddr, "a market-data address, or several, comma-separated"); err != nil {
			return loadgen.Result{}, fmt.Errorf("bench: %w", err)
		}
	}
	cfg, err := loadConfig(o.configPath, nil)
	if err != nil {
		return loadgen.Result{}, fmt.Errorf("bench: %w", err)
	}
	if o.secrets, err = benchSecrets(cfg, &o); err != nil {
		return loadgen.Result{}, err
	}
	tlsCfg, err := o.tls.config()
	if err != nil {
		return loadgen.Result{}, fmt.Errorf("bench: %w", err)
	}
	o.dial = func(acct uint32) (*client.Client, error) {
		c, err := client.DialCluster(addrs, acct, o.secrets[acct], client.Options{TLS: tlsCfg}, 5*time.Second)
		return c, logonHint(err, tlsCfg)
	}
	o.tick, o.band = 1, 0 // an instrument the config does not list
	for _, in := range cfg.Instruments {
		if in.ID == o.instrument {
			o.tick, o.band = in.TickSize, in.PriceBandTicks
		}
	}
	if o.rest > 0 {
		stop, err := restOrders(o)
		if err != nil {
			return loadgen.Result{}, err
		}
		defer stop()
	}
	var md *mdLoad
	if o.mdSubscribers > 0 {
		var err error
		if md, err = startMDLoad(&o); err != nil {
			return loadgen.Result{}, err
		}
		defer md.stop()
	}
	rec := loadgen.Recorder{ReasonName: func(r uint8) string { return engine.RejectReason(r).String() }}
	conns := make([]*client.Client, o.connections)
	recs := make([]*loadgen.ConnRecorder, o.connections)
	for i := range conns {
		acct := uint32(o.accounts[i%len(o.accounts)])
		c, err := o.dial(acct)
		if err != nil {
			return loadgen.Result{}, fmt.Errorf("bench: connection %d: %w", i, err)
		}
		defer c.Close()
		conns[i], recs[i] = c, rec.NewConn()
	}
	start := time.Now().Add(50 * time.Millisecond)
	sched := loadgen.NewSchedule(start, o.rate, o.connections)
	end := start.Add(o.duration)
	if md != nil {
		md.runEnds(end)
	}
	var wg sync.WaitGroup
	connErrs := make([]error, len(conns)) // connection i's, written by its goroutine
	for i := range conns {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			connErrs[i] = benchConn(conns[i], recs[i], sched.Conn(i, len(conns)), end, i, &o)
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := rec.Summarize(recs, elapsed, o.rate)
	res.Rested = o.rest
	var mdErr error // subscribers cut: the run failed, whatever else it met
	if md != nil {
		md.stop()
		res.MarketData = &loadgen.MarketDataLoad{Subscribers: o.mdSubscribers, Updates: md.updates.Load(), Disconnected: int(md.cut.Load()),
			DisconnectedByCause: md.byCause}
		mdErr = md.cutErr()
	}
	var lost connectionsLost
	for i, err := range connErrs {
		if err != nil {
			if lost.first == nil {
				lost.first = fmt.Errorf("connection %d: %w", i, err)
			}
			lost.n++
			res.ConnectionsLostByCause = countCause(res.ConnectionsLostByCause, err)
			lost.untold = res.ConnectionsLostByCause[loadgen.Untold]
		}
	}
	if lost.n > 0 {
		res.ConnectionsLost, lost.of = lost.n, len(conns)
		return res, errors.Join(&lost, mdErr)
	}
	if res.Unanswered > 0 {
		return res, errors.Join(&ordersUnanswered{res.Unanswered}, mdErr)
	}
	if res.Acked > 0 && res.Acked == res.Rejected {
		return res, errors.Join(&noneAccepted{res.RejectedByReason}, mdErr)
	}
	return res, mdErr
}

// noneAccepted is a run none of whose orders was accepted: it measured
// the node's rejections (an instrument it does not list, a price outside
// the band), not its trading.
type noneAccepted struct{ byReason map[string]int64 }

func (e *noneAccepted) Error() string {
	var by []string
	for _, name := range slices.Sorted(maps.Keys(e.byReason)) {
		by = append(by, fmt.Sprintf("%s %d", name, e.byReason[name]))
	}
	return fmt.Sprintf("bench: no order was accepted (rejected: %s): check --instrument, --price and the accounts", strings.Join(by, ", "))
}

// benchSecrets returns the secret of every account the run logs on as
// (--accounts, and --rest-account with --rest): --secret-format's, or the
// config's. Neither a secret nor the pattern is shown in an error.
func benchSecrets(cfg *config.Config, o *benchOptions) (map[uint32]string, error) {
	if f := o.secretFmt; f != "" && (strings.Count(strings.ReplaceAll(f, "%%", ""), "%") != 1 || strings.Contains(fmt.Sprintf(f, uint32(1)), "%!")) {
		return nil, errors.New("bench: --secret-format: want a pattern with one %d for the account id (and %% for a %), or none: the config's secrets")
	}
	accts := slices.Clone(o.accounts)
	if o.rest > 0 {
		accts = append(accts, o.restAccount)
	}
	secrets := map[uint32]string{}
	for _, a := range accts {
		acct := uint32(a)
		if o.secretFmt != "" {
			secrets[acct] = fmt.Sprintf(o.secretFmt, acct)
			continue
		}
		for _, ca := range cfg.Accounts {
			if ca.ID == acct {
				secrets[acct] = ca.Secret
			}
		}
		if secrets[acct] == "" {
			return nil, fmt.Errorf("bench: account %d is not in the config (--config) and there is no --secret-format to make its secret", acct)
		}
	}
	return secrets, nil
}

// ordersUnanswered is a run in which orders due went unanswered.
type ordersUnanswered struct{ n int64 }

func (e *ordersUnanswered) Error() string {
	return fmt.Sprintf("bench: %d orders due in the run were never sent or never answered (within %v after its end)", e.n, drainWait)
}

// drainWait is how long after the run's end a connection waits for the
// answers still due: its sender stops there too, window full or not.
const drainWait = 5 * time.Second

// restRate paces the resting orders (per second): below the per-session
// message limit of the demo config (gateway.rate_limit 500 000), above
// which the node rejects messages.
const restRate = 200_000

// restOrders logs on as --rest-account and rests --rest orders, bids
// below --price and asks above it, out of reach of the run's orders
// (cross trades at --price, passive comes within 200 ticks). It returns
// once every one is accepted, with the session kept alive (heartbeats,
// its messages read) until stop is called, which closes it.
func restOrders(o benchOptions) (stop func(), err error) {
	acct := uint32(o.restAccount)
	c, err := o.dial(acct)
	if err != nil {
		return nil, fmt.Errorf("bench: resting session: %w", err)
	}
	var accepted atomic.Int64
	placed := make(chan error, 1) // nil once every order is accepted
	go func() {
		for {
			m, err := c.Next()
			if err != nil {
				select {
				case placed <- err:
				default:
				}
				return
			}
			if m.Type != wire.MessageExecutionReport || accepted.Load() == int64(o.rest) {
				continue
			}
			if m.Report.Kind != wire.ExecKindAccepted {
				placed <- fmt.Errorf("order %d: %s %s", m.Report.ClientOrderID, m.Report.Kind, engine.RejectReason(m.Report.Reason))
				return
			}
			if accepted.Add(1) == int64(o.rest) {
				placed <- nil
			}
		}
	}()
	start := time.Now()
	step := int64(100) // ticks between resting levels, all 250 inside the band
	if o.band > 0 {
		step = min(step, max(1, (o.band-201)/249))
	}
	for i := range o.rest {
		off := (200 + int64(i/2%250)*step) * o.tick
		side, price := wire.SideBuy, o.price-off
		if i%2 == 1 {
			side, price = wire.SideSell, o.price+off
		}
		// Numbered after the last connection's ids: --rest-account may be
		// one of --accounts, whose connection 0 numbers its orders 1, 2, …
		id := uint64(o.connections)<<connIDShift | uint64(i+1)
		if err := c.NewOrder(proto.NewOrder{ClientOrderID: id, Instrument: o.instrument, Side: side,
			Type: wire.OrderTypeLimit, TIF: wire.TimeInForceGTC, Price: price, Quantity: 1}); err != nil {
			c.Close()
			return nil, fmt.Errorf("bench: resting order %d: %w", i+1, err)
		}
		if i%64 == 63 {
			c.Flush()
			for waitFrom := time.Now(); int64(i)-accepted.Load() > int64(o.window) && len(placed) == 0; { // not a slow consumer
				if time.Since(waitFrom) > drainWait {
					c.Close()
					return nil, fmt.Errorf("bench: resting orders: %d of %d accepted, then no answer for %v", accepted.Load(), o.rest, drainWait)
				}
				time.Sleep(100 * time.Microsecond)
			}
			if ahead := time.Duration(i+1)*time.Second/restRate - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
	}
	c.Flush()
	for last, lastAt := accepted.Load(), time.Now(); ; {
		var err error
		select {
		case err = <-placed:
		case <-time.After(100 * time.Millisecond):
			if n := accepted.Load(); n != last {
				last, lastAt = n, time.Now()
				continue
			} else if time.Since(lastAt) < drainWait {
				continue
			}
			err = fmt.Errorf("no answer for %v", drainWait)
		}
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("bench: resting orders (%d of %d accepted): %w", accepted.Load(), o.rest, err)
		}
		break
	}
	done := make(chan struct{})
	go func() { // the run may outlast the node's read timeout
		beat := time.NewTicker(max(c.HeartbeatEvery, 100*time.Millisecond))
		defer beat.Stop()
		for {
			select {
			case <-done:
				return
			case <-beat.C:
				if c.Heartbeat() != nil || c.Flush() != nil {
					return
				}
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); c.Close() }) }, nil
}

// connectionsLost is a run in which the node hung up on connections
// before its end, or with orders unanswered: its result covers what they
// sent and got until then. A hang-up after the end with every order
// answered (a node stopped as the run ended) is none.
// untold of them the node closed without a Closing naming the cause.
type connectionsLost struct {
	n, of, untold int
	first         error
}

func (e *connectionsLost) Error() string {
	if e.untold == e.n {
		// A node that closes a session on purpose says why first: none
		// told, the node did not close them — it died or was stopped
		// under them, or the network dropped them — and its log's
		// "session closed" lines, which a killed node never wrote, are
		// not where to look.
		return fmt.Sprintf("bench: %d of %d connections lost before the end (%v), the node giving no cause: "+
			"it stopped or was killed (the end of its log names why: \"fatal: stopping\"; a kill -9 or a crash leaves no line), "+
			"or the network between dropped them; for a cluster, a run does not follow a failover: run it again",
			e.n, e.of, e.first)
	}
	return fmt.Sprintf("bench: %d of %d connections lost before the end (%v); the node's log says why "+
		"(\"session closed\" with its cause: a slow consumer had more unread reports than gateway.send_buffer_bytes; "+
		"not_leader or shutdown, a cluster's leader deposed or stopped: a run does not follow a failover, run it again)",
		e.n, e.of, e.first)
}

func benchConn(c *client.Client, r *loadgen.ConnRecorder, sched loadgen.Schedule, end time.Time, idx int, o *benchOptions) error {
	// due and sentAt hold times as nanoseconds since base, whose reading
	// of the monotonic clock they keep: stored as Unix nanoseconds, they
	// were timed on the wall clock, which NTP may step or slew during a
	// run (a latency off by the step, or clamped to 1 µs).
	base := time.Now()
	var due, sentAt [inflightSlots]int64
	at := func(ns int64) time.Time { return base.Add(time.Duration(ns)) }
	// answered holds, per slot, the id of the last order answered: a
	// rejected cancel (the passive mix's, when rate-limited) is answered
	// with the Rejected report of the order it names, which is not a
	// second answer to that order. Only the reader touches it.
	var answered [inflightSlots]uint64
	var sent, acked atomic.Int64
	var lost atomic.Bool    // the connection closed
	var lostAt atomic.Int64 // when (Unix ns), stored before lost
	// readErr is what ended the reads — a ClosedError names the cause the
	// node gave (countCause) — written by the reader before done closes.
	var readErr error
	done := make(chan struct{})
	go func() { // reader: records answers until the connection closes
		defer close(done)
		var m client.Message
		var now time.Time // when the newest read from the connection returned
		for {
			read := !c.FrameBuffered()
			if err := c.NextInto(&m); err != nil {
				readErr = err
				lostAt.Store(time.Now().UnixNano())
				lost.Store(true)
				return
			}
			if read {
				// A message already buffered arrived with the read before
				// it: one clock reading per read, not per report (time.Now
				// was 15 % of the generator's CPU at --rate 0).
				now = time.Now()
			}
			if m.Type != wire.MessageExecutionReport {
				continue
			}
			k := m.Report.Kind
			if k != wire.ExecKindAccepted && k != wire.ExecKindRejected {
				continue // fills and cancels follow the first report
			}
			if k == wire.ExecKindRejected && m.Report.Quantity == 0 {
				// A cancel's rejection (the passive mix's, refused by the
				// gateway's rate limit before the order it names is even
				// journaled) carries that order's client order id: it is
				// not the order's answer. The bench's orders have a
				// quantity; a cancel has none.
				continue
			}
			id := m.Report.ClientOrderID
			if id>>connIDShift != uint64(idx) || id&(1<<connIDShift-1) == 0 || atomic.LoadUint64(&answered[id%inflightSlots]) == id {
				continue // not an order of this connection, or answered already
			}
			// The slot's times before it is marked answered: marked, it is
			// free for the sender's order inflightSlots later.
			d, sent := atomic.LoadInt64(&due[id%inflightSlots]), atomic.LoadInt64(&sentAt[id%inflightSlots])
			atomic.StoreUint64(&answered[id%inflightSlots], id)
			r.Record(at(d), now, k == wire.ExecKindRejected)
			if k == wire.ExecKindRejected {
				r.RecordRejectReason(m.Report.Reason)
			}
			if ts := m.Report.Timestamp; ts > 0 {
				r.RecordLegs(at(sent), time.Unix(0, ts), now)
			}
			acked.Add(1)
		}
	}()
	rng := rand.New(rand.NewSource(int64(idx)))
	var i int64
	var sendErr error
	time.Sleep(time.Until(sched.Start())) // the run's clock starts there, unpaced too
sending:
	for {
		now := time.Now()
		d := sched.Due(i, now)
		// Paced, every order due before the end is sent, however late
		// (RecordSendLag shows how late); its latency counts from its due
		// time. Unpaced, the run ends at the end.
		if lost.Load() || (sched.Open() && !d.Before(end)) || (!sched.Open() && now.After(end)) || now.After(end.Add(drainWait)) {
			break
		}
		if sched.Open() && d.After(now) {
			c.Flush()
			time.Sleep(d.Sub(now))
		}
		// Do not run away from the server: bound what is in flight.
		windowFull := false
		id := uint64(idx)<<connIDShift | uint64(i+1)
		// Nor reuse the slot of an order still unanswered: its due time
		// would be lost (a late answer timed against the new order's, no
		// answer never counted).
		for i-acked.Load() >= int64(o.window) || (i >= inflightSlots && atomic.LoadUint64(&answered[id%inflightSlots]) != id-inflightSlots) {
			windowFull = true
			if lost.Load() || time.Now().After(end.Add(drainWait)) {
				break sending // the node stopped answering: do not hang past the run
			}
			c.Flush()
			time.Sleep(20 * time.Microsecond)
		}
		// Connections pair up, one buying, one selling; the last of an
		// odd number (one included) alternates, so that buys and sells
		// balance whatever the number of connections.
		side := wire.SideBuy
		if idx%2 == 1 || (idx == o.connections-1 && idx%2 == 0 && i%2 == 1) {
			side = wire.SideSell
		}
		written := d // unpaced, an order is due when the loop reads the clock
		if sched.Open() || windowFull {
			written = time.Now()
		}
		if !sched.Open() {
			d = written // unpaced: timed from the actual send (loadgen contract 3), not from before the wait for the window
		}
		atomic.StoreInt64(&due[id%inflightSlots], int64(d.Sub(base)))
		atomic.StoreInt64(&sentAt[id%inflightSlots], int64(written.Sub(base)))
		if sched.Open() {
			r.RecordSendLag(d, written)
		}
		var err error
		switch o.mix {
		case "passive":
			off := int64(100+rng.Intn(100)) * o.tick
			price := o.price - off
			if side == wire.SideSell {
				price = o.price + off
			}
			err = c.NewOrder(proto.NewOrder{ClientOrderID: id, Instrument: o.instrument, Side: side, Type: wire.OrderTypeLimit,
				TIF: wire.TimeInForceGTC, Price: price, Quantity: 1})
			if err == nil && i > 0 {
				err = c.Cancel(proto.Cancel{OrigClientOrderID: id - 1, Instrument: o.instrument})
			}
		default: // cross
			// Meeting its own account's order (one connection, or one
			// account for all), an order cancels it and rests instead of
			// being cancelled itself: the book stays small.
			err = c.NewOrder(proto.NewOrder{ClientOrderID: id, Instrument: o.instrument, Side: side, Type: wire.OrderTypeLimit,
				TIF: wire.TimeInForceGTC, STP: wire.SelfTradeCancelResting, Price: o.price, Quantity: 1})
		}
		if err != nil {
			sendErr = err
			break
		}
		i++
		sent.Store(i)
		r.Sent = i
		if !sched.Open() && i%64 == 0 {
			c.Flush()
		}
	}
	// Only the sender knows it has sent its last order: it waits until
	// every order is answered (answers that never come within 5 s, or
	// after the node hung up, stay unacknowledged), then closes, and the
	// reader has recorded its last answer once done is closed.
	if sendErr == nil {
		c.Flush()
	}
	for wait := end.Add(drainWait); sendErr == nil && acked.Load() < sent.Load() && !lost.Load() && time.Now().Before(wait); {
		time.Sleep(time.Millisecond)
	}
	// Hung up on before this side closes — and before the run's end or
	// with orders unanswered: a node stopped once the run was over (a
	// script's) hung up with its last answers, and the run measured all
	// it sent.
	hungUp := lost.Load() && (time.Unix(0, lostAt.Load()).Before(end) || acked.Load() < sent.Load())
	c.Close()
	<-done
	// Orders due in the run that have no answer now — sent and never
	// answered, or (paced) never sent because the window was full — are
	// charged the time they waited: dropping them would drop a stall's
	// worst latencies (coordinated omission).
	// A connection lost before the run's end gives up on its orders at
	// that end at the earliest: one due after the hang-up waited from its
	// due time on, not for no time at all (recorded as 1 µs).
	gaveUp := time.Now()
	if gaveUp.Before(end) {
		gaveUp = end
	}
	n := sent.Load()
	for k := max(n-inflightSlots, 0); k < n; k++ {
		id := uint64(idx)<<connIDShift | uint64(k+1)
		if answered[id%inflightSlots] != id {
			r.RecordUnanswered(at(due[id%inflightSlots]), gaveUp)
		}
	}
	if sched.Open() {
		for k := n; ; k++ {
			d := sched.Due(k, gaveUp)
			if !d.Before(end) {
				break
			}
			r.RecordUnanswered(d, gaveUp)
		}
	}
	switch {
	case sendErr != nil:
		return fmt.Errorf("send after %d orders (%d answered): %w", sent.Load(), acked.Load(), sendErr)
	case hungUp:
		return fmt.Errorf("closed by the node after %d orders (%d answered): %w", sent.Load(), acked.Load(), readErr)
	}
	return nil
}
