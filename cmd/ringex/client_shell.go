package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
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
--wait and no resend answered busy is still to be asked again — piped,
nor any resend it asked for still unanswered: a journal replay may be
silent for seconds — at most --timeout, which a script asking for a long
resend raises), so piped commands print their reports. Then, on standard
error, it names each resend it asked for — a typed resend, a new logon's
catch-up, each asked again after an answer busy or cut short — whose
reports did not all come: "the reports after input N were not all
received: WHY" (answered busy until the end, no answer, cut short and
the rest asked for not answered, refused for the account's status rate
until the end, answered failed, asking again failed, resend failed, or
answered partial: the node no longer holds some of them — older than its
oldest snapshot, or past gateway.resend_window); with --reconnect, a new
logon's catch-up that brings them answers those of the old connection,
and those of a typed resend the connection's end kept from being sent.
Piped (standard input not a terminal) it then exits 1 if any command
was answered with an error (such a resend only if its reports did not
come) or the connection ended (with --reconnect: and no new logon took
its place), while it read commands or waited for their answers; else 3
if it named such a resend; else 0. Typed at a terminal it exits 0 unless
its connection ended while it read commands and no new logon took its
place (1); one that ended while it waited for the last answers, not
replaced, it says on standard error. The session heartbeats by itself, so it stays up while idle, and
the orders it places stay in the book until it ends. When the connection
ends the shell ends, or with --reconnect logs on again — to the new
leader after a failover, within --timeout; while it waits for the last
answers, within what is left of that wait — and asks for the reports it
missed meanwhile (printed as "resent"), which that wait then waits for.
A new logon that landed on a node holding another history (started on
new data, or another cluster) says so after that answer: the orders
placed before are not that node's, and their reports will not come.

` + shellHelp,
		Example: `  ringex client shell
  ringex client shell --account 2
  printf 'buy BTC-USD 0.0005 60000\nquit\n' | ringex client shell --account 4
  ringex client shell --account 4 --reconnect --addr 127.0.0.1:7400,127.0.0.1:7410,127.0.0.1:7420`,
		Args: cobra.NoArgs,
		RunE: o.withSession(func(cmd *cobra.Command, s *session) error {
			var again func(*session, time.Duration) (uint64, error)
			if reconnect {
				again = shellRedial
			}
			return runShell(s, cmd.InOrStdin(), cmd.ErrOrStderr(), o.wait, o.timeout, again)
		}),
	}
	cmd.Flags().BoolVar(&reconnect, "reconnect", false, "when the connection ends, log on again and resend what was missed")
	return cmd
}

// shellRedial is --reconnect's: it logs the session on again (at the
// gateways its logon went round) within the time it is given, says so —
// naming the first input whose reports its resend asks for — and returns
// the tag of the new logon's resend.
func shellRedial(s *session, within time.Duration) (uint64, error) {
	tag, err := s.redial(within)
	if err == nil {
		s.printf("logged on again (session %d); asked for the reports from input %d on (resend %d)\n",
			s.c.Session, s.c.RedialAfter+1, tag)
	}
	return tag, err
}

// newHistoryLine follows the answer to a new logon's catch-up (or its
// refusal) that says the node holds another history than the session's
// (client.Message.NewHistory): the input sequences the shell printed
// before name other inputs there, or none, and the orders placed before
// are not that node's — their reports will not come, resent or live.
const newHistoryLine = `the node holds another history than this session's (started on new data, or another cluster): ` +
	`its input sequences start again, and the reports of the orders placed before the new logon will not come; "orders" lists what is live there`

// shell holds what the printer learned: which instrument each of the
// session's orders is in, so replace can read decimals without being told.
type shell struct {
	s      *session
	mu     sync.Mutex
	orders map[uint64]uint32 // order id -> instrument
	nextID uint64            // client order ids, from the clock at start
	// lastHeard is when the printer last got a message (Unix ns).
	lastHeard atomic.Int64
	// resends are the resends asked for not answered in full yet: the
	// ones left at the end are reports a piped shell fails for.
	resends openResends
	// retrying counts the resends to ask again (print) not sent yet:
	// settle waits for them as for answers under way.
	retrying atomic.Int64
	// ended: the shell has settled and is ending — an asking again whose
	// timer fires now asks for nothing (the session is logging out) and
	// prints nothing. Guarded by s.mu: the asking again checks it in its
	// send.
	ended bool
	// readEnded: the printer's connection ended (its reading is over)
	// and no new logon replaced it: no answer can come, and settle does
	// not wait for one.
	readEnded atomic.Bool
}

// runShell reads commands until quit or the end of input. When the
// connection ends it returns — or, with reconnect set, calls it (within
// timeout, --timeout: a script's bound on how long the shell waits for
// the node, which one riding out a long outage raises) and goes on with
// the new connection; so while it waits for the last answers (settle),
// within what is left of timeout.
func runShell(s *session, stdin io.Reader, stderr io.Writer, wait, timeout time.Duration, reconnect func(s *session, within time.Duration) (tag uint64, err error)) (err error) {
	sh := &shell{s: s, orders: map[uint64]uint32{}, nextID: newID()}
	failed := 0 // commands answered with an error
	printed := make(chan error, 1)
	defer func() { err = sh.end(err, failed, stdin, stderr, wait, timeout, printed, reconnect) }()
	s.printf("logged on as account %d (session %d); type help for commands\n", s.acct, s.c.Session)
	go func() { printed <- sh.print() }()
	// Lines are read on their own goroutine, so a connection that ends
	// (a failover, an operator closing the session) ends the shell at
	// once, not at the next line typed.
	lines, inputErr, done := make(chan string), make(chan error, 1), make(chan struct{})
	defer close(done)
	go func() {
		sc := bufio.NewScanner(stdin)
		sc.Buffer(nil, maxCommandLine)
		n := 0 // lines read
		for sc.Scan() {
			n++
			select {
			case lines <- sc.Text():
			case <-done:
				return
			}
		}
		inputErr <- commandsError(sc.Err(), n+1)
		close(lines)
	}()
	for {
		var line string
		var ok bool
		select {
		case perr := <-printed:
			if err := sh.connectionEnded(perr, printed, reconnect, timeout); err != nil {
				return err
			}
			continue
		case line, ok = <-lines:
		}
		if !ok {
			if shellInputEnded != nil {
				shellInputEnded()
			}
			return <-inputErr
		}
		f, quit := commandFields(line)
		if quit {
			return nil
		}
		if len(f) == 0 {
			continue
		}
		if err := sh.do(f); err != nil {
			s.printf("error: %v\n", err)
			if !errors.Is(err, errResendLost) { // counted at the end if its reports did not come
				failed++
			}
		}
	}
}

// shellInputEnded, when set, is called by runShell once it has read the
// end of its commands (or failed to read them), before it waits for the
// last answers: a test's node ends the connection in that wait, not while
// the shell still reads commands. A variable for tests.
var shellInputEnded func()

// end is runShell's end once it stopped reading commands (read: why,
// nil for quit or the end of input; failed: the commands answered with
// an error): it waits for the last answers (settle), names the resends
// whose reports did not all come, and returns the shell's error — read's,
// else the connection's end piped (typed, it is said on stderr), else
// scriptFailed's.
func (sh *shell) end(read error, failed int, stdin io.Reader, stderr io.Writer, wait, timeout time.Duration, printed chan error, reconnect func(*session, time.Duration) (uint64, error)) error {
	ended := sh.settle(wait, timeout, !isTerminal(stdin), printed, reconnect)
	sh.s.send(func(*client.Client) error { sh.ended = true; return nil })
	// Named at a terminal too: the person typing may not have
	// followed every answer.
	missing, lost := sh.resends.report(stderr)
	failed += lost
	if read != nil {
		return read
	}
	if ended != nil {
		if !isTerminal(stdin) {
			return ended
		}
		// Typed, the shell ends as it did, its commands read: the person
		// saw what came, and is told that the rest will not — "logging on
		// again" the last they read of the connection.
		fmt.Fprintf(stderr, "%v\n", ended)
	}
	return scriptFailed(stdin, failed, missing) // quit or the end of input: counted once the last answers came
}

// maxCommandLine bounds a line of the shell's commands, its newline
// included: the longest command is a few dozen bytes, so a longer line
// is no command (a binary file given as input, a generated line gone
// wrong) and is refused, not read on.
const maxCommandLine = 64 << 10

// commandsError is the shell's error for err, from reading line n of
// its commands (nil: none).
func commandsError(err error, n int) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bufio.ErrTooLong):
		return fmt.Errorf("client shell: line %d of the commands is %d KiB or longer — no command is: refused", n, maxCommandLine>>10)
	}
	return fmt.Errorf("client shell: reading line %d of the commands: %w", n, err)
}

// connectionEnded follows the end of the printer's connection (perr):
// with reconnect set it logs on again, within, and starts a printer on
// the new connection (its end to come on printed), whose catch-up it
// follows as a resend asked for. It returns the shell's error when no
// new connection replaced the old one.
func (sh *shell) connectionEnded(perr error, printed chan<- error, reconnect func(*session, time.Duration) (uint64, error), within time.Duration) error {
	if reconnect == nil {
		return fmt.Errorf("client: connection closed: %w", perr)
	}
	s := sh.s
	s.printf("connection lost (%v); logging on again\n", perr)
	tag, err := reconnect(s, within)
	if err != nil {
		return fmt.Errorf("client: connection closed, and no new logon: %w", err)
	}
	sh.resends.catchingUp(s.c, s.c.RedialAfter, tag) // before print reads its answer
	sh.readEnded.Store(false)
	sh.lastHeard.Store(time.Now().UnixNano()) // settle waits for wait after it
	go func() { printed <- sh.print() }()
	return nil
}

// scriptFailed is the shell's error at its end when its commands came
// from a script (stdin not a terminal) and failed of them did, or missing
// of the resends it asked for were not answered in full: a script run as
// `ringex client shell < orders.txt` exits non-zero, as a batch of
// commands that went wrong should, where it exited 0 whatever its
// commands did — and with errReportsMissing (exit status 3) when every
// command went through but reports it asked for did not all come. At a
// terminal the person typing saw each error.
func scriptFailed(stdin io.Reader, failed, missing int) error {
	if failed == 0 && missing == 0 {
		return nil
	}
	if isTerminal(stdin) {
		return nil
	}
	if failed == 0 {
		return fmt.Errorf("%w (%d resend(s), each named above)", errReportsMissing, missing)
	}
	err := fmt.Errorf("client shell: %d command(s) failed (each printed an error line above)", failed)
	if missing > 0 {
		err = fmt.Errorf("%w; and the reports of %d resend(s) were not all received (each named above)", err, missing)
	}
	return err
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
		if m.NewHistory {
			sh.s.printf("%s\n", newHistoryLine)
		}
		after, retry := resendToRetry(&m)
		var typed uint64
		if m.Type == wire.MessageResendDone || retry {
			// Taken in a send: a request written is counted on its
			// entries (under its tag) before any answer is taken. The
			// typed resends counted so far are those asked for before
			// the answer: one typed after it, which the person typed
			// having read it, supersedes the asking again it schedules.
			var caught []string
			sh.s.send(func(*client.Client) error {
				typed, caught = sh.resends.typedSoFar(), sh.resends.answered(on, &m, after)
				return nil
			})
			for _, line := range caught {
				sh.s.printf("%s\n", line)
			}
		}
		// An answer read before this one — busy, cut short or a
		// refusal — answered its request (ResendCovered): nothing it
		// left is to be asked again, and the library keeps nothing of it.
		retry = retry && !m.ResendCovered
		if retry && !sh.resends.waitsForAsking(on, after, m.Seq) {
			// No resend open waits for this asking again: an answer
			// since brought its reports. The library keeps the request
			// until asked again — a Redial would ask from it — unless
			// told it will not be.
			tag := m.Seq
			sh.s.send(func(c *client.Client) error { forgetOn(c, on, tag); return nil })
			retry = false
		}
		if retry {
			// The node was replaying for another request, or the
			// account's status_rate was spent: ask again a little later,
			// as `ringex client resend` does (the reports missed while
			// reconnecting come then).
			tag := m.Seq
			sh.retrying.Add(1)
			time.AfterFunc(statusRetry, func() {
				defer sh.retrying.Add(-1)
				skip := false // the shell ended, or the asking is not needed
				err := sh.s.send(func(c *client.Client) error {
					if skip = sh.ended; skip {
						return nil
					}
					if c != on && c.RedialAfter <= after {
						// A new logon's catch-up, asked since, asks for these
						// reports (Redial asks from where the answer left
						// off), and its chain of answers covers the
						// entries: asking too would replay them twice.
						skip = true
						return nil
					}
					if !sh.resends.asksAgain(c, on, after, typed, tag) {
						skip = true // no resend open waits for it: an answer since brought its reports, or a request under way (a typed resend, another asking again) asks
						forgetOn(c, on, tag)
						return nil
					}
					again, err := c.Resend(after)
					if again != 0 { // written, or its write failed: not refused by the library
						sh.resends.askedAgain(c, after, again)
					}
					if err != nil { // recorded before a new logon can come (under s.mu): its catch-up answers a lost one
						sh.resends.askFailed(c, after, again, askingAgain, err, !errors.Is(err, client.ErrTooManyResends))
					}
					return err
				})
				if skip {
					return
				}
				if err != nil {
					sh.s.printf("error: asking again for the reports after input %d: %v\n", after, err)
				}
				// Its answer is awaited as a command's (settle).
				sh.lastHeard.Store(time.Now().UnixNano())
			})
		}
	}
	sh.readEnded.Store(true)
	return <-sh.s.err
}

// forgetOn tells c, the session's client, that the resend tagged tag,
// whose answer on client on left reports unsent, will not be asked again
// (client.ForgetResend): a Redial then does not ask from it. A request of
// an earlier client is no matter: its connection is over.
func forgetOn(c, on *client.Client, tag uint64) {
	if c == on {
		c.ForgetResend(tag)
	}
}

// settle lets the answers to the last commands arrive before the
// session ends: it returns once nothing came for wait (counted from now
// at the earliest) and no resend is waiting to be asked again — piped,
// nor any resend asked for waiting for its answer (a journal replay can
// be silent for seconds, and a script would otherwise be told its
// reports are missing while they are coming; not once the connection
// has ended) — or after timeout. A connection that ends meanwhile (its
// printer's end on printed) is followed as the shell follows it while it
// reads commands (connectionEnded), a new logon within what is left of
// timeout, whose catch-up is a resend to wait for; settle returns the
// error of a connection that ended and was not replaced.
func (sh *shell) settle(wait, timeout time.Duration, piped bool, printed chan error, reconnect func(*session, time.Duration) (uint64, error)) (ended error) {
	start := time.Now()
	for {
		select {
		case perr := <-printed:
			left := timeout - time.Since(start)
			if left <= 0 { // the wait is over: no time to log on again
				reconnect = nil
			}
			ended = sh.connectionEnded(perr, printed, reconnect, left)
		default:
		}
		quiet := time.Since(time.Unix(0, max(sh.lastHeard.Load(), start.UnixNano())))
		answering := piped && !sh.readEnded.Load() && sh.resends.anyUnderWay()
		if quiet >= wait && sh.retrying.Load() == 0 && !answering || time.Since(start) >= timeout {
			return ended
		}
		d := wait - quiet
		if d <= 0 || d > 10*time.Millisecond { // past wait: polls for what it still waits for
			d = 10 * time.Millisecond
		}
		time.Sleep(d)
	}
}

// commandFields is a typed line's words: none for a blank line or a
// comment (# …); quit for quit or exit.
func commandFields(line string) (f []string, quit bool) {
	f = strings.Fields(line)
	if len(f) == 0 || strings.HasPrefix(f[0], "#") {
		return nil, false
	}
	return f, f[0] == "quit" || f[0] == "exit"
}

// shellCommand is a typed command as parse read it, not sent yet (do).
type shellCommand struct {
	verb       string            // its first word: help, ?, buy, sell, cancel, replace, mass-cancel, orders or resend
	order      proto.NewOrder    // buy, sell
	cancel     proto.Cancel      // cancel
	replace    proto.Replace     // replace
	instrument uint32            // mass-cancel: 0 for every instrument
	status     proto.OrderStatus // orders
	after      int64             // resend
}

// do sends the command of a typed line's words f (parse).
func (sh *shell) do(f []string) error {
	cmd, err := sh.parse(f)
	if err != nil {
		return err
	}
	switch cmd.verb {
	case "buy", "sell":
		return sh.s.send(func(c *client.Client) error { return c.NewOrder(cmd.order) })
	case "cancel":
		return sh.s.send(func(c *client.Client) error { return c.Cancel(cmd.cancel) })
	case "replace":
		return sh.s.send(func(c *client.Client) error { return c.Replace(cmd.replace) })
	case "mass-cancel":
		return sh.s.send(func(c *client.Client) error { return c.MassCancel(cmd.instrument) })
	case "orders":
		return sh.s.send(func(c *client.Client) error { return c.OrderStatus(cmd.status) })
	case "resend":
		after := cmd.after
		return sh.s.send(func(c *client.Client) error {
			// Counted in the same send as its write: its answer, read
			// before Resend returns maybe, is taken in a send too.
			tag, err := c.Resend(after)
			if errors.Is(err, client.ErrTooManyResends) { // refused by the library, nothing sent: a failed command
				return err
			}
			sh.resends.asked(c, after, tag)
			if err != nil { // the connection died: a new logon's catch-up asks for it
				sh.resends.askFailed(c, after, tag, typedResend, err, true)
				return fmt.Errorf("%w: %w", errResendLost, err)
			}
			return nil
		})
	}
	sh.s.printf("%s", shellHelp) // help, ?
	return nil
}

// parse reads a typed line's words f (commandFields) as a command, in
// the instrument's units: a line that is no command (shellHelp) is an
// error saying why — one with a word more than its command takes too:
// `mass-cancel BTC-USD ETH-USD` cancelled BTC-USD's orders alone. An
// order or a replace takes the shell's next client order id.
func (sh *shell) parse(f []string) (shellCommand, error) {
	in := sh.s.in
	cmd := shellCommand{verb: f[0]}
	switch f[0] {
	case "help", "?":
		return cmd, nil
	case "buy", "sell":
		if len(f) < 4 {
			return cmd, fmt.Errorf("usage: %s INSTRUMENT QTY PRICE|market [gtc|ioc|fok] [post]", f[0])
		}
		of := orderFlags{side: f[0], instrument: f[1], qty: f[2], typ: "limit", tif: "gtc", price: f[3]}
		if f[3] == "market" {
			of.typ, of.price, of.tif = "market", "", "ioc"
		}
		tifGiven := false
		for _, w := range f[4:] {
			// Each once: a second was passed over, the last one
			// standing — "ioc fok" sent a fok order.
			switch {
			case w == "post" && of.postOnly, (w == "gtc" || w == "ioc" || w == "fok") && tifGiven:
				return cmd, fmt.Errorf("%q: given already (one time in force, post once)", w)
			case w == "post":
				of.postOnly = true
			case w == "gtc" || w == "ioc" || w == "fok":
				of.tif, tifGiven = w, true
			default:
				return cmd, fmt.Errorf("%q: want gtc, ioc, fok or post", w)
			}
		}
		sh.nextID++
		of.id = sh.nextID
		no, err := of.build(in)
		if err != nil {
			return cmd, err
		}
		cmd.order = no
		return cmd, nil
	case "cancel":
		if len(f) != 2 {
			return cmd, fmt.Errorf("usage: cancel ORDER_ID")
		}
		id, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return cmd, fmt.Errorf("order id %q: %w", f[1], err)
		}
		cmd.cancel = proto.Cancel{OrderID: id}
		return cmd, nil
	case "replace":
		if len(f) != 4 && len(f) != 5 {
			return cmd, fmt.Errorf("usage: replace ORDER_ID QTY PRICE [INSTRUMENT]")
		}
		id, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return cmd, fmt.Errorf("order id %q: %w", f[1], err)
		}
		sh.mu.Lock()
		instID, known := sh.orders[id]
		sh.mu.Unlock()
		inst := in.get(instID)
		if len(f) == 5 {
			if inst, err = in.lookup(f[4]); err != nil {
				return cmd, err
			}
		} else if !known {
			return cmd, fmt.Errorf("order %d is not one this session has seen: name its instrument (replace ID QTY PRICE INSTRUMENT)", id)
		}
		q, err := parseUnits(f[2], inst.QtyDecimals)
		if err != nil {
			return cmd, fmt.Errorf("qty: %w", err)
		}
		p, err := parseUnits(f[3], inst.PriceDecimals)
		if err != nil {
			return cmd, fmt.Errorf("price: %w", err)
		}
		sh.nextID++
		cmd.replace = proto.Replace{OrderID: id, ClientOrderID: sh.nextID, Price: p, Quantity: q, Instrument: inst.ID}
		return cmd, nil
	case "mass-cancel":
		if len(f) > 2 {
			return cmd, fmt.Errorf("usage: mass-cancel [INSTRUMENT]")
		}
		if len(f) > 1 {
			i, err := in.lookup(f[1])
			if err != nil {
				return cmd, err
			}
			cmd.instrument = i.ID
		}
		return cmd, nil
	case "orders":
		if len(f) > 2 {
			return cmd, fmt.Errorf("usage: orders [INSTRUMENT]")
		}
		if len(f) > 1 {
			i, err := in.lookup(f[1])
			if err != nil {
				return cmd, err
			}
			cmd.status.Instrument = i.ID
		}
		return cmd, nil
	case "resend":
		if len(f) > 2 {
			return cmd, fmt.Errorf("usage: resend [AFTER_INPUT_SEQ]")
		}
		if len(f) > 1 {
			v, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || v < 0 {
				return cmd, fmt.Errorf("resend: %q is not an input sequence", f[1])
			}
			cmd.after = v
		}
		return cmd, nil
	}
	return cmd, fmt.Errorf("unknown command %q (type help)", f[0])
}
