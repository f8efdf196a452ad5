package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// bookView is a subscriber's image of one instrument's book: the
// snapshot, then every level update and trade, numbered by md_seq.
type bookView struct {
	inst       config.Instrument
	in         instruments
	bids, asks map[int64]proto.Level
	mdSeq      uint64
	synced     bool // a snapshot arrived and no message was lost since
	last       proto.Trade
	trades     int
	// lastSeen: last is the last trade, seen since the latest snapshot;
	// else lastPrice (the snapshot's) is — after a new snapshot (a gap)
	// last is older than the trades missed.
	lastSeen  bool
	halted    bool  // the instrument takes no new orders
	lastPrice int64 // the latest snapshot's last trade price
	// inputSeq is the largest input_seq of the updates and trades
	// applied: a snapshot from another member as of an earlier input is
	// older than the book shown (proto/README.md, "After a failover").
	inputSeq int64
	// tradeID is the largest trade_id shown: a member moved to after a
	// snapshot sends again the trades of its snapshot's input, which the
	// one before may have sent already. A trade at or below it is
	// dropped (md_seq still moves on), never counted or shown twice.
	tradeID uint64
}

func newBookView(inst config.Instrument, in instruments) *bookView {
	return &bookView{inst: inst, in: in, bids: map[int64]proto.Level{}, asks: map[int64]proto.Level{}}
}

// apply folds one market-data message into the view. It returns false on
// a gap in md_seq: the view is stale until the next snapshot.
func (b *bookView) apply(m *client.Message) bool {
	if m.Instrument != b.inst.ID {
		return true
	}
	switch m.Type {
	case wire.MessageBookSnapshot:
		clear(b.bids)
		clear(b.asks)
		for _, l := range m.Bids {
			b.bids[l.Price] = l
		}
		for _, l := range m.Asks {
			b.asks[l.Price] = l
		}
		b.mdSeq, b.synced, b.halted, b.lastPrice, b.lastSeen = m.MDSeq, true, m.Halted, m.LastPrice, false
		return true
	case wire.MessageLevelUpdate, wire.MessageTrade, wire.MessageTradingStatus:
		if !b.synced {
			return true // waiting for the snapshot
		}
		if m.MDSeq != b.mdSeq+1 {
			b.synced = false
			return false
		}
		b.mdSeq = m.MDSeq
		b.inputSeq = max(b.inputSeq, m.InputSeq)
		if m.Type == wire.MessageTradingStatus {
			b.halted = m.Halted
			return true
		}
		if m.Type == wire.MessageTrade {
			if b.tradeID != 0 && m.Trade.TradeID <= b.tradeID {
				return true // shown already, by the member before
			}
			b.tradeID = m.Trade.TradeID
			b.last, b.lastSeen = m.Trade, true
			b.trades++
			return true
		}
		side := b.bids
		if m.Level.Side == wire.SideSell {
			side = b.asks
		}
		if m.Level.Quantity == 0 {
			delete(side, m.Level.Price)
		} else {
			side[m.Level.Price] = proto.Level{Price: m.Level.Price, Quantity: m.Level.Quantity, Count: m.Level.Count}
		}
	}
	return true
}

// levels returns a side's best depth levels (every level for depth 0),
// best first. With a depth it keeps only the best so far while it walks
// the side — a redraw of a book tens of thousands of levels deep sorted
// all of them to print ten.
func levels(side map[int64]proto.Level, bids bool, depth int) []proto.Level {
	better := func(a, b proto.Level) bool { return bids && a.Price > b.Price || !bids && a.Price < b.Price }
	if depth <= 0 || depth >= len(side) {
		out := make([]proto.Level, 0, len(side))
		for _, l := range side {
			out = append(out, l)
		}
		sort.Slice(out, func(i, j int) bool { return better(out[i], out[j]) })
		return out
	}
	out := make([]proto.Level, 0, depth)
	for _, l := range side {
		if len(out) == depth && !better(l, out[depth-1]) {
			continue
		}
		i := sort.Search(len(out), func(i int) bool { return better(l, out[i]) })
		if len(out) < depth {
			out = append(out, proto.Level{})
		}
		copy(out[i+1:], out[i:])
		out[i] = l
	}
	return out
}

// render writes the book as a price ladder: asks above (best ask lowest),
// then the spread, then bids (best bid highest).
func (b *bookView) render(w io.Writer, depth int) {
	var s strings.Builder
	fmt.Fprintf(&s, "%s (instrument %d)  md_seq %d  %d bid / %d ask levels", b.inst.Symbol, b.inst.ID, b.mdSeq, len(b.bids), len(b.asks))
	if b.halted {
		s.WriteString("  HALTED")
	}
	s.WriteString("\n")
	if !b.synced {
		s.WriteString("  (waiting for a book snapshot)\n")
	}
	fmt.Fprintf(&s, "  %-4s %14s %14s %7s\n", "", "price", "qty", "orders")
	asks, bids := levels(b.asks, false, depth), levels(b.bids, true, depth)
	line := func(name string, l proto.Level) {
		fmt.Fprintf(&s, "  %-4s %14s %14s %7d\n", name, b.in.price(b.inst.ID, l.Price), b.in.qty(b.inst.ID, l.Quantity), l.Count)
	}
	for i := len(asks) - 1; i >= 0; i-- {
		line("ask", asks[i])
	}
	switch {
	case len(asks) > 0 && len(bids) > 0:
		fmt.Fprintf(&s, "  ---- spread %s\n", b.in.price(b.inst.ID, asks[0].Price-bids[0].Price))
	default:
		s.WriteString("  ----\n")
	}
	for _, l := range bids {
		line("bid", l)
	}
	switch {
	case b.lastSeen:
		fmt.Fprintf(&s, "  last trade %s x %s (%s aggressor), %d trades seen\n", b.in.price(b.inst.ID, b.last.Price),
			b.in.qty(b.inst.ID, b.last.Quantity), strings.ToLower(b.last.Aggressor.String()), b.trades)
	case b.lastPrice != 0 && b.trades > 0:
		fmt.Fprintf(&s, "  last trade %s (from the book snapshot after a gap), %d trades seen\n", b.in.price(b.inst.ID, b.lastPrice), b.trades)
	case b.lastPrice != 0:
		fmt.Fprintf(&s, "  last trade %s (before this watch)\n", b.in.price(b.inst.ID, b.lastPrice))
	}
	io.WriteString(w, s.String())
}

type watchOptions struct {
	instrument string
	depth      int
	updates    int
	duration   time.Duration
	// silence is how long the feed may say nothing, not even a
	// heartbeat, before the watch takes it for dead.
	silence time.Duration
	// logon: log on to the market-data port as --account first (a node
	// with marketdata.require_logon).
	logon bool
	// notCurrent is how long a Subscribe refused NotCurrent before the
	// first snapshot goes again (every notCurrentRetry): a cluster
	// member just started refuses it until it has caught up.
	notCurrent time.Duration
}

func newClientWatchCmd(o *clientOptions) *cobra.Command {
	wo := &watchOptions{}
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Show an instrument's live book from the market-data port",
		Long: `Subscribes to an instrument on the market-data port (--md-addr; no logon
unless --logon: a node with marketdata.require_logon wants one; --tls,
--tls-ca for a node with marketdata.tls) and shows its book: the snapshot first, then every level update and trade.
On a terminal the book is redrawn in place; into a pipe or file each new
state of the book is printed after the previous one. A gap in md_seq
resubscribes for a fresh snapshot. Stops on Ctrl-C, after --updates
messages or after --duration, and fails when the feed ends or says
nothing for --silence: the node heartbeats an idle subscriber every
gateway.heartbeat_interval (5 s by default), so silence is a dead node
or network (timed from the first heartbeat: a node built before
2026-12-05 sends none); a cluster member out of touch with its leader closes its
subscribers and refuses new ones (NotCurrent), as one just started does until it
has caught up: before the first snapshot watch subscribes again every 100 ms
for --not-current-wait, saying so on stderr, then fails — watch another member,
or this one later. Given several addresses (--md-addr A,B,C: every cluster
member's), watch moves to the next, round robin, saying so on stderr, when
one refuses NotCurrent (trying the members in turn every 100 ms for up to
--not-current-wait; with 0, a refusal counts as that member's failure),
hangs up, says nothing for --silence, refuses the connection, or sends a
book older than the one shown (by input_seq); it fails once each address
has failed in turn since the last snapshot. A member that ends the
connection within 5 s of its start, after its snapshot, is moved from
after a pause (100 ms, doubling for each such end in a row, up to 5 s).`,
		Example: `  ringex client watch --instrument BTC-USD
  ringex client watch --instrument 2 --depth 5 --md-addr 10.0.0.7:7401
  ringex client watch --instrument BTC-USD --md-addr 127.0.0.1:7401,127.0.0.1:7411,127.0.0.1:7421
  ringex client watch --instrument BTC-USD --updates 0   # print the book once
  ringex client watch --instrument BTC-USD --logon --account 4 --secret-file ~/.ringex/secret-4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWatch(o, wo, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&wo.instrument, "instrument", "", "instrument symbol or id (required)")
	cmd.Flags().IntVar(&wo.depth, "depth", 10, "levels shown per side (0: all)")
	cmd.Flags().IntVar(&wo.updates, "updates", -1, "stop after this many messages after the snapshot (-1: never)")
	cmd.Flags().DurationVar(&wo.duration, "duration", 0, "stop after this long (0: never)")
	cmd.Flags().DurationVar(&wo.silence, "silence", 15*time.Second,
		"fail when the feed sends nothing, not even a heartbeat, for this long (a few of the node's gateway.heartbeat_interval; 0: never)")
	cmd.Flags().BoolVar(&wo.logon, "logon", false,
		"log on to the market-data port as --account (--secret-file, --secret or the config's secret) first: a node with marketdata.require_logon serves no one else")
	cmd.Flags().DurationVar(&wo.notCurrent, "not-current-wait", 5*time.Second,
		"subscribe again, every 100 ms, for this long while the node refuses NotCurrent before the first snapshot (a cluster member just started, catching up; 0: fail at the first refusal); with several --md-addr, try the members in turn for this long (0: a refusal is that member's failure, and the watch moves on at once, failing once every member has failed)")
	cmd.MarkFlagRequired("instrument")
	cmd.RegisterFlagCompletionFunc("instrument", instrumentCompletions(o))
	return cmd
}

// notCurrentErr is the error of a watch whose Subscribe to instrument
// the node refused NotCurrent, refused times.
func notCurrentErr(instrument uint32, refused int) error {
	return fmt.Errorf("the node refused the subscription to instrument %d: %s, %d time(s) (a cluster member out of touch with the leader, or not caught up with it since its start: its book maybe stale; watch another member, or this one again later)",
		instrument, wire.SubscribeRejectReasonNotCurrent, refused)
}

// watch is one run of client watch: its book view and what it counted,
// kept across the market-data addresses it moves between.
type watch struct {
	o           *clientOptions
	wo          *watchOptions
	out, errOut io.Writer
	secret      string // --logon's
	tlsCfg      *tls.Config
	in          instruments
	inst        config.Instrument
	view        *bookView // nil until the instrument is named
	// moves: several addresses were given — a member's end (memberEnd)
	// moves the watch to the next one instead of ending it.
	moves bool
	// seen: a snapshot arrived, from any member; counted the messages
	// after it (--updates).
	seen    bool
	counted int
	// refused counts the NotCurrent refusals since refusedAt, the first
	// one since the watch's start or (moving) its last snapshot.
	refused   int
	refusedAt time.Time
	stop      chan os.Signal
	// deadline is --duration's, timed from the first connection's
	// Subscribe (timer; nil before, and without --duration).
	timer    *time.Timer
	deadline <-chan time.Time
	tty      bool
}

// memberEnd is the end of one market-data connection of a watch given
// several addresses, which moves it to the next one: the connection
// ended or said nothing for --silence, the member refused NotCurrent or
// the connection, or sent a book older than the one shown.
type memberEnd struct {
	err        error
	notCurrent bool // refused NotCurrent: tried again for --not-current-wait
	snapshot   bool // the connection sent its book snapshot before it ended
}

func (e *memberEnd) Error() string { return e.err.Error() }
func (e *memberEnd) Unwrap() error { return e.err }

// ended is err as the end of the connection to one member: with several
// addresses a memberEnd (snapshot: one came on it), else err, which
// ends the watch.
func (w *watch) ended(err error, notCurrent, snapshot bool) error {
	if !w.moves {
		return err
	}
	return &memberEnd{err: err, notCurrent: notCurrent, snapshot: snapshot}
}

func runWatch(o *clientOptions, wo *watchOptions, out, errOut io.Writer) error {
	// "" and an empty entry are refused here, naming the flag, not
	// failed as a dial.
	addrs, err := addrList("--md-addr", o.mdAddr, "a market-data address, or every cluster member's, comma-separated")
	if err != nil {
		return err
	}
	cfg, in, err := o.clientConfig()
	if err != nil {
		return err
	}
	w := &watch{o: o, wo: wo, out: out, errOut: errOut, in: in, moves: len(addrs) > 1, tty: isTerminal(out)}
	if o.configPath != "" { // else named once the node has listed its instruments
		if w.inst, err = in.lookup(wo.instrument); err != nil {
			return err
		}
		w.view = newBookView(w.inst, in)
	}
	// --tls: watch dials the market-data port alone (marketdata.tls).
	if w.tlsCfg, err = o.tls.config(); err != nil {
		return err
	}
	if wo.logon {
		if w.secret, err = o.accountSecret(cfg); err != nil {
			return err
		}
	}
	w.stop = make(chan os.Signal, 1)
	signal.Notify(w.stop, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(w.stop)
	defer func() {
		if w.timer != nil {
			w.timer.Stop()
		}
	}()
	// With several addresses, every end of a member's connection moves
	// the watch to the next address, round robin, saying so on stderr.
	// It fails once each address has failed in turn since the last
	// snapshot, or the members have refused NotCurrent for
	// --not-current-wait (with 0, a refusal is one of those failures).
	var failed []string
	short := 0 // connections in a row that ended soon after their snapshot (moveBackoff)
	for i := 0; ; i++ {
		addr := addrs[i%len(addrs)]
		began := time.Now()
		err := w.member(addr)
		var end *memberEnd
		if !errors.As(err, &end) {
			return err // nil: done
		}
		if end.snapshot {
			failed, w.refused, w.refusedAt = failed[:0], 0, time.Time{}
			if end.notCurrent {
				// The member stopped being current after its snapshot:
				// its refusal is the first since, and the wait on the
				// members is timed from it.
				w.refused, w.refusedAt = 1, time.Now()
			}
		}
		next := addrs[(i+1)%len(addrs)]
		// --not-current-wait 0 waits on no member: a refusal is that
		// member's failure, and the watch moves on to the next at once.
		if end.notCurrent && wo.notCurrent > 0 {
			if w.refused == 1 {
				fmt.Fprintf(errOut, "instrument %d: %s is not current (a cluster member catching up since its start, or out of touch with its leader): trying the members in turn every %v for up to %v\n",
					w.inst.ID, addr, notCurrentRetry, wo.notCurrent)
			}
			if time.Since(w.refusedAt) >= wo.notCurrent {
				return fmt.Errorf("client: market data: %w", notCurrentErr(w.inst.ID, w.refused))
			}
			select {
			case <-time.After(notCurrentRetry):
			case <-w.stop:
				return nil
			case <-w.deadline:
				return w.atDeadline()
			}
			continue
		}
		// One entry an address, its latest failure: a member tried
		// again in each round of a wait on another's NotCurrent is one
		// failed address, not one more each round.
		failure := addr + ": " + end.err.Error()
		if j := slices.IndexFunc(failed, func(f string) bool { return strings.HasPrefix(f, addr+": ") }); j >= 0 {
			failed[j] = failure
			continue // said when it first failed
		}
		failed = append(failed, failure)
		if len(failed) >= len(addrs) {
			return fmt.Errorf("client: market data: every address failed since the last snapshot — %s", strings.Join(failed, "; "))
		}
		// An end after a snapshot starts the failures anew, so members
		// that each send one and end the connection at once were moved
		// between without end, as fast as they answered.
		var pause time.Duration
		if end.snapshot {
			if time.Since(began) >= moveCalm {
				short = 0
			} else {
				short++
				pause = moveBackoff(short)
			}
		}
		if pause == 0 {
			fmt.Fprintf(errOut, "market data at %s: %v: moving to %s\n", addr, end.err, next)
			continue
		}
		fmt.Fprintf(errOut, "market data at %s: %v: moving to %s in %v\n", addr, end.err, next, pause)
		select {
		case <-time.After(pause):
		case <-w.stop:
			return nil
		case <-w.deadline:
			return w.atDeadline()
		}
	}
}

// A member's connection that ends after its snapshot moves the watch to
// the next member at once when it lasted moveCalm (a member that served
// for a while, then failed); one that ended sooner, after a pause of
// moveBackoff(n), the nth such end in a row.
const moveCalm = 5 * time.Second

// moveBackoff is the pause before the next member after the nth
// connection in a row that ended within moveCalm of its start, after its
// snapshot: notCurrentRetry, doubling, up to moveCalm.
func moveBackoff(n int) time.Duration {
	if n > 6 { // notCurrentRetry << 6 is past moveCalm already
		return moveCalm
	}
	return min(notCurrentRetry<<(n-1), moveCalm)
}

// atDeadline ends the watch at --duration: the book shown, or an error
// if no snapshot came.
func (w *watch) atDeadline() error {
	if !w.seen {
		return fmt.Errorf("client: no book snapshot for instrument %d within %v", w.inst.ID, w.wo.duration)
	}
	w.show()
	return nil
}

// show draws the book: in place on a terminal, else after the last.
func (w *watch) show() {
	if w.tty {
		io.WriteString(w.out, "\x1b[H\x1b[2J")
	}
	w.view.render(w.out, w.wo.depth)
	if !w.tty {
		io.WriteString(w.out, "\n")
	}
}

// dial connects to the market-data port at addr, logged on with
// --logon.
func (w *watch) dial(addr string) (*client.Client, error) {
	opts := client.Options{AutoFlush: true, Timeout: w.o.timeout, TLS: w.tlsCfg}
	if !w.wo.logon {
		md, err := client.DialMarketData(addr, opts)
		return md, mdHint(err, w.tlsCfg, "--tls")
	}
	md, err := client.DialMarketDataLogon(addr, w.o.account, w.secret, opts)
	if err != nil {
		return nil, fmt.Errorf("market-data logon: %w", mdHint(err, w.tlsCfg, "--tls"))
	}
	return md, nil
}

// member watches the book at the market-data port addr until the watch
// is done (nil) or the connection ends (ended's error).
func (w *watch) member(addr string) error {
	md, err := w.dial(addr)
	if err != nil {
		return w.ended(err, false, false)
	}
	defer md.Close()
	if w.view == nil {
		in, err := w.o.fromNode(md, w.in)
		if err != nil {
			return err
		}
		if w.inst, err = in.lookup(w.wo.instrument); err != nil {
			return err
		}
		w.in, w.view = in, newBookView(w.inst, in)
	}
	inst, view := w.inst, w.view
	view.synced = false // this member's snapshot first: its md_seq are its own
	if w.timer == nil && w.wo.duration > 0 {
		w.timer = time.NewTimer(w.wo.duration)
		w.deadline = w.timer.C
	}
	// A write that fails is the connection's end, which the reader
	// below reports — after what came before it: the port's refusal of
	// the connection, read while the node's list was asked for.
	md.Subscribe(inst.ID)
	msgs := make(chan client.Message, 4096)
	readErr := make(chan error, 1)
	go func() {
		defer close(msgs)
		heard := false
		for {
			m, err := md.Next()
			if err == nil && m.Type == wire.MessageLogonReject {
				// The port serves marketdata.max_connections subscribers.
				err = fmt.Errorf("the port refused the connection: %s", m.LogonReject)
				if m.LogonReject == wire.LogonRejectReasonNotLoggedOn {
					err = fmt.Errorf("%w (the node has marketdata.require_logon: watch --logon)", err)
				}
			}
			if err == nil && m.Type == wire.MessageSubscribeReject && m.SubscribeReject != wire.SubscribeRejectReasonNotCurrent {
				// The local config names an instrument the node does not
				// have. NotCurrent — a cluster member out of touch with the
				// leader, or not caught up with it since its start — is
				// the loop's to judge: before the first snapshot the
				// Subscribe goes again.
				err = fmt.Errorf("the node refused the subscription to instrument %d: %s", m.Instrument, m.SubscribeReject)
			}
			if err != nil {
				if !heard {
					// Hung up before a word: a TLS port hears no
					// handshake from a plain-TCP watch.
					err = mdHint(err, w.tlsCfg, "--tls")
				}
				readErr <- err
				return
			}
			heard = true
			msgs <- m
		}
	}()
	firstAnswer := time.NewTimer(w.o.timeout)
	defer firstAnswer.Stop()
	// The silence is timed from the feed's first Heartbeat or input_seq
	// (they came together): a node built before market-data heartbeats
	// (2026-12-05) sends neither, and its quiet market is not a dead one.
	var silence *time.Timer
	var silent <-chan time.Time
	defer func() {
		if silence != nil {
			silence.Stop()
		}
	}()
	// NotCurrent before the first snapshot, with one address: the
	// Subscribe goes again on retry, notCurrentRetry after each refusal,
	// until wo.notCurrent after the first (refusedAt). After a snapshot
	// it ends the watch. With several, it moves the watch on.
	var retry <-chan time.Time
	snapshot := false // this connection's
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				err := <-readErr
				return w.ended(fmt.Errorf("client: market data: %w", err), false, snapshot)
			}
			switch {
			case silence != nil:
				silence.Reset(w.wo.silence)
			case (m.Type == wire.MessageHeartbeat || m.InputSeq != 0) && w.wo.silence > 0:
				// A heartbeat, or an input_seq, which came with them:
				// this node heartbeats an idle subscriber.
				silence = time.NewTimer(w.wo.silence)
				silent = silence.C
			}
			if m.Instrument != inst.ID {
				continue
			}
			if m.Type == wire.MessageSubscribeReject { // NotCurrent: the reader ends at any other
				w.refused++
				if w.refused == 1 {
					w.refusedAt = time.Now()
					if !w.seen && w.wo.notCurrent > 0 && !w.moves {
						fmt.Fprintf(w.errOut, "instrument %d: the node is not current (a cluster member catching up since its start, or out of touch with its leader): subscribing again every %v for up to %v\n",
							inst.ID, notCurrentRetry, w.wo.notCurrent)
					}
				}
				if w.moves {
					return w.ended(notCurrentErr(inst.ID, w.refused), true, snapshot)
				}
				if w.seen || time.Since(w.refusedAt) >= w.wo.notCurrent {
					return fmt.Errorf("client: market data: %w", notCurrentErr(inst.ID, w.refused))
				}
				firstAnswer.Stop()
				retry = time.After(notCurrentRetry)
				continue
			}
			if m.Type == wire.MessageBookSnapshot && !snapshot && m.InputSeq < view.inputSeq {
				// From a member that has not applied an input the book
				// shown holds (proto/README.md, "After a failover").
				return w.ended(fmt.Errorf("its book is as of input %d, older than the one shown (input %d)", m.InputSeq, view.inputSeq), false, false)
			}
			if !view.apply(&m) {
				fmt.Fprintf(w.out, "gap in md_seq after %d: resubscribing\n", view.mdSeq)
				md.Unsubscribe(inst.ID)
				md.Subscribe(inst.ID)
			}
			if m.Type == wire.MessageBookSnapshot && !snapshot {
				snapshot, w.seen = true, true
				firstAnswer.Stop()
			} else if snapshot {
				w.counted++
			}
			if w.wo.updates >= 0 && w.counted >= w.wo.updates && w.seen {
				w.show()
				return nil
			}
			if len(msgs) == 0 { // redraw once per burst
				w.show()
			}
		case <-retry:
			retry = nil
			md.Subscribe(inst.ID)
			firstAnswer.Reset(w.o.timeout)
		case <-silent:
			return w.ended(fmt.Errorf("client: market data: nothing heard for %v (the node heartbeats an idle subscriber): a dead node or network", w.wo.silence), false, snapshot)
		case <-firstAnswer.C:
			if !snapshot {
				return w.ended(fmt.Errorf("client: no book snapshot for instrument %d within %v", inst.ID, w.o.timeout), false, false)
			}
		case <-w.deadline:
			return w.atDeadline()
		case <-w.stop:
			return nil
		}
	}
}
