package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// clientOptions are the flags every `ringex client` subcommand shares.
type clientOptions struct {
	addr, mdAddr string
	account      uint32
	secret       string
	secretFile   string // --secret-file: the secret read from it
	configPath   string
	wait         time.Duration
	timeout      time.Duration
	dropCopy     bool // log on read-only (client reports)
	tls          gatewayTLSFlags
}

func newClientCmd() *cobra.Command {
	o := &clientOptions{}
	cmd := &cobra.Command{
		Use:   "client",
		Short: "Trade and watch books from the terminal: order, cancel, replace, mass-cancel, watch, shell",
		Long: `A terminal client of a running node. Each subcommand logs on to the
gateway (--addr, --account, --secret-file or --secret; --tls for a gateway
with TLS), sends one message, prints every execution report it causes and
logs out; ` + "`shell`" + ` keeps one session open for
many commands; ` + "`watch`" + ` shows a live book from the market-data port.

Prices and quantities are decimals in the instrument's units, as its
price_decimals and qty_decimals say — as the node lists its instruments,
or as --config says when given (and for a node built before it lists
them, the embedded demo config): "--price 60000.50 --qty 0.0005" on
BTC-USD. Instruments are named by symbol or id.

The defaults log on as demo account 1 of the embedded demo config. Accounts
with cancel_on_disconnect (demo accounts 1-3) lose their resting orders
when the command exits; use ` + "`shell`" + `, or demo account 4, to keep them.`,
		Example: `  ringex client order --account 4 --side buy --instrument BTC-USD --qty 0.0005 --price 60000
  ringex client order --account 2 --side sell --instrument BTC-USD --qty 0.0002 --type market --tif ioc
  ringex client cancel --instrument BTC-USD --order-id 7
  ringex client orders --account 4
  ringex client watch --instrument BTC-USD
  ringex client shell --account 4`,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return refuseClientFlags(cmd) },
	}
	f := cmd.PersistentFlags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:7400", "gateway (order entry) address; for a cluster, every member's, comma-separated (the leader takes the logon, waiting out an election)")
	f.StringVar(&o.mdAddr, "md-addr", "127.0.0.1:7401", "market-data address, or every cluster member's, comma-separated: watch moves to the next when one ends (watch only; the others refuse it)")
	f.Uint32Var(&o.account, "account", 1, "account to log on as")
	f.StringVar(&o.secret, "secret", "", "the account's secret (default: the account's secret in the config, e.g. demo-secret-1; "+
		"prefer --secret-file or the config: a flag's value is in the command line every local user reads with ps)")
	f.StringVar(&o.secretFile, "secret-file", "", "a file holding the account's secret (one line), instead of --secret")
	cmd.MarkFlagsMutuallyExclusive("secret", "secret-file")
	o.tls.register(cmd, true)
	f.StringVar(&o.configPath, "config", "", "config file naming instruments and accounts (default: the instruments the node lists, the accounts' secrets of the embedded demo config)")
	f.DurationVar(&o.wait, "wait", 500*time.Millisecond, "after the last report of a command, wait this long for more before logging out (order, cancel, replace, mass-cancel, orders, shell)")
	f.DurationVar(&o.timeout, "timeout", 5*time.Second, "longest wait for the logon and for the first answer")
	cmd.AddCommand(newClientOrderCmd(o), newClientCancelCmd(o), newClientReplaceCmd(o), newClientMassCancelCmd(o),
		newClientOrdersCmd(o), newClientResendCmd(o), newClientReportsCmd(o), newClientWatchCmd(o), newClientShellCmd(o))
	return cmd
}

// clientConfig loads the config the client names instruments and
// secrets from.
func (o *clientOptions) clientConfig() (*config.Config, instruments, error) {
	cfg, err := loadConfig(o.configPath, nil)
	if err != nil {
		return nil, instruments{}, err
	}
	return cfg, newInstruments(cfg.Instruments), nil
}

// session is one logged-on connection whose reports a reader goroutine
// delivers on msgs. Writes go through send, which one goroutine at a time
// may call (the shell's heartbeat shares it under mu).
type session struct {
	c *client.Client
	// addrs are the gateways --addr gave (addrList), which redial goes
	// round as the logon did.
	addrs []string
	in    instruments
	out   io.Writer
	cfg   *config.Config
	acct  uint32
	msgs  chan client.Message
	err   chan error // the reader's end: EOF or a read error
	// stopBeat ends the heartbeat, which keeps the session up while a
	// command waits for long (a resend, an idle shell).
	stopBeat chan struct{}

	// mu guards c's writes and out, and is held over a write: the
	// printer waits for it (printf, and the shell's answers taken in a
	// send) while a write blocks, and once msgs is full the reader stops
	// reading too. That cannot stall the session for good: a write blocks
	// only while the node does not read the connection, and a node's
	// session reader waits for nothing but its input ring (publish
	// blocks while the ring is full), never for this client to read —
	// what it sends waits in the session's outbox (output.Outbox), which
	// no producer waits on. The ring drains as the engine goes on and the
	// write ends; or, the node having had a write to this client not
	// taken for its heartbeat timeout meanwhile, it cuts the session
	// (Closing slow_consumer), and the write ends with an error.
	mu sync.Mutex
}

// withSession is the RunE of a command that needs a logged-on session:
// it logs on, runs run, and closes the session.
func (o *clientOptions) withSession(run func(cmd *cobra.Command, s *session) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		s, err := o.logon(cmd.OutOrStdout())
		if err != nil {
			return err
		}
		defer s.close()
		return run(cmd, s)
	}
}

// accountSecret is --secret, or the file --secret-file names, or else
// the secret cfg gives --account.
func (o *clientOptions) accountSecret(cfg *config.Config) (string, error) {
	secret := o.secret
	if o.secretFile != "" {
		var err error
		if secret, err = config.TokenFromFile(o.secretFile); err != nil {
			return "", fmt.Errorf("client: --secret-file: %w", err)
		}
	}
	if secret != "" {
		return secret, nil
	}
	for _, a := range cfg.Accounts {
		if a.ID == o.account && a.Secret != "" {
			return a.Secret, nil
		}
	}
	return "", fmt.Errorf("client: account %d is not in the config (--config): give its secret with --secret-file or --secret", o.account)
}

func (o *clientOptions) logon(out io.Writer) (*session, error) {
	addrs, err := addrList("--addr", o.addr, "the gateway's address, or every cluster member's, comma-separated")
	if err != nil {
		return nil, err
	}
	cfg, in, err := o.clientConfig()
	if err != nil {
		return nil, err
	}
	secret, err := o.accountSecret(cfg)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := o.tls.config()
	if err != nil {
		return nil, err
	}
	c, err := client.DialCluster(addrs, o.account, secret,
		client.Options{AutoFlush: true, Timeout: o.timeout, DropCopy: o.dropCopy, TLS: tlsCfg}, o.timeout)
	if err != nil {
		return nil, logonHint(err, tlsCfg)
	}
	// The gateway heartbeats a connection it sent nothing else to well
	// within its read timeout (three HeartbeatEvery): silence for twice
	// that is a dead connection or node, even one that said nothing as
	// it went (power cut, partition) — the reader fails, and the shell's
	// --reconnect logs on again.
	if c.HeartbeatEvery > 0 {
		c.SetReadTimeout(6 * c.HeartbeatEvery)
	}
	if in, err = o.fromNode(c, in); err != nil {
		c.Close()
		return nil, err
	}
	s := &session{c: c, addrs: addrs, in: in, out: out, cfg: cfg, acct: o.account, msgs: make(chan client.Message, 1024), err: make(chan error, 1),
		stopBeat: make(chan struct{})}
	s.start()
	return s, nil
}

// start runs the session's reader and heartbeat on its current client.
// They take what they use as arguments: redial replaces the fields.
func (s *session) start() {
	go s.read(s.c, s.msgs, s.err)
	go s.heartbeat(s.c.HeartbeatEvery, s.stopBeat)
}

// redial logs on again after the connection ended (client.Redial: to the
// leader among s.addrs, asking for the reports missed since the last one read) and
// starts reading the new connection. The old reader has ended (msgs was
// closed).
func (s *session) redial(within time.Duration) (tag uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.stopBeat)
	old := s.c
	nc, tag, err := old.Redial(s.addrs, within)
	if err != nil {
		s.stopBeat = make(chan struct{}) // close may close it again
		return 0, err
	}
	old.Close()
	s.c, s.msgs, s.err, s.stopBeat = nc, make(chan client.Message, 1024), make(chan error, 1), make(chan struct{})
	s.start()
	return tag, nil
}

// heartbeat sends a heartbeat at the interval the gateway asked for (a
// third of its read timeout), until close: the gateway closes a session
// it hears nothing from, and a command may wait longer than that for its
// answer.
func (s *session) heartbeat(every time.Duration, stop <-chan struct{}) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.send(func(c *client.Client) error { return c.Heartbeat() })
		case <-stop:
			return
		}
	}
}

func (s *session) read(c *client.Client, msgs chan<- client.Message, errs chan<- error) {
	for {
		m, err := c.Next()
		if err != nil {
			errs <- err
			close(msgs)
			return
		}
		msgs <- m
	}
}

func (s *session) send(f func(*client.Client) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f(s.c)
}

func (s *session) printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.out, format, args...)
}

// close logs out and closes the connection.
func (s *session) close() {
	close(s.stopBeat)
	s.send(func(c *client.Client) error { return c.Logout() })
	s.c.Close()
}

// answer describes which reports belong to the command just sent.
type answer struct {
	// first picks the command's first report. Fills never are: a command's
	// first report is its Accepted, Rejected, Cancelled or Replaced.
	first func(*proto.Report) bool
	// done says a report (of the command's input sequence) is its last;
	// otherwise the command is over after opts.wait without more reports.
	// A rejection always is.
	done func(*proto.Report) bool
	// none is printed when nothing answers within opts.wait; "" makes
	// that an error after opts.timeout instead.
	none string
}

// Errors of the one-shot commands; a rejection makes the command exit
// non-zero, so scripts can tell.
var (
	errNoAnswer = errors.New("client: no answer from the node")
	errRejected = errors.New("client: rejected")
)

// rejection is await's error for a rejected command: errRejected, with
// the reason.
type rejection struct{ reason engine.RejectReason }

func (r rejection) Error() string        { return fmt.Sprintf("%v: %s", errRejected, r.reason) }
func (r rejection) Is(target error) bool { return target == errRejected }

// isRejection reports whether err is await's rejection for reason.
func isRejection(err error, reason engine.RejectReason) bool {
	var r rejection
	return errors.As(err, &r) && r.reason == reason
}

// statusRetry is how long `orders` waits before asking again for a page
// the gateway refused for its status rate.
const statusRetry = 200 * time.Millisecond

// await prints every report until the command's answer is complete.
func (s *session) await(a answer, wait, timeout time.Duration) error {
	var seq int64 // the command's input sequence, once known
	deadline := time.Now().Add(timeout)
	if a.none != "" {
		deadline = time.Now().Add(wait)
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				return fmt.Errorf("client: connection closed: %w", <-s.err)
			}
			if m.Type != wire.MessageExecutionReport {
				continue
			}
			r := &m.Report
			s.printf("%s\n", s.in.formatReport(r))
			if seq == 0 && r.Kind != wire.ExecKindFill && a.first(r) {
				seq = r.InputSeq
			}
			if seq == 0 || r.InputSeq != seq {
				continue
			}
			if r.Kind == wire.ExecKindRejected {
				return rejection{engine.RejectReason(r.Reason)}
			}
			if a.done != nil && a.done(r) {
				return nil
			}
			timer.Reset(wait)
		case <-timer.C:
			switch {
			case seq != 0:
				return nil
			case a.none != "":
				s.printf("%s\n", a.none)
				return nil
			}
			return errNoAnswer
		}
	}
}

// restingNote warns that an account's resting orders go with the session.
func (s *session) restingNote(w io.Writer) {
	for _, a := range s.cfg.Accounts {
		if a.ID == s.acct && a.CancelOnDisconnect {
			fmt.Fprintf(w, "note: account %d has cancel_on_disconnect: its resting orders are cancelled when this session ends (use `ringex client shell` to keep one open)\n", s.acct)
		}
	}
}

// newID makes a client order id unique enough across runs of the command.
func newID() uint64 { return uint64(time.Now().UnixMilli()) }

type orderFlags struct {
	side, instrument, price, qty, typ, tif string
	postOnly                               bool
	id                                     uint64
}

// build turns the flags into a NewOrder.
func (f *orderFlags) build(in instruments) (proto.NewOrder, error) {
	side, err := parseSide(f.side)
	if err != nil {
		return proto.NewOrder{}, err
	}
	typ, err := parseType(f.typ)
	if err != nil {
		return proto.NewOrder{}, err
	}
	tifName := f.tif
	if tifName == "" { // --tif not given: what the type allows
		tifName = "gtc"
		if typ == wire.OrderTypeMarket {
			tifName = "ioc"
		}
	}
	tif, err := parseTIF(tifName)
	if err != nil {
		return proto.NewOrder{}, err
	}
	inst, err := in.lookup(f.instrument)
	if err != nil {
		return proto.NewOrder{}, err
	}
	qty, err := parseUnits(f.qty, inst.QtyDecimals)
	if err != nil {
		return proto.NewOrder{}, fmt.Errorf("qty: %w", err)
	}
	var price int64
	switch {
	case typ == wire.OrderTypeLimit && f.price == "":
		return proto.NewOrder{}, fmt.Errorf("a limit order needs --price")
	case typ == wire.OrderTypeMarket && f.price != "":
		return proto.NewOrder{}, fmt.Errorf("a market order takes no --price")
	case f.price != "":
		if price, err = parseUnits(f.price, inst.PriceDecimals); err != nil {
			return proto.NewOrder{}, fmt.Errorf("price: %w", err)
		}
	}
	id := f.id
	if id == 0 {
		id = newID()
	}
	return proto.NewOrder{ClientOrderID: id, Instrument: inst.ID, Side: side, Type: typ, TIF: tif,
		PostOnly: f.postOnly, Price: price, Quantity: qty}, nil
}

// orderAnswer: the order's own reports end with a rejection, its last
// fill or its cancellation; a resting order ends after --wait.
func orderAnswer(o proto.NewOrder) answer {
	var orderID uint64
	return answer{
		first: func(r *proto.Report) bool {
			if r.ClientOrderID == o.ClientOrderID {
				orderID = r.OrderID
				return true
			}
			return false
		},
		done: func(r *proto.Report) bool {
			if r.OrderID != orderID {
				return false
			}
			return r.Kind == wire.ExecKindCancelled || r.Kind == wire.ExecKindFill && r.Leaves == 0
		},
	}
}

func newClientOrderCmd(o *clientOptions) *cobra.Command {
	f := &orderFlags{}
	cmd := &cobra.Command{
		Use:   "order",
		Short: "Send a new order and print its execution reports",
		Long: `Logs on, sends one new order and prints its execution reports: accepted
or rejected (with the reason), then any fills and the cancellation of an
unfilled IOC/FOK/market rest. An order still resting after --wait is left
in the book (but see cancel_on_disconnect in ` + "`ringex client --help`" + `).`,
		Example: `  ringex client order --account 4 --side buy --instrument BTC-USD --qty 0.0005 --price 60000
  ringex client order --account 2 --side sell --instrument 1 --qty 0.0002 --type market --tif ioc
  ringex client order --account 4 --secret demo-secret-4 --side buy --instrument AAPL --qty 10 --price 199.50 --post-only`,
		Args: cobra.NoArgs,
		RunE: o.withSession(func(cmd *cobra.Command, s *session) error {
			no, err := f.build(s.in)
			if err != nil {
				return err
			}
			if err := s.send(func(c *client.Client) error { return c.NewOrder(no) }); err != nil {
				return err
			}
			a := orderAnswer(no)
			if err := s.await(a, o.wait, o.timeout); err != nil {
				return err
			}
			if no.TIF == wire.TimeInForceGTC && no.Type == wire.OrderTypeLimit {
				s.restingNote(cmd.ErrOrStderr())
			}
			return nil
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&f.side, "side", "", "buy or sell (required)")
	fl.StringVar(&f.instrument, "instrument", "", "instrument symbol or id (required)")
	fl.StringVar(&f.price, "price", "", "limit price, a decimal in the instrument's price units")
	fl.StringVar(&f.qty, "qty", "", "quantity, a decimal in the instrument's quantity units (required)")
	fl.StringVar(&f.typ, "type", "limit", "limit or market")
	fl.StringVar(&f.tif, "tif", "", "time in force: gtc, ioc or fok (default: gtc; ioc for --type market)")
	fl.BoolVar(&f.postOnly, "post-only", false, "reject instead of trading on arrival")
	fl.Uint64Var(&f.id, "id", 0, "client order id (default: derived from the clock)")
	for _, name := range []string{"side", "instrument", "qty"} {
		cmd.MarkFlagRequired(name)
	}
	cmd.RegisterFlagCompletionFunc("side", fixedCompletions("buy", "sell"))
	cmd.RegisterFlagCompletionFunc("type", fixedCompletions("limit", "market"))
	cmd.RegisterFlagCompletionFunc("tif", fixedCompletions("gtc", "ioc", "fok"))
	cmd.RegisterFlagCompletionFunc("instrument", instrumentCompletions(o))
	return cmd
}

// target names an existing order by exchange id or client order id.
type target struct {
	orderID, clientID uint64
	instrument        string
}

func (t *target) flags(cmd *cobra.Command, o *clientOptions) {
	cmd.Flags().Uint64Var(&t.orderID, "order-id", 0, "the order's exchange id")
	cmd.Flags().Uint64Var(&t.clientID, "client-id", 0, "the order's client order id (instead of --order-id)")
	cmd.Flags().StringVar(&t.instrument, "instrument", "", "instrument symbol or id (checked against the order's)")
	cmd.MarkFlagsOneRequired("order-id", "client-id")
	cmd.MarkFlagsMutuallyExclusive("order-id", "client-id")
	cmd.RegisterFlagCompletionFunc("instrument", instrumentCompletions(o))
}

func (t *target) instrumentID(in instruments) (uint32, error) {
	if t.instrument == "" {
		return 0, nil
	}
	i, err := in.lookup(t.instrument)
	return i.ID, err
}

// names reports whether r is about the targeted order.
func (t *target) names(r *proto.Report) bool {
	return t.orderID != 0 && r.OrderID == t.orderID || t.clientID != 0 && r.ClientOrderID == t.clientID
}

func newClientCancelCmd(o *clientOptions) *cobra.Command {
	t := &target{}
	cmd := &cobra.Command{
		Use:   "cancel",
		Short: "Cancel one order and print the answer",
		Example: `  ringex client cancel --order-id 7
  ringex client cancel --account 4 --client-id 1001 --instrument BTC-USD`,
		Args: cobra.NoArgs,
		RunE: o.withSession(func(cmd *cobra.Command, s *session) error {
			inst, err := t.instrumentID(s.in)
			if err != nil {
				return err
			}
			x := proto.Cancel{OrderID: t.orderID, OrigClientOrderID: t.clientID, Instrument: inst}
			if err := s.send(func(c *client.Client) error { return c.Cancel(x) }); err != nil {
				return err
			}
			return s.await(answer{
				first: t.names,
				done:  func(*proto.Report) bool { return true },
			}, o.wait, o.timeout)
		}),
	}
	t.flags(cmd, o)
	return cmd
}

func newClientReplaceCmd(o *clientOptions) *cobra.Command {
	t := &target{}
	var price, qty string
	var id uint64
	cmd := &cobra.Command{
		Use:   "replace",
		Short: "Change an order's price and/or quantity and print the answer",
		Long: `Replaces a resting order's price and total quantity. Lowering the
quantity at the same price keeps time priority; a new price or a larger
quantity re-queues it, and it may trade at once. --instrument is required
to read the decimals of --price and --qty.`,
		Example: `  ringex client replace --instrument BTC-USD --order-id 7 --qty 0.0003 --price 60000
  ringex client replace --account 4 --instrument AAPL --client-id 1001 --qty 5 --price 199.75`,
		Args: cobra.NoArgs,
		RunE: o.withSession(func(cmd *cobra.Command, s *session) error {
			inst, err := s.in.lookup(t.instrument)
			if err != nil {
				return err
			}
			p, err := parseUnits(price, inst.PriceDecimals)
			if err != nil {
				return fmt.Errorf("price: %w", err)
			}
			q, err := parseUnits(qty, inst.QtyDecimals)
			if err != nil {
				return fmt.Errorf("qty: %w", err)
			}
			if id == 0 {
				id = newID()
			}
			x := proto.Replace{OrderID: t.orderID, OrigClientOrderID: t.clientID, ClientOrderID: id,
				Price: p, Quantity: q, Instrument: inst.ID}
			if err := s.send(func(c *client.Client) error { return c.Replace(x) }); err != nil {
				return err
			}
			var orderID uint64
			return s.await(answer{
				first: func(r *proto.Report) bool {
					if t.names(r) || r.ClientOrderID == id {
						orderID = r.OrderID
						return true
					}
					return false
				},
				done: func(r *proto.Report) bool {
					return r.Kind == wire.ExecKindCancelled || r.OrderID == orderID && r.Kind == wire.ExecKindFill && r.Leaves == 0
				},
			}, o.wait, o.timeout)
		}),
	}
	t.flags(cmd, o)
	cmd.Flags().StringVar(&price, "price", "", "new limit price (required)")
	cmd.Flags().StringVar(&qty, "qty", "", "new total quantity (required)")
	cmd.Flags().Uint64Var(&id, "id", 0, "new client order id (default: derived from the clock)")
	for _, name := range []string{"price", "qty", "instrument"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}

func newClientMassCancelCmd(o *clientOptions) *cobra.Command {
	var instrument string
	cmd := &cobra.Command{
		Use:   "mass-cancel",
		Short: "Cancel all the account's orders (in one instrument or everywhere)",
		Long: `Cancels every live order of the account, in --instrument only or in all
instruments, and prints the node's answer: how many orders it cancelled
(0 when none was open). Each cancellation goes to the session that
entered the order, so it is printed here only for orders whose session
is no longer logged on (a drop copy, ` + "`ringex client reports`" + `, sees them all).`,
		Example: `  ringex client mass-cancel
  ringex client mass-cancel --account 4 --instrument BTC-USD`,
		Args: cobra.NoArgs,
		RunE: o.withSession(func(cmd *cobra.Command, s *session) error {
			var inst uint32
			if instrument != "" {
				i, err := s.in.lookup(instrument)
				if err != nil {
					return err
				}
				inst = i.ID
			}
			if err := s.send(func(c *client.Client) error { return c.MassCancel(inst) }); err != nil {
				return err
			}
			return s.await(answer{
				first: func(r *proto.Report) bool {
					return r.Kind == wire.ExecKindRejected || r.Kind == wire.ExecKindMassCancelDone ||
						r.Kind == wire.ExecKindCancelled && r.Reason == uint8(engine.CancelMassCancel)
				},
				done: func(r *proto.Report) bool { return r.Kind == wire.ExecKindMassCancelDone },
			}, o.wait, o.timeout)
		}),
	}
	cmd.Flags().StringVar(&instrument, "instrument", "", "only this instrument (symbol or id; default: all)")
	cmd.RegisterFlagCompletionFunc("instrument", instrumentCompletions(o))
	return cmd
}

func newClientOrdersCmd(o *clientOptions) *cobra.Command {
	var instrument string
	var orderID, clientID uint64
	cmd := &cobra.Command{
		Use:   "orders",
		Short: "List the account's live orders (after a reconnect, say)",
		Long: `Asks the node for the account's live orders — every one, those in
--instrument, or the one --order-id or --client-id names — and prints one
"status" line per order (its total and traded quantity and what is still
open), then how many there were (the node answers up to 1000 at a time;
the command asks for every page, waiting when the gateway's status_rate
refuses one). Orders of other accounts are never
shown. An order that is not listed is not live: it traded in full, was
cancelled, or never arrived.`,
		Example: `  ringex client orders
  ringex client orders --account 4 --instrument BTC-USD
  ringex client orders --client-id 1764770000000`,
		Args: cobra.NoArgs,
		RunE: o.withSession(func(cmd *cobra.Command, s *session) error {
			q := proto.OrderStatus{OrderID: orderID, OrigClientOrderID: clientID}
			if instrument != "" {
				i, err := s.in.lookup(instrument)
				if err != nil {
					return err
				}
				q.Instrument = i.ID
			}
			for { // a page at a time, each after the last order listed
				if err := s.send(func(c *client.Client) error { return c.OrderStatus(q) }); err != nil {
					return err
				}
				more, after := false, q.AfterOrderID
				err := s.await(answer{
					first: func(r *proto.Report) bool {
						return r.Kind == wire.ExecKindRejected || r.Kind == wire.ExecKindStatus || r.Kind == wire.ExecKindStatusDone
					},
					done: func(r *proto.Report) bool {
						if r.Kind == wire.ExecKindStatus {
							after = max(after, r.OrderID) // a node before the StatusDone cursor pages by the last listed
						}
						if r.Kind != wire.ExecKindStatusDone {
							return false
						}
						more = r.Reason == engine.StatusMore
						q.AfterOrderID = max(r.OrderID, after) // the next page's cursor (0 from a node before it)
						return true
					},
				}, o.wait, o.timeout)
				switch {
				case isRejection(err, engine.ReasonRateLimited):
					time.Sleep(statusRetry) // above gateway.status_rate: ask for the same page again
				case err != nil || !more:
					return err
				}
			}
		}),
	}
	cmd.Flags().StringVar(&instrument, "instrument", "", "only this instrument (symbol or id; default: all)")
	cmd.Flags().Uint64Var(&orderID, "order-id", 0, "only this exchange order id")
	cmd.Flags().Uint64Var(&clientID, "client-id", 0, "only the live order with this client order id")
	cmd.RegisterFlagCompletionFunc("instrument", instrumentCompletions(o))
	return cmd
}

func newClientResendCmd(o *clientOptions) *cobra.Command {
	var after int64
	cmd := &cobra.Command{
		Use:   "resend",
		Short: "Ask again for the account's reports since an input (what it missed while logged off)",
		Long: `Asks the node for every execution report of the account caused by an
input after --after (the largest input_seq you have seen; 0: from the
start) and before the request — fills, accepts, cancels, replaces and
rejects, whether or not a session of the account received them — and
prints each as "resent", then which inputs' reports were resent. Live
reports that arrive meanwhile are printed as usual. The node rebuilds
them from its journal; reports of inputs older than its oldest kept
snapshot or gateway.resend_window are gone, and the last line says so
("partial"). A refusal for the gateway's status_rate, or a node busy with
another resend, is waited out and asked again; an answer the node cut
short ("cut": the command read too slowly while another client's resend
waited) is printed and the rest asked for from where it stopped. The
node may replay for seconds before the first report, so the command
waits up to a minute (or --timeout, if longer) between two messages.`,
		Example: `  ringex client resend --account 4
  ringex client resend --account 4 --after 1200345`,
		Args:    cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error { return afterArg(after) },
		RunE: o.withSession(func(cmd *cobra.Command, s *session) error {
			for {
				var tag uint64
				err := s.send(func(c *client.Client) error {
					var err error
					tag, err = c.Resend(after)
					return err
				})
				if err != nil {
					return err
				}
				done, err := s.awaitResend(tag, max(o.timeout, time.Minute))
				switch {
				case isRejection(err, engine.ReasonRateLimited), err == nil && done.Reason == proto.ResendBusy:
					time.Sleep(statusRetry)
				case err != nil:
					return err
				default:
					s.printf("%s\n", formatResendDone(done))
					if done.Reason == proto.ResendFailed {
						return errors.New("client: the node could not read its journal for the resend (see its log)")
					}
					m := client.Message{Type: wire.MessageResendDone, ResendDone: done}
					rest, again := m.ResendAgain()
					if !again {
						return nil
					}
					after = rest // cut short (or a reason newer than this command): the rest
				}
			}
		}),
	}
	cmd.Flags().Int64Var(&after, "after", 0, "resend the reports of inputs after this input sequence")
	return cmd
}

// awaitResend prints the answer to the Resend tagged tag, and live
// reports meanwhile, until its ResendDone. A rejection of the request
// itself (it echoes the tag as client order id) is a rejection error.
// timeout bounds the wait for each message, not the whole resend.
func (s *session) awaitResend(tag uint64, timeout time.Duration) (proto.ResendDone, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				return proto.ResendDone{}, fmt.Errorf("client: connection closed: %w", <-s.err)
			}
			timer.Reset(timeout)
			switch {
			case m.Type == wire.MessageResendDone && m.Seq == tag:
				return m.ResendDone, nil
			case m.Type == wire.MessageExecutionReport:
				line, _ := s.in.formatMessage(&m)
				s.printf("%s\n", line)
				if r := &m.Report; !m.Resent() && r.Kind == wire.ExecKindRejected &&
					(r.ClientOrderID == tag || r.Reason == uint8(engine.ReasonRateLimited)) {
					return proto.ResendDone{}, rejection{engine.RejectReason(r.Reason)}
				}
			}
		case <-timer.C:
			return proto.ResendDone{}, errNoAnswer
		}
	}
}

func newClientReportsCmd(o *clientOptions) *cobra.Command {
	var duration time.Duration
	var after int64
	cmd := &cobra.Command{
		Use:   "reports",
		Short: "Follow every execution report of an account (a read-only drop copy)",
		Long: `Logs on as a drop-copy session of the account — read-only: it may not
trade, and it does not keep the account's orders alive for
cancel-on-disconnect — and prints every execution report of the account
as it happens, whichever of its sessions it was sent to, until Ctrl-C or
--for. With --after it first asks for the reports of the inputs after
that one (printed as "resent"), so a risk desk that was away catches up
and then follows. A resend the node answered busy is asked for again; if
that cannot be sent, the command ends with an error (exit status 1)
rather than follow on without the reports it asked for.`,
		Example: `  ringex client reports --account 4
  ringex client reports --account 4 --after 1200345 --for 1m`,
		Args:    cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error { return afterArg(after) },
		RunE: func(cmd *cobra.Command, args []string) error {
			o.dropCopy = true
			return o.withSession(func(cmd *cobra.Command, s *session) error {
				s.printf("following account %d's reports (drop copy, session %d)\n", s.acct, s.c.Session)
				if cmd.Flags().Changed("after") {
					if err := s.send(func(c *client.Client) error { _, err := c.Resend(after); return err }); err != nil {
						return err
					}
				}
				stop := make(chan os.Signal, 1)
				signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
				defer signal.Stop(stop)
				var deadline <-chan time.Time
				if duration > 0 {
					t := time.NewTimer(duration)
					defer t.Stop()
					deadline = t.C
				}
				// A resend asked again that could not be sent ends the
				// command: following on, the desk would miss the reports
				// it asked for and never hear of it.
				retryErr := make(chan error, 1)
				for {
					select {
					case err := <-retryErr:
						return err
					case m, ok := <-s.msgs:
						if !ok {
							return fmt.Errorf("client: connection closed: %w", <-s.err)
						}
						if after, ok := resendToRetry(&m); ok {
							if m.Type == wire.MessageResendDone && m.ResendDone.Reason != proto.ResendBusy {
								s.printf("%s\n", formatResendDone(m.ResendDone)) // what came before the cut
							}
							// The node was replaying for another request, or
							// cut its answer short, or the account's
							// status_rate was spent: ask again a little
							// later, as resend and shell do.
							time.AfterFunc(statusRetry, func() {
								if err := s.send(func(c *client.Client) error { _, err := c.Resend(after); return err }); err != nil {
									select {
									case retryErr <- fmt.Errorf("client: asking again for the reports after input %d: %w", after, err):
									default: // the first is enough
									}
								}
							})
							continue
						}
						if line, ok := s.in.formatMessage(&m); ok {
							s.printf("%s\n", line)
						}
					case <-stop:
						return nil
					case <-deadline:
						return nil
					}
				}
			})(cmd, args)
		},
	}
	cmd.Flags().DurationVar(&duration, "for", 0, "stop after this long (0: until interrupted)")
	cmd.Flags().Int64Var(&after, "after", 0, "first resend the reports of the inputs after this input sequence")
	return cmd
}

// afterArg refuses a negative --after: no input has it (the node resent
// every report, as from 0).
func afterArg(after int64) error {
	if after < 0 {
		return fmt.Errorf("--after %d: an input sequence is at least 0 (0: from the start)", after)
	}
	return nil
}

func fixedCompletions(words ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return words, cobra.ShellCompDirectiveNoFileComp
	}
}

// instrumentCompletions offers the config's symbols.
func instrumentCompletions(o *clientOptions) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		cfg, _, err := o.clientConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var out []string
		for _, i := range cfg.Instruments {
			out = append(out, i.Symbol)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// resendToRetry reports whether m says a resend of the session's was not
// served in full and should be asked for again later — a ResendDone busy
// (the node was replaying for another request) or cut short (this client
// read too slowly while another request waited: Message.ResendAgain), or
// the request refused as over gateway.status_rate (a Rejected under its
// tag: a Redial's resend after a burst of status requests) — and from
// which input.
func resendToRetry(m *client.Message) (after int64, ok bool) {
	switch r := &m.Report; {
	case m.Type == wire.MessageResendDone:
		return m.ResendAgain()
	case m.Type == wire.MessageExecutionReport && r.Kind == wire.ExecKindRejected && r.Reason == uint8(engine.ReasonRateLimited) &&
		r.InputSeq < 0 && m.Seq != 0 && m.Seq == r.ClientOrderID:
		return int64(r.OrderID), true
	}
	return 0, false
}
