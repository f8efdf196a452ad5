package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

const shellHelp = `commands (prices and quantities are decimals in the instrument's units):
  buy|sell INSTRUMENT QTY PRICE|market [gtc|ioc|fok] [post]
  cancel ORDER_ID
  replace ORDER_ID QTY PRICE [INSTRUMENT]
  mass-cancel [INSTRUMENT]
  orders [INSTRUMENT]
  resend [AFTER_INPUT_SEQ]
  help
  quit
`

func newClientShellCmd(o *clientOptions) *cobra.Command {
	var reconnect bool
	cmd := &cobra.Command{
		Use:   "shell",
		Short: "Keep one session open and trade by typing commands",
		Long: `Logs on once and reads commands from standard input, one per line, until
"quit" or end of input; execution reports are printed as they arrive,
including fills of resting orders traded by others. At "quit" or the end
of input it waits for the answers still coming (until nothing came for
--wait and no resend answered busy is still to be asked again, at most
--timeout), so piped commands print their reports; piped
(standard input not a terminal), it then exits non-zero if any command
was answered with an error, or a resend answered busy could not be asked
for again (an error line says so; with --reconnect, not when its
connection died and a new logon's catch-up brought those reports before
the shell ended). The session heartbeats by itself, so it stays up while idle, and the orders
it places stay in the book until it ends. When the connection ends the
shell ends, or with --reconnect logs on again — to the new leader after
a failover, within --timeout — and asks for the reports it missed
meanwhile (printed as "resent").

` + shellHelp,
		Example: `  ringex client shell
  ringex client shell --account 2
  printf 'buy BTC-USD 0.0005 60000\nquit\n' | ringex client shell --account 4
  ringex client shell --account 4 --reconnect --addr 127.0.0.1:7400,127.0.0.1:7410,127.0.0.1:7420`,
		Args: cobra.NoArgs,
		RunE: o.withSession(func(cmd *cobra.Command, s *session) error {
			var again func(*session) error
			if reconnect {
				again = shellRedial(o.addr, o.timeout)
			}
			return runShell(s, cmd.InOrStdin(), o.wait, o.timeout, again)
		}),
	}
	cmd.Flags().BoolVar(&reconnect, "reconnect", false, "when the connection ends, log on again and resend what was missed")
	return cmd
}

// shellRedial is --reconnect's: it logs the session on again (addrs: the
// gateways, comma-separated) and says so.
func shellRedial(addrs string, timeout time.Duration) func(*session) error {
	return func(s *session) error {
		last := s.c.LastInputSeq // its reader has ended
		tag, err := s.redial(strings.Split(addrs, ","), max(timeout, 15*time.Second))
		if err == nil {
			s.printf("logged on again (session %d); asked for the reports from input %d on (resend %d)\n",
				s.c.Session, last, tag)
		}
		return err
	}
}

// shell holds what the printer learned: which instrument each of the
// session's orders is in, so replace can read decimals without being told.
type shell struct {
	s      *session
	mu     sync.Mutex
	orders map[uint64]uint32 // order id -> instrument
	nextID uint64            // client order ids, from the clock at start
	// lastHeard is when the printer last got a message (Unix ns).
	lastHeard atomic.Int64
	// retriesFailed counts the resends asked again (print) that could
	// not be sent: each printed an error line, and fails a script as a
	// command answered with an error does. A failure on a connection a
	// --reconnect then replaced is not one (retriesLost).
	retriesFailed atomic.Int64
	// retriesLost are the askings again that failed other than by
	// client.ErrTooManyResends — the connection died, say — one entry
	// per failure. Each counts as failed until a later client's resend
	// brought its reports (caughtUp): Redial asks from the start of every
	// resend of the old client's not answered in full, the one that
	// failed too (client.Resend keeps it open when its send fails), but
	// that catch-up may be answered busy, cut short or not at all before
	// the shell ends. An entry is added while the session is still on the
	// client it failed on (under s.mu), so no new logon comes in between.
	// Guarded by mu; mu is taken under s.mu, never the other way.
	retriesLost []lostRetry
	// retrying counts the resends to ask again (print) not sent yet:
	// settle waits for them as for answers under way.
	retrying atomic.Int64
}

// lostRetry is an asking again for the reports after input after that
// failed on client c (shell.retriesLost). through: the reports of the
// inputs through it came in a later client's resend answers cut short
// (after, at first).
type lostRetry struct {
	c       *client.Client
	after   int64
	through int64
}

// runShell reads commands until quit or the end of input. When the
// connection ends it returns — or, with reconnect set, calls it and goes
// on with the new connection.
func runShell(s *session, stdin io.Reader, wait, timeout time.Duration, reconnect func(*session) error) (err error) {
	sh := &shell{s: s, orders: map[uint64]uint32{}, nextID: newID()}
	failed := 0 // commands answered with an error
	defer func() {
		sh.settle(wait, timeout)
		if err == nil { // quit or the end of input: counted once the last answers came
			err = scriptFailed(stdin, failed+int(sh.retriesFailed.Load())+sh.retriesNotCaughtUp())
		}
	}()
	s.printf("logged on as account %d (session %d); type help for commands\n", s.acct, s.c.Session)
	printed := make(chan error, 1)
	go func() { printed <- sh.print() }()
	// Lines are read on their own goroutine, so a connection that ends
	// (a failover, an operator closing the session) ends the shell at
	// once, not at the next line typed.
	lines, inputErr, done := make(chan string), make(chan error, 1), make(chan struct{})
	defer close(done)
	go func() {
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-done:
				return
			}
		}
		inputErr <- sc.Err()
		close(lines)
	}()
	for {
		var line string
		var ok bool
		select {
		case err := <-printed:
			if reconnect == nil {
				return fmt.Errorf("client: connection closed: %w", err)
			}
			s.printf("connection lost (%v); logging on again\n", err)
			if err := reconnect(s); err != nil {
				return fmt.Errorf("client: connection closed, and no new logon: %w", err)
			}
			go func() { printed <- sh.print() }()
			continue
		case line, ok = <-lines:
		}
		if !ok {
			return <-inputErr
		}
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if f[0] == "quit" || f[0] == "exit" {
			return nil
		}
		if err := sh.do(f); err != nil {
			s.printf("error: %v\n", err)
			failed++
		}
	}
}

// scriptFailed is the shell's error at its end when its commands came
// from a script (stdin not a terminal) and failed of them did: a script
// run as `ringex client shell < orders.txt` exits non-zero, as a batch
// of commands that went wrong should, where it exited 0 whatever its
// commands did. At a terminal the person typing saw each error.
func scriptFailed(stdin io.Reader, failed int) error {
	if failed == 0 {
		return nil
	}
	if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return nil
		}
	}
	return fmt.Errorf("client shell: %d command(s) failed (each printed an error line above)", failed)
}

// print shows every report as it arrives, until the connection ends.
func (sh *shell) print() error {
	var on *client.Client // the client read: the session's, which a new logon replaces only once this returns
	sh.s.send(func(c *client.Client) error { on = c; return nil })
	for m := range sh.s.msgs {
		sh.lastHeard.Store(time.Now().UnixNano())
		if r := &m.Report; m.Type == wire.MessageExecutionReport && r.OrderID != 0 && r.Instrument != 0 {
			sh.mu.Lock()
			sh.orders[r.OrderID] = r.Instrument
			sh.mu.Unlock()
		}
		if line, ok := sh.s.in.formatMessage(&m); ok {
			sh.s.printf("%s\n", line)
		}
		if m.Type == wire.MessageResendDone {
			sh.caughtUp(on, &m)
		}
		if after, ok := resendToRetry(&m); ok {
			// The node was replaying for another request, or the
			// account's status_rate was spent: ask again a little later,
			// as `ringex client resend` does (the reports missed while
			// reconnecting come then).
			sh.retrying.Add(1)
			time.AfterFunc(statusRetry, func() {
				defer sh.retrying.Add(-1)
				err := sh.s.send(func(c *client.Client) error {
					_, err := c.Resend(after)
					if err != nil && !errors.Is(err, client.ErrTooManyResends) {
						sh.mu.Lock() // before a new logon can come: its catch-up answers it
						sh.retriesLost = append(sh.retriesLost, lostRetry{c, after, after})
						sh.mu.Unlock()
					}
					return err
				})
				if err != nil {
					if errors.Is(err, client.ErrTooManyResends) {
						sh.retriesFailed.Add(1) // the connection is up: no new logon asks for them
					}
					sh.s.printf("error: asking again for the reports after input %d: %v\n", after, err)
				}
				// Its answer is awaited as a command's (settle).
				sh.lastHeard.Store(time.Now().UnixNano())
			})
		}
	}
	return <-sh.s.err
}

// retriesNotCaughtUp counts the failed askings again (retriesLost) whose
// reports no later client's resend brought.
func (sh *shell) retriesNotCaughtUp() int {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return len(sh.retriesLost)
}

// caughtUp takes m, a ResendDone read on client on, as the answer to the
// failed askings again (retriesLost) of earlier clients it covers — one
// from their after (or from where an answer cut short left off), not
// busy, nor failed (the node could not read its journal: the reports
// from its first_input_seq on did not come) — forgets those it answered
// in full and says so.
func (sh *shell) caughtUp(on *client.Client, m *client.Message) {
	d := &m.ResendDone
	if d.Reason == proto.ResendBusy || d.Reason == proto.ResendFailed {
		return
	}
	rest, again := m.ResendAgain()
	sh.mu.Lock()
	left := sh.retriesLost[:0]
	var caught []int64
	for _, l := range sh.retriesLost {
		switch {
		case l.c == on || d.AfterInputSeq > l.through:
			left = append(left, l)
		case again: // cut short: the rest is asked for from rest
			l.through = max(l.through, rest)
			left = append(left, l)
		default:
			caught = append(caught, l.after)
		}
	}
	sh.retriesLost = left
	sh.mu.Unlock()
	for _, after := range caught {
		sh.s.printf("the reports after input %d, which asking again failed for, came in the new logon's resend\n", after)
	}
}

// settle lets the answers to the last commands arrive before the
// session ends: it returns once nothing came for wait (counted from now
// at the earliest) and no resend is waiting to be asked again, or after
// timeout.
func (sh *shell) settle(wait, timeout time.Duration) {
	start := time.Now()
	for {
		quiet := time.Since(time.Unix(0, max(sh.lastHeard.Load(), start.UnixNano())))
		if quiet >= wait && sh.retrying.Load() == 0 || time.Since(start) >= timeout {
			return
		}
		time.Sleep(max(min(wait-quiet, 10*time.Millisecond), time.Millisecond))
	}
}

func (sh *shell) do(f []string) error {
	in := sh.s.in
	switch f[0] {
	case "help", "?":
		sh.s.printf("%s", shellHelp)
		return nil
	case "buy", "sell":
		if len(f) < 4 {
			return fmt.Errorf("usage: %s INSTRUMENT QTY PRICE|market [gtc|ioc|fok] [post]", f[0])
		}
		of := orderFlags{side: f[0], instrument: f[1], qty: f[2], typ: "limit", tif: "gtc", price: f[3]}
		if f[3] == "market" {
			of.typ, of.price, of.tif = "market", "", "ioc"
		}
		for _, w := range f[4:] {
			switch {
			case w == "post":
				of.postOnly = true
			case w == "gtc" || w == "ioc" || w == "fok":
				of.tif = w
			default:
				return fmt.Errorf("%q: want gtc, ioc, fok or post", w)
			}
		}
		sh.nextID++
		of.id = sh.nextID
		no, err := of.build(in)
		if err != nil {
			return err
		}
		return sh.s.send(func(c *client.Client) error { return c.NewOrder(no) })
	case "cancel":
		if len(f) != 2 {
			return fmt.Errorf("usage: cancel ORDER_ID")
		}
		id, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return fmt.Errorf("order id %q: %w", f[1], err)
		}
		return sh.s.send(func(c *client.Client) error { return c.Cancel(proto.Cancel{OrderID: id}) })
	case "replace":
		if len(f) != 4 && len(f) != 5 {
			return fmt.Errorf("usage: replace ORDER_ID QTY PRICE [INSTRUMENT]")
		}
		id, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return fmt.Errorf("order id %q: %w", f[1], err)
		}
		sh.mu.Lock()
		instID, known := sh.orders[id]
		sh.mu.Unlock()
		inst := in.get(instID)
		if len(f) == 5 {
			if inst, err = in.lookup(f[4]); err != nil {
				return err
			}
		} else if !known {
			return fmt.Errorf("order %d is not one this session has seen: name its instrument (replace ID QTY PRICE INSTRUMENT)", id)
		}
		q, err := parseUnits(f[2], inst.QtyDecimals)
		if err != nil {
			return fmt.Errorf("qty: %w", err)
		}
		p, err := parseUnits(f[3], inst.PriceDecimals)
		if err != nil {
			return fmt.Errorf("price: %w", err)
		}
		sh.nextID++
		x := proto.Replace{OrderID: id, ClientOrderID: sh.nextID, Price: p, Quantity: q, Instrument: inst.ID}
		return sh.s.send(func(c *client.Client) error { return c.Replace(x) })
	case "mass-cancel":
		var inst uint32
		if len(f) > 1 {
			i, err := in.lookup(f[1])
			if err != nil {
				return err
			}
			inst = i.ID
		}
		return sh.s.send(func(c *client.Client) error { return c.MassCancel(inst) })
	case "orders":
		var q proto.OrderStatus
		if len(f) > 1 {
			i, err := in.lookup(f[1])
			if err != nil {
				return err
			}
			q.Instrument = i.ID
		}
		return sh.s.send(func(c *client.Client) error { return c.OrderStatus(q) })
	case "resend":
		var after int64
		if len(f) > 1 {
			v, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || v < 0 {
				return fmt.Errorf("resend: %q is not an input sequence", f[1])
			}
			after = v
		}
		return sh.s.send(func(c *client.Client) error { _, err := c.Resend(after); return err })
	}
	return fmt.Errorf("unknown command %q (type help)", f[0])
}
