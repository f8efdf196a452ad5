package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// Errors.
var (
	// ErrLogonRejected: the exchange refused the logon (a LogonReject);
	// LogonRejectReason says why.
	ErrLogonRejected = errors.New("client: logon rejected")
	ErrRedirects     = errors.New("client: too many redirects")
	// ErrNotLeader: a cluster member that knows no leader refused the
	// logon (an election is under way).
	ErrNotLeader = errors.New("client: no leader known")
	// ErrTooManyConnections: the gateway refused the logon at its
	// connection limits (LogonReject TooManyConnections: its
	// gateway.max_connections or gateway.max_connections_per_address) —
	// busy, not wrong: DialCluster tries the cluster's other members, and
	// backs off while they are busy. It wraps ErrLogonRejected.
	ErrTooManyConnections error = &rejectedError{wire.LogonRejectReasonTooManyConnections}
	// ErrTooManySessions: the account has gateway.max_sessions_per_account
	// sessions logged on (LogonReject TooManySessions, from the leader
	// itself: no other member would take the logon) — or, from
	// DialMarketDataLogon, marketdata.max_connections_per_account
	// market-data connections logged on (that port's LogonReject
	// TooManySessions). It is final until one of them ends: close one,
	// or raise the limit. Dial and DialCluster return it at once. A member that gave out its last
	// session id below 2^63 answers it to every logon too (its node logs
	// why). It wraps ErrLogonRejected.
	ErrTooManySessions error = &rejectedError{wire.LogonRejectReasonTooManySessions}
	// ErrTooManyResends: Resend was called with 64 Resends of this
	// client not answered in full — under way, or answered busy or cut
	// short and not asked again from where they left off (a Resend from
	// there, or before, ends them; ForgetResend drops one not to be asked
	// again). Nothing was sent: read their answers (a ResendDone each)
	// and ask again as Message.ResendAgain says.
	ErrTooManyResends = errors.New("client: too many resends not answered in full")
	// ErrHungUpAtLogon: a plain-TCP client's logon (Dial, DialCluster,
	// DialMarketDataLogon) met the end of the connection (EOF, a reset)
	// before any answer — what a port with TLS (gateway.tls,
	// marketdata.tls) does to a client that sends it no handshake, and
	// what a node stopping, or losing the lead, does to anyone (so the
	// text says both). The error wraps it and the connection's own
	// (io.EOF): if the port has TLS, dial with Options.TLS.
	ErrHungUpAtLogon = errors.New("client: the port hung up at the logon without an answer")
	// ErrWrongPort: the logon was answered by the other kind of port —
	// Dial's (DialCluster's, Redial's) by a market-data port, whose
	// LogonAck names session 0 (it has no sessions, and takes no
	// orders: they would go unanswered), or DialMarketDataLogon's by an
	// order-entry port, whose LogonAck names a session (never 0) — or
	// that answers what a market-data port never does: a standby's
	// Redirect or NotLeader, TooManyLogons (gateway.logon_rate). The
	// error names the address; give the gateway.listen one to Dial, the
	// marketdata.listen one to DialMarketData(Logon). DialCluster returns
	// it at once: no wait mends an address list.
	ErrWrongPort = errors.New("client: the logon was answered by the other kind of port")
)

// ClosedError is the error Next (NextInto) returns when the connection
// ends after the node said why it closes it (a Closing message,
// proto/README.md): Cause and Text are the node's, Err how the read
// ended (io.EOF, most often; errors.Is sees it) — after a Closing whose
// end never came, the ReadTimeout's error, which names the timeout
// (the text of both is Error's). A connection that ends
// without a Closing — the client's own doing, a crash, a node too old to
// send one, or a client too slow to be sent one — ends with the read's
// error alone. Next does not return the Closing itself.
type ClosedError struct {
	Cause wire.ClosingCause
	Text  string
	Err   error
}

func (e *ClosedError) Error() string {
	return fmt.Sprintf("client: closed by the node: %s (%s): %v", e.CauseName(), e.Text, e.Err)
}

func (e *ClosedError) Unwrap() error { return e.Err }

// CauseName names the cause (rate_limit, slow_consumer, …; a cause
// newer than this client: "cause N") in the spelling of order entry's
// metric, ringex_disconnects_total, on either port. A market-data
// port's ringex_marketdata_closed_total spells the same cause with '-'
// for '_' (slow-consumer; docs/metrics.md says which is whose): on a
// market-data connection CauseName is not that metric's label as it
// stands.
func (e *ClosedError) CauseName() string { return proto.ClosingCauseName(e.Cause) }

// ClosedBy is the cause the node gave for closing the connection err
// ended (ClosedError.CauseName), or "" when it gave none.
func ClosedBy(err error) string {
	if ce, ok := errors.AsType[*ClosedError](err); ok {
		return ce.CauseName()
	}
	return ""
}

// logonFailed is the error of a logon whose write or read failed with
// err: ErrHungUpAtLogon as well, when a plain-TCP client (tlsCfg nil)
// was hung up on.
func logonFailed(err error, tlsCfg *tls.Config) error {
	if tlsCfg == nil && (errors.Is(err, io.EOF) || connReset(err)) {
		return &hungUpError{err}
	}
	return fmt.Errorf("client: logon: %w", err)
}

// connReset reports whether err is the peer resetting the connection:
// an errno of connResets (per system: Windows's is WSAECONNRESET, which
// is not syscall.ECONNRESET there).
func connReset(err error) bool {
	for _, errno := range connResets {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// hungUpError is ErrHungUpAtLogon with the connection's error.
type hungUpError struct{ err error }

func (e *hungUpError) Error() string {
	return "client: logon: " + e.err.Error() + ": the port hung up without an answer, as one with TLS does to a client without TLS (and a node stopping or losing the lead to anyone)"
}

func (e *hungUpError) Unwrap() []error { return []error{e.err, ErrHungUpAtLogon} }

// Options for Dial.
type Options struct {
	// Timeout bounds connecting and logging on, redirects followed
	// included (default 5s).
	Timeout time.Duration
	// MaxFrameBytes bounds frames read from the server (0 or negative:
	// the default, 1 MiB).
	MaxFrameBytes int
	// AutoFlush sends every message at once; otherwise call Flush.
	AutoFlush bool
	// TLS, when set, speaks TLS to a gateway configured with a
	// certificate (gateway.tls.cert_file), or to a market-data port
	// (marketdata.tls.cert_file: DialMarketData, DialMarketDataLogon).
	TLS *tls.Config
	// DropCopy logs on as a drop-copy session: read-only, it receives a
	// copy of every execution report of the account (its orders are
	// refused, drop-copy-session).
	DropCopy bool
	// ReplacesSession is the session id (Client.Session) of this client's
	// earlier connection, which the gateway closes before it logs this one
	// on — one the client gave up on, perhaps half-open, to which the
	// reports of its orders would otherwise go on going until the gateway
	// noticed. Redial sets it. 0: none.
	ReplacesSession uint64
	// ReadTimeout, when positive, makes Next fail (an error wrapping
	// os.ErrDeadlineExceeded) once nothing at all arrived for this long.
	// The exchange sends a Heartbeat on a connection it sent nothing else
	// to for gateway.heartbeat_interval (5 s by default) — the
	// market-data port as well — so a few intervals of silence mean the
	// connection or the node is dead, or (a market-data feed) it stopped
	// serving: connect again, to another member of a cluster. (A node
	// built before 2026-12-05 sends market-data subscribers no
	// heartbeats: against it, a quiet market times out.) A deadline set
	// with SetReadDeadline still bounds the reads: the earlier of the
	// two ends one (0: none but that deadline).
	ReadTimeout time.Duration
}

// Message is one message from the server. Type says which field is set.
type Message struct {
	Type   wire.Message
	Seq    uint64
	Report proto.Report
	Level  proto.LevelUpdate
	// Trade is a Trade's fields; its trade id is Trade.TradeID (Message
	// has no field of its own for it, as it has for Instrument, MDSeq
	// and InputSeq).
	Trade      proto.Trade
	Instrument uint32
	MDSeq      uint64
	// InputSeq is a market-data message's exchange input: the one that
	// caused an update or trade; for a BookSnapshot, one at or after the
	// last that changed the book. After a failover, take an instrument's
	// snapshot from another member only if its InputSeq is at least the
	// largest of the updates and trades of that instrument seen, and skip
	// trades whose TradeID is at or below the last one printed
	// (proto/README.md, "After a failover").
	InputSeq   int64
	Bids, Asks []proto.Level
	// Halted: the instrument takes no new orders (BookSnapshot,
	// TradingStatus).
	Halted bool
	// LastPrice is a BookSnapshot's last trade price (0: none).
	LastPrice   int64
	LogonReject wire.LogonRejectReason
	Redirect    string
	// SubscribeReject says why the market-data port refused a Subscribe
	// (to Instrument).
	SubscribeReject wire.SubscribeRejectReason
	// ResendDone ends the answer to a Resend (Seq is the request's).
	ResendDone proto.ResendDone
	// Instruments, on an InstrumentsDone, are the node's instruments in
	// increasing id: the answer to ListInstruments, gathered from its
	// InstrumentInfo frames (Next does not return those one by one).
	Instruments []proto.InstrumentInfo
	// ResendAnswers, on a ResendDone, are the tags of this client's
	// other Resends it answers too, as Next decided on reading it (the
	// covering rule, Resend): those asked before it from as late when it
	// ends its own (complete, partial or failed), and, complete or
	// partial, those from its AfterInputSeq or later made before it was
	// read — under way or answered busy or cut short and kept. Its Reason
	// is theirs: nothing they left, or leave, unsent is kept or to be
	// asked again. In increasing order; nil when none. A caller that
	// handles answers after Next returned them (another goroutine) takes
	// this, not the time it handles them, for which requests are over.
	ResendAnswers []uint64
	// ResendCovered, on a ResendDone that left reports unsent
	// (ResendAgain) or on the refusal of a Resend (a Rejected under its
	// tag, rate-limited), says an answer read before it answered its
	// request (it was among that answer's ResendAnswers): the library
	// keeps nothing of it, and asking again is not needed.
	ResendCovered bool
	// NewHistory, on the answer to Redial's resend (a ResendDone, or the
	// Rejected of its refusal) or on a ResendDone ahead, says the node
	// holds another history than the one the client's input sequences
	// came from: a node started on new data, another cluster. The client
	// found its LogonAck naming an input below the last it read a report
	// of (Redial then asks from that LogonAck's input, not the old
	// numbers), or the answer ahead of the old numbers (a node that names
	// no input yet) — or, Redial's resend asked from before them (from
	// 0: an answer the old connection left open), its answer complete
	// or partial through an input below them; either way it forgot them
	// — LastInputSeq is 0, or what it read since, LogonInputSeq this
	// logon's — and skips nothing as returned before. The orders sent before the Redial are not this
	// node's: none of their reports will come, and what became of them
	// is in the other history alone. OrderStatus lists the account's
	// live orders here. A node whose inputs have passed the client's
	// numbers is not told apart (the wire carries no history's name).
	NewHistory bool
	// undecidedAgain, on a ResendDone failed (proto.ResendFailed) to a
	// resend that decides an undecided Redial (resendAsk.undecided):
	// the Redial stays undecided, and ResendAgain says to ask again from
	// its AfterInputSeq.
	undecidedAgain bool
}

// Resent reports whether m is an ExecutionReport resent on the request
// that Resend returned as tag (live reports carry Seq 0; the refusal of a
// Resend carries its tag too, and no input sequence).
func (m *Message) Resent() bool {
	return m.Type == wire.MessageExecutionReport && m.Seq != 0 && m.Report.InputSeq >= 0
}

// Client is one connection.
type Client struct {
	conn net.Conn
	w    *bufio.Writer
	fr   *proto.FrameReader
	enc  *proto.Encoder
	seq  uint64
	auto bool
	// verified is Next's scratch: the frame it verified, with the
	// positions of its fields.
	verified proto.Msg
	// closing is the Closing the node sent, nil before one: the error
	// that ends the reads names its cause (ClosedError). Reader's.
	closing *ClosedError
	Session uint64
	// HeartbeatEvery is the interval the server asked for.
	HeartbeatEvery time.Duration
	// LastInputSeq is the largest input_seq of the execution reports
	// Next returned (live or resent). After a reconnect — a new Client,
	// another node after a failover — Resend(old.LastInputSeq) asks for
	// what was missed in between (Redial does both). A node holding
	// another history makes it 0 (Message.NewHistory).
	LastInputSeq int64
	// LogonInputSeq is the last input sequence the exchange had given out
	// (in a cluster, committed) when this client logged on — after a
	// Redial, the lowest of the chain's logons: every input it sent comes
	// after it. A Redial before any
	// report was read resends from there (0 from an exchange that does
	// not say: the account's whole history within the resend window).
	LogonInputSeq int64
	// RedialAfter is, on a client Redial returned, the afterInputSeq of
	// the resend it asked (the tag it returned): its answer brings the
	// reports of the inputs after it. Not LastInputSeq: Redial asks from
	// the start of a resend the old connection left unanswered, and not
	// from before LogonInputSeq.
	RedialAfter int64

	// What Dial logged on with, for Redial.
	account uint32
	secret  string
	opts    Options
	// resending holds the after_input_seq of each Resend not yet ended by
	// its ResendDone, by tag: if the connection ends during one, Redial
	// asks again from there, not from LastInputSeq (live reports of later
	// inputs may have come in between). A Resend asking again ends the
	// asks answered busy or cut short that it covers, and at most
	// maxOpenResends are kept (ErrTooManyResends). Guarded by resendMu:
	// Resend runs on the sending side, Next on the reading side.
	resendMu  sync.Mutex
	resending map[uint64]resendAsk
	// lastInput holds what identifies (with LastInputSeq) each report of
	// input LastInputSeq that Next returned: one input causes several
	// reports (a mass cancel, an order that trades) and a connection can
	// end between two, so Redial asks for that input's reports again and
	// the new client skips those its predecessor returned. At most
	// maxReturned.
	lastInput []reportKey
	// returned holds the reports Next returned while a resend was
	// unfinished (resendOpen) or skip was in force: a connection ending
	// then makes Redial ask from the resend's start, and the new client
	// must skip these too. Emptied once no resend is unfinished.
	returned map[inputReport]struct{}
	// resendOpen: a Resend is not answered in full — its answer is under
	// way, or was busy or cut short and the rest is still to be asked
	// for (a Redial asks from it, so what Next returns meanwhile must be
	// skipped then too).
	resendOpen atomic.Bool
	// skip holds the reports this client's predecessors returned, which
	// Redial's resend sends again: Next does not return them. Kept until
	// a complete answer to a resend from skipFrom or before (the Redial
	// resend's, or one asked again after it was busy — or failed while
	// the Redial is undecided: Message.undecidedAgain): a Redial before
	// then passes them on.
	skip     map[inputReport]struct{}
	skipFrom int64
	skipping bool
	skipped  uint64 // resent reports skipped: not in the ResendDone's count
	// returnedThrough: of every input at or before it, this client's
	// predecessors returned every report they were sent (Redial sets it:
	// before the input of the last report they read — a connection's
	// live reports come in input order, and those of inputs before a
	// resend request ahead of its answer — and not after the start of a
	// resend of theirs not answered in full). A node sends an input's
	// reports live once, when its engine applies it; one that reaches
	// this client live is of an input its node applied after the logon.
	// Of an input at or before returnedThrough, that is a new leader
	// whose engine was still applying what the old one had committed,
	// applied and reported when the client logged on to it after a
	// failover: Next skips the report, returned before. (Routed to every
	// trading session of the account, the session that entered the order
	// being gone, it may be of another session's order: that session's
	// Redial resends it.) Live reports only: what a Resend asks for is
	// returned.
	returnedThrough int64
	// logonAck is this connection's LogonAck input_seq (LogonInputSeq
	// is its chain's lowest). Reader's.
	logonAck int64
	// historyTag is the tag of Redial's resend when Redial found the
	// node holding another history (Message.NewHistory), until its
	// answer is read; 0: none. Reader's once Redial returned.
	historyTag uint64
	// undecidedLast is, while a Redial onto a node that named no input
	// (LogonAck input_seq 0) is undecided, the last input its chain read
	// a report of: an answer ahead to a resend that decides
	// (resendAsk.undecided), or one complete or partial through an input
	// below undecidedLast, shows another history (forgetHistory); any
	// other complete or partial answer shows the node past c's numbers;
	// a refusal shows nothing, and Next then stops holding live reports
	// back (undecided). A busy, cut short or failed answer tells nothing
	// either way: the Redial stays undecided (decide). 0: decided, or
	// never undecided. Reader's once Redial returned.
	undecidedLast int64
	// undecidedOpen, while the Redial is undecided: a Resend from
	// undecidedFrom or before asks what its resend asked — Redial's own,
	// or the caller's asking again after an answer that told nothing
	// (busy, failed; cut short, from where the rest starts) — and its
	// answer decides (resendAsk.undecided). Guarded by resendMu: Resend
	// reads them on the sending side.
	undecidedOpen bool
	undecidedFrom int64
	// heldBack holds the reports Next held back as returned before
	// (returnedThrough, skip) while the Redial is undecided — live ones,
	// and those resent in an answer that decides, whose end tells whose
	// they are — at most maxReturned (past it Next fails: heldBackLost):
	// on a node of another history they are this client's own, on a new
	// leader of c's history they came before. An answer that tells
	// decides (decide): refused or another history, Next returns them
	// (before a ResendDone, after a refusal: heldFirst); any other
	// answer that tells drops them. A Redial before that answer passes
	// on those its resend does not ask for again (passOnHeldBack).
	// Reader's.
	heldBack []Message
	// heldBackLost: a report was not held back, heldBack full; Next
	// returns an error for it. Reader's.
	heldBackLost bool
	// liveNotSkipped: Redial's resend was refused undecided (undecided),
	// and Next no longer skips live reports its predecessors returned
	// (skip): they may be of another history. Reader's.
	liveNotSkipped bool
	// live holds the live reports (Seq 0) Next returned while skipping:
	// those of inputs before Redial's request come again in its resend.
	live map[inputReport]struct{}
	// snapshotParts holds the parts so far of deep books' snapshots, by
	// instrument: the node sends a deep book in parts (BookSnapshot.more),
	// and Next returns the whole book with its last part.
	snapshotParts map[uint32]proto.BookSnapshot
	partLevels    int // the levels in snapshotParts, at most maxSnapshotLevels
	// listed holds the instruments read so far of an answer to
	// ListInstruments, at most maxInstruments: Next returns them with its
	// InstrumentsDone. Reader's.
	listed []proto.InstrumentInfo
	// held are the messages Instruments read before its answer, and the
	// live reports an undecided Redial's answer let go (decide), which
	// Next returns first, in order. Reader's.
	held []Message
	// timeout is Options.Timeout: it bounds Instruments' wait too.
	timeout time.Duration
	// readTimeout is Options.ReadTimeout, once logged on (the logon has
	// a deadline of its own).
	readTimeout time.Duration
	// readDeadline is the caller's SetReadDeadline, Unix ns (0: none):
	// NextInto arms the ReadTimeout's deadline only when it is earlier,
	// so that the caller's still ends a read. Atomic: a caller may set it
	// from the writing side, to end a read under way.
	readDeadline atomic.Int64
}

func dial(ctx context.Context, addr string, opts *Options) (*Client, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.MaxFrameBytes <= 0 { // negative was no limit at all (uint64 conversion)
		opts.MaxFrameBytes = 1 << 20
	}
	var conn net.Conn
	var err error
	d := &net.Dialer{Timeout: opts.Timeout}
	if opts.TLS != nil {
		conn, err = (&tls.Dialer{NetDialer: d, Config: opts.TLS}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return &Client{conn: conn, w: bufio.NewWriterSize(conn, 64<<10), fr: proto.NewFrameReader(conn, opts.MaxFrameBytes),
		enc: proto.NewEncoder(), auto: opts.AutoFlush, timeout: opts.Timeout}, nil
}

// Dial connects to a gateway and logs on. A Redirect (the node is not the
// leader) is followed, up to three times, all within opts.Timeout: each
// hop had the whole of it, and DialCluster, which trims it to what is
// left of its within, took up to four times within.
func Dial(addr string, account uint32, secret string, opts Options) (*Client, error) {
	return dialLogon(context.Background(), addr, account, secret, opts)
}

// dialLogon is Dial, given up as soon as ctx is done.
func dialLogon(ctx context.Context, addr string, account uint32, secret string, opts Options) (*Client, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	deadline := time.Now().Add(opts.Timeout)
	for hops := 0; hops < 4; hops++ {
		hop := opts
		if hop.Timeout = time.Until(deadline); hop.Timeout <= 0 {
			return nil, redirected(fmt.Errorf("client: logon: redirects not followed to a leader within %v", opts.Timeout), hops)
		}
		c, err := dial(ctx, addr, &hop)
		if err != nil {
			if hops > 0 && ctx.Err() == nil && connectFailed(err) {
				return nil, fmt.Errorf("%w (%s): %w", errLeaderGone, addr, err)
			}
			return nil, redirected(err, hops)
		}
		c.conn.SetDeadline(deadline)
		// ctx done: the deadline passes at once, and the logon's write or
		// read under way returns.
		stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
		err = c.send(c.enc.ResumeLogon(c.next(), account, secret, opts.DropCopy, opts.ReplacesSession))
		if err == nil {
			err = c.Flush()
		}
		var m Message
		if err == nil {
			m, err = c.Next()
		}
		if !stop() && err == nil {
			err = ctx.Err() // done as the answer came: the deadline may be spent
		}
		if err != nil {
			c.Close()
			if ctx.Err() != nil {
				return nil, fmt.Errorf("client: logon: %w", ctx.Err())
			}
			return nil, redirected(logonFailed(err, opts.TLS), hops)
		}
		c.conn.SetDeadline(time.Time{})
		switch m.Type {
		case wire.MessageLogonAck:
			if c.Session == 0 { // order entry never gives out session 0
				c.Close()
				return nil, redirected(fmt.Errorf("%w: %s answered as a market-data port (LogonAck with session 0): Dial wants the order-entry port (gateway.listen)", ErrWrongPort, addr), hops)
			}
			c.account, c.secret, c.opts = account, secret, opts
			c.readTimeout = opts.ReadTimeout
			return c, nil
		case wire.MessageRedirect:
			c.Close()
			addr = m.Redirect
			continue
		case wire.MessageLogonReject:
			c.Close()
			return nil, logonRejected(m.LogonReject)
		default:
			c.Close()
			return nil, fmt.Errorf("client: logon answered with %s", wire.EnumNamesMessage[m.Type])
		}
	}
	return nil, ErrRedirects
}

// redirectedError is a logon's failure at an address a member
// redirected to: a member answered the logon, whatever the leader did.
// It reads as err.
type redirectedError struct{ err error }

func (e *redirectedError) Error() string { return e.err.Error() }
func (e *redirectedError) Unwrap() error { return e.err }

// redirected is err, marked redirectedError after hops > 0 redirects.
func redirected(err error, hops int) error {
	if hops == 0 {
		return err
	}
	return &redirectedError{err}
}

// logonRejected is the error of a logon answered LogonReject{why}.
func logonRejected(why wire.LogonRejectReason) error {
	switch why {
	case wire.LogonRejectReasonNotLeader:
		return ErrNotLeader
	case wire.LogonRejectReasonTooManyConnections:
		return ErrTooManyConnections
	case wire.LogonRejectReasonTooManySessions:
		return ErrTooManySessions
	}
	return &rejectedError{why}
}

// rejectedError is a logon refused for why: ErrLogonRejected, its text
// naming the reason (String names one newer than this build by its
// number: the enum is only appended to).
type rejectedError struct{ why wire.LogonRejectReason }

func (e *rejectedError) Error() string { return ErrLogonRejected.Error() + ": " + e.why.String() }
func (e *rejectedError) Unwrap() error { return ErrLogonRejected }

// LogonRejectReason is the reason the exchange gave for refusing the
// logon err ended (its LogonReject, proto/README.md), or
// LogonRejectReasonNone when err is none: a program tells by it a
// refusal that waiting mends — TooManyLogons (the account's
// gateway.logon_rate), TooManyFailedLogons (try once another is
// allowed) — from one it does not, BadSecret. NotLeader is ErrNotLeader's
// reason.
func LogonRejectReason(err error) wire.LogonRejectReason {
	if re, ok := errors.AsType[*rejectedError](err); ok {
		return re.why
	}
	if errors.Is(err, ErrNotLeader) {
		return wire.LogonRejectReasonNotLeader
	}
	return wire.LogonRejectReasonNone
}

// DialCluster logs on to the leader of a cluster whose gateways are addrs:
// it tries each address in turn, following redirects, and while none takes
// the logon it goes round again until within has passed: every 10ms while
// the leader died and the next is not elected yet (a member answering
// ErrNotLeader, or redirecting to the dead leader — an address that takes
// no connection; dead addresses in the same round do not slow it); backing
// off from 100ms, doubling to 2s, while members are busy and none is
// electing (ErrTooManyConnections: a member at its connection limits
// refuses before it would redirect; logging on again at once would only
// add to its load); and backing off from 10ms, doubling to 1s, each pause
// drawn from its upper half at random, while no member answers at all
// (network errors: the cluster down or restarting, or a member closing the
// connection during the TLS handshake or the logon, dialled directly or
// redirected to — at its limits, a member evicts a connection that has not
// logged on yet, and one evicted mid-handshake is told nothing) — a client
// never dials a member every 10ms for long, and the clients of a cluster
// coming back do not dial it in step. A logon rejected for any other
// reason — ErrTooManySessions among them — is returned at once, as is
// ErrWrongPort (an address of a market-data port).
// DialClusterContext is DialCluster bounded by a context instead.
//
// This is how a client resumes after a failover: every order it saw
// acknowledged is on the new leader. An order sent but not acknowledged
// may or may not be: Redial (a resend from the last report read) returns
// its reports if the exchange took it, and OrderStatus lists it while it
// is live. Do not just send it again: a client order id is refused as a
// duplicate only while its first order is live, so one already filled or
// cancelled would be entered, and trade, a second time.
func DialCluster(addrs []string, account uint32, secret string, opts Options, within time.Duration) (*Client, error) {
	return dialCluster(context.Background(), addrs, account, secret, opts, time.Now().Add(within), within)
}

// DialClusterContext is DialCluster until ctx is done, instead of for a
// duration: it goes round the members until one takes the logon — for
// ever, if ctx has no deadline — and gives up as soon as ctx is done,
// during a connection or a logon too, with an error that wraps ctx's
// (context.Canceled, context.DeadlineExceeded) and the last member's
// refusal, if any.
func DialClusterContext(ctx context.Context, addrs []string, account uint32, secret string, opts Options) (*Client, error) {
	return dialCluster(ctx, addrs, account, secret, opts, time.Time{}, 0)
}

// timedOut reports whether err is a connection's or a logon's deadline.
func timedOut(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}

// errLeaderGone marks a logon that failed at the address a member
// redirected to because nothing there took the connection: a member
// answered, naming a leader that is gone — the leader died, and its
// followers have not noticed yet. Not one that took it and closed it
// unanswered (EOF, reset, a TLS handshake cut): that leader is there, at
// its limits, evicting connections — backed off from like any member
// that does not answer, not dialled every electionPause.
var errLeaderGone = errors.New("client: redirected to a leader that is gone")

// connectFailed reports whether err is a dial's TCP connect failing
// (refused, unreachable, timed out), not what came after it: a TLS
// dial's handshake errors are no *net.OpError of Op "dial".
func connectFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// Pauses between dialCluster's rounds: electionPause after a round in
// which a member answered NotLeader or redirected to a leader that is
// gone (an election takes tens of milliseconds, and failover time is the
// client's outage) — a busy or dead member in it too: the leader died,
// and a follower at its limits must not slow the logon to the next one;
// busyPause doubling to maxBusyPause after rounds with a busy member and
// no election in them; and after rounds in which no member answered at
// all (refused, reset, closed during the TLS handshake or the logon:
// the cluster down or restarting, or a member at its limits evicting a
// connection before it could be told TooManyConnections) a pause from
// electionPause doubling to maxDeadPause, each drawn at random from its
// upper half, so that the clients of a cluster coming back do not all
// dial it at once, and none dials a member that shuts it out every 10 ms.
const (
	electionPause = 10 * time.Millisecond
	busyPause     = 100 * time.Millisecond
	maxBusyPause  = 2 * time.Second
	maxDeadPause  = time.Second
)

// round is what a round of dialCluster met, besides refusals it returns.
type round struct {
	busy     bool // a member at its connection limits (ErrTooManyConnections)
	electing bool // NotLeader, a redirect to an address taking no connection, or redirects in a loop
	dead     bool // a member that did not answer (a network error)
}

// roundPause is the pause after a round of dialCluster, and the back-off
// to remember: backoff was the last round's.
func roundPause(r round, backoff time.Duration) (pause, next time.Duration) {
	switch {
	case r.electing:
		return electionPause, 0
	case r.busy:
		next = min(max(2*backoff, busyPause), maxBusyPause)
		return next, next
	case r.dead:
		next = min(max(2*backoff, electionPause), maxDeadPause)
		return next - rand.N(next/2), next // in (next/2, next]
	}
	return electionPause, 0
}

// dialCluster goes round addrs until a member takes the logon, one
// rejects it for good, a round ends past deadline (zero: none) or ctx is
// done. With within positive each attempt's Timeout ends by the deadline
// (a member that accepts and never answers held a round for Timeout).
func dialCluster(ctx context.Context, addrs []string, account uint32, secret string, opts Options, deadline time.Time, within time.Duration) (*Client, error) {
	if len(addrs) == 0 {
		return nil, errors.New("client: no cluster addresses")
	}
	var last error
	var backoff time.Duration // after the last busy or dead round; 0 after one electing
	reached := false          // an attempt got past its TCP connect: a member heard the client
	answered := false         // a member answered a logon (busy, not the leader, a redirect)
	var accepted []string     // the addresses whose attempts got past the TCP connect, in order

	for {
		var r round
		for _, addr := range addrs {
			o := opts
			if o.Timeout == 0 {
				o.Timeout = 5 * time.Second
			}
			cut := false // the attempt's Timeout cut short by within's end
			if rem := time.Until(deadline); within > 0 && rem < o.Timeout {
				o.Timeout, cut = max(rem, 50*time.Millisecond), true
			}
			c, err := dialLogon(ctx, addr, account, secret, o)
			if err == nil {
				c.opts.Timeout = opts.Timeout // the caller's, for Redial: not what was left of within
				return c, nil
			}
			if ctx.Err() != nil {
				break
			}
			// A redirect to an address that took no connection: a member answered.
			reached = reached || !connectFailed(err) || errors.Is(err, errLeaderGone)
			if !connectFailed(err) && !slices.Contains(accepted, addr) {
				accepted = append(accepted, addr)
			}
			_, afterRedirect := errors.AsType[*redirectedError](err)
			answered = answered || afterRedirect
			switch {
			case errors.Is(err, ErrTooManyConnections):
				r.busy, answered = true, true
			case errors.Is(err, ErrNotLeader), errors.Is(err, errLeaderGone), errors.Is(err, ErrRedirects):
				r.electing, answered = true, true
			case errors.Is(err, ErrLogonRejected), errors.Is(err, ErrWrongPort):
				return nil, err
			case cut && last != nil && timedOut(err):
				// Out of time by our own cut, not the member's: the
				// answer seen before says more (a busy member's logon
				// can take longer than the 50 ms left).
				continue
			default:
				r.dead = true
			}
			last = err
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return nil, withinError(addrs, accepted, within, reached, answered, last)
		}
		var pause time.Duration
		pause, backoff = roundPause(r, backoff)
		if !deadline.IsZero() {
			pause = min(pause, time.Until(deadline)) // a last round as within ends
		}
		select {
		case <-ctx.Done():
			if last == nil {
				return nil, fmt.Errorf("client: no member took the logon: %w", ctx.Err())
			}
			return nil, fmt.Errorf("client: no member took the logon: %w (the last: %w)", ctx.Err(), last)
		case <-time.After(pause):
		}
	}
}

// withinError is dialCluster's error when within ended with no logon
// taken, last the last attempt's: when no attempt got past its TCP
// connect (reached false) no node heard the client — one standalone
// node not started, a wrong port — and it says that, not that no leader
// took the logon. Addresses that took connections but never answered a
// logon (answered false: EOF or a reset after the connect, a TLS
// handshake cut, silence until the timeout; accepted names them) are
// likely no ringex gateway, or one spoken to without its TLS: it names
// them, and the others, which took no connection, and says that too.
// Once a member answered, busy or not the leader or with a redirect, it
// is the cluster's leader that did not take the logon.
func withinError(addrs, accepted []string, within time.Duration, reached, answered bool, last error) error {
	switch {
	case reached && !answered:
		var none []string // took no connection
		for _, a := range addrs {
			if !slices.Contains(accepted, a) && !slices.Contains(none, a) {
				none = append(none, a)
			}
		}
		others := ""
		if len(none) > 0 {
			others = fmt.Sprintf(", and %s took none", strings.Join(none, ", "))
		}
		hint := "is it a ringex gateway port, with TLS if the node uses it?"
		if len(accepted) > 1 {
			hint = "are they ringex gateway ports, with TLS if the nodes use them?"
		}
		return fmt.Errorf("client: %s accepted the connection but answered no logon within %v%s (%s): %w", strings.Join(accepted, ", "), within, others, hint, last)
	case reached:
		return fmt.Errorf("client: no leader took the logon within %v: %w", within, last)
	case len(addrs) == 1:
		return fmt.Errorf("client: could not connect to %s within %v: %w", addrs[0], within, last)
	}
	return fmt.Errorf("client: could not connect to any of %s within %v: %w", strings.Join(addrs, ", "), within, last)
}

// SetReadTimeout sets Options.ReadTimeout on a logged-on client — once
// the LogonAck said how often the exchange wants heartbeats
// (HeartbeatEvery, a third of its read timeout, which is longer than the
// interval it heartbeats an idle connection at) — and for the clients
// Redial makes from it. Call it before Next runs.
func (c *Client) SetReadTimeout(d time.Duration) {
	c.readTimeout, c.opts.ReadTimeout = d, d
}

// DialMarketData connects to a market-data port (no logon). Set
// opts.ReadTimeout to a few of the exchange's heartbeat intervals to learn
// that a feed went silent: the port heartbeats an idle subscriber, and a
// cluster member that lost touch with the leader closes its subscribers,
// but a dead machine or network tells nothing.
func DialMarketData(addr string, opts Options) (*Client, error) {
	c, err := dial(context.Background(), addr, &opts)
	if err == nil {
		c.readTimeout = opts.ReadTimeout
	}
	return c, err
}

// DialMarketDataLogon connects to a market-data port and logs on with an
// account and its secret, within opts.Timeout: a port with
// marketdata.require_logon serves no Subscribe before. Errors as Dial's:
// ErrTooManyConnections (the port is full), ErrTooManySessions (the
// account has marketdata.max_connections_per_account logged on),
// ErrLogonRejected (a wrong secret, TooManyFailedLogons), ErrWrongPort
// (addr is an order-entry port: it answered what a market-data port
// never does — a LogonAck naming a session, a standby's Redirect or
// NotLeader, TooManyLogons; its TooManySessions, which both kinds answer,
// is ErrTooManySessions, whose text names both ports' limits).
//
// Its Logon is a drop copy's: the market-data port ignores the flag, and
// an order-entry port given it by mistake opens a drop-copy session, told
// apart at its LogonAck (a session id) and closed — a session that does
// not count for cancel-on-disconnect. A plain Logon opened a trading
// session there, and its close, the account's last trading session (a
// node restarted, its trader not back yet), cancelled the account's
// resting orders.
func DialMarketDataLogon(addr string, account uint32, secret string, opts Options) (*Client, error) {
	c, err := dial(context.Background(), addr, &opts)
	if err != nil {
		return nil, err
	}
	c.conn.SetDeadline(time.Now().Add(opts.Timeout))
	err = c.send(c.enc.DropCopyLogon(c.next(), account, secret))
	if err == nil {
		err = c.Flush()
	}
	var m Message
	if err == nil {
		m, err = c.Next()
	}
	switch {
	case err != nil:
		c.Close()
		return nil, logonFailed(err, opts.TLS)
	case m.Type == wire.MessageLogonReject:
		c.Close()
		return nil, marketDataLogonRejected(addr, m.LogonReject)
	case m.Type == wire.MessageRedirect: // a standby's order-entry port
		c.Close()
		return nil, orderEntryAnswered(addr, "Redirect to "+m.Redirect)
	case m.Type != wire.MessageLogonAck:
		c.Close()
		return nil, fmt.Errorf("client: logon answered with %s", wire.EnumNamesMessage[m.Type])
	case c.Session != 0: // a market-data port's LogonAck names session 0
		c.Close()
		return nil, orderEntryAnswered(addr, fmt.Sprintf("LogonAck with session %d", c.Session))
	}
	c.conn.SetDeadline(time.Time{})
	c.readTimeout = opts.ReadTimeout
	return c, nil
}

// orderEntryAnswered is DialMarketDataLogon's error for an answer from
// addr (what) that only an order-entry port gives: ErrWrongPort, and no
// refusal — LogonRejectReason says none, so that a program does not wait
// out a TooManyLogons or a NotLeader and try the same address again.
func orderEntryAnswered(addr, what string) error {
	return fmt.Errorf("%w: %s answered as an order-entry port (%s): DialMarketDataLogon wants the market-data port (marketdata.listen)", ErrWrongPort, addr, what)
}

// marketDataLogonRejected is DialMarketDataLogon's error for a
// LogonReject{why} from addr. A market-data port answers a Logon
// TooManyConnections, BadSecret, TooManyFailedLogons or TooManySessions,
// never TooManyLogons (gateway.logon_rate) or NotLeader (it serves on
// every member): those say addr is an order-entry port, whatever made it
// refuse — its traders' logons, or the caller's own retries, each a drop
// copy's logon there (the gateway cannot tell them from one). Both kinds
// answer TooManySessions, and the LogonReject says no more: the error is
// ErrTooManySessions, naming both ports' limits.
func marketDataLogonRejected(addr string, why wire.LogonRejectReason) error {
	switch why {
	case wire.LogonRejectReasonTooManyLogons, wire.LogonRejectReasonNotLeader:
		return orderEntryAnswered(addr, "LogonReject "+why.String())
	case wire.LogonRejectReasonTooManySessions:
		return fmt.Errorf("%w: the account has marketdata.max_connections_per_account connections to %s or, if it is an order-entry port (gateway.listen), gateway.max_sessions_per_account sessions logged on: DialMarketDataLogon wants the market-data port (marketdata.listen)", ErrTooManySessions, addr)
	}
	return logonRejected(why)
}

func (c *Client) next() uint64 { c.seq++; return c.seq }

func (c *Client) send(frame []byte) error {
	if _, err := c.w.Write(frame); err != nil {
		return err
	}
	if c.auto {
		return c.w.Flush()
	}
	return nil
}

// Flush sends buffered messages.
func (c *Client) Flush() error { return c.w.Flush() }

// NewOrder sends an order.
func (c *Client) NewOrder(o proto.NewOrder) error { return c.send(c.enc.NewOrder(c.next(), o)) }

// Cancel sends a cancel.
func (c *Client) Cancel(x proto.Cancel) error { return c.send(c.enc.Cancel(c.next(), x)) }

// Replace sends a replace.
func (c *Client) Replace(x proto.Replace) error { return c.send(c.enc.Replace(c.next(), x)) }

// MassCancel cancels all the account's orders (instrument 0: everywhere).
// The answer is a Cancelled report per order, then a MassCancelDone to
// this session whose Quantity is how many (0: none was live).
func (c *Client) MassCancel(instrument uint32) error {
	return c.send(c.enc.MassCancel(c.next(), instrument))
}

// OrderStatus asks for the account's live orders: the one s names, or
// every one (in s.Instrument, or everywhere) when s names none, a page at
// a time. The answer is an ExecutionReport of kind Status per order, then
// one of kind StatusDone whose Quantity is how many there were and, when
// its Reason is 1 (more may follow), whose OrderID is the AfterOrderID to
// ask for the next page with — or one Rejected.
func (c *Client) OrderStatus(s proto.OrderStatus) error {
	return c.send(c.enc.OrderStatus(c.next(), s))
}

// Resend asks again for every execution report of the account caused by
// an input after afterInputSeq (the largest InputSeq the caller has seen)
// and before this request — what the account's sessions missed while
// logged off. The answer is those reports with Seq = tag, interleaved
// with live ones (Seq 0), then a ResendDone with Seq = tag that says
// which inputs' reports were resent (proto/README.md). When it leaves
// some unsent — answered busy, or cut short because this client read
// too slowly while another request waited — Message.ResendAgain says
// from where to ask again; the reports this client returned meanwhile
// are not returned again then; asking again ends the ask left unsent.
// With 64 Resends not answered in full it sends nothing and returns
// ErrTooManyResends. A negative afterInputSeq asks from the start, as 0
// does.
//
// A complete or partial answer (its ResendDone read by Next) to a Resend
// from N covers every other Resend of this client from N or later made
// before that answer was read — whatever their answers and in whatever
// order they come: their reports came in it, and those of the inputs
// since came live on this connection. A covered Resend whose answer left
// reports unsent is over; one under way gets its answer as any, but
// whatever that answer leaves unsent is not kept (ResendAgain still says
// what it left: asking again is not needed). Over, a Resend is not asked
// from by a Redial and does not count toward the 64. A Resend made after
// that answer was read is a new request, not covered by it. The answer
// names those it covers (Message.ResendAnswers), and the answer of one
// covered that left reports unsent, or its refusal, says so
// (Message.ResendCovered).
func (c *Client) Resend(afterInputSeq int64) (tag uint64, err error) {
	// As the exchange reads it: a refusal names the request by its
	// afterInputSeq (forgetRefusedResend), and names 0 for a negative one.
	afterInputSeq = max(afterInputSeq, 0)
	c.resendMu.Lock()
	if c.resending == nil {
		c.resending = map[uint64]resendAsk{}
	}
	// An ask whose answer ended leaving reports unsent (busy, cut short)
	// from afterInputSeq or later is ended by this one: it asks for them
	// again, and a Redial asks from this one's start, no later. (Its
	// answer would have ended that ask too: NextInto.) Without this a
	// client asking again after every busy answer kept one ask per answer
	// until one came whole.
	open := 0
	for _, ask := range c.resending {
		if !ask.coveredBy(afterInputSeq) && !ask.covered {
			open++
		}
	}
	if open >= maxOpenResends {
		c.resendMu.Unlock()
		return 0, ErrTooManyResends
	}
	// Asked while another is not answered in full (busy, cut short): its
	// answer does not return what this client returned meanwhile.
	ask := resendAsk{after: afterInputSeq, again: len(c.resending) > 0,
		undecided: c.undecidedOpen && afterInputSeq <= c.undecidedFrom}
	for t, old := range c.resending {
		if old.coveredBy(afterInputSeq) {
			delete(c.resending, t)
			ask.covers = true
		}
	}
	tag = c.next()
	c.resending[tag] = ask
	c.resendOpen.Store(true)
	c.resendMu.Unlock() // not held over the write: Next takes it, and may have to run for the write to end
	return tag, c.send(c.enc.ResendReports(tag, afterInputSeq))
}

// ForgetResend drops the Resend tagged tag whose answer left reports
// unsent (busy, cut short, or refused for the account's status_rate) and
// which the caller will not ask again for: their reports came otherwise —
// another Resend's answer on this client, from as early or earlier,
// brought them, the later ones having come live on the same connection.
// Until asked again, or dropped, such a Resend is kept: a Redial asks
// from where it left off, and it counts toward the 64 of
// ErrTooManyResends. The library drops it itself only when an answer
// read after it was made covers it (Resend); else only the caller knows
// that it will not ask again a little later, and a Redial
// asking from it is what keeps the reports it asked for from being lost
// meanwhile. A Resend still under way, or unknown, is kept; ForgetResend
// reports whether it dropped one. Call it from the writing side, as
// Resend.
func (c *Client) ForgetResend(tag uint64) bool {
	c.resendMu.Lock()
	defer c.resendMu.Unlock()
	if ask, ok := c.resending[tag]; !ok || !ask.answered {
		return false
	}
	delete(c.resending, tag)
	c.anyOpenLocked()
	return true
}

// maxOpenResends bounds the Resends of one client not answered in full
// (under way, or answered busy or cut short and asked again from later
// than they left off): past it Resend returns ErrTooManyResends.
const maxOpenResends = 64

// Redial is how a client carries on after its connection ended — the
// node restarted, or died and another member leads (addrs: the cluster's
// gateways; DialCluster waits up to within for a leader): it logs on
// again as the same account, with the same options, and asks the new
// session for every report of the inputs from c.LastInputSeq on — that
// input's too, as the connection may have ended between two of its
// reports; the new client skips those c returned — which c never read (or
// after the start of a resend of c's that the connection cut short). It returns the new client (whose LastInputSeq starts at
// c's) and the resend's tag; the resent reports and a ResendDone follow
// on it, interleaved with live ones. Orders c sent whose reports it never
// read are resolved by those reports: each is in the resend if the
// exchange took it — one missing from a complete answer never reached
// it (written but not flushed, or lost with the connection). The resend never starts before the lowest logon of
// c's chain (LogonInputSeq): the account's reports of earlier inputs are
// not about c's orders. Call it once c's Next has returned an error (c's
// reading is over; Redial reads what it left) — or Instruments: what c
// read and Next has not returned yet (Instruments kept it) the new
// client's Next returns first, as c read it (a Seq is c's Resend's
// tag). The new client's tags go on from c's — its resend's, and every
// request's after — so an answer c read, returned by the new client, is
// never taken for one to a request of the new client's. The new logon names c's
// session (Options.ReplacesSession): the gateway closes it first if it is
// still there — after a deadline, a bad frame or a network that died
// without a word (half-open) it is, and the reports of c's orders would
// go on going to it — and Redial closes c's connection too, once the
// new one is logged on. A new connection lost before its resend request
// was written (the node deposed, a reset) is one more failed attempt:
// Redial logs on again while within lasts. A Redial that fails without a
// logon leaves c as it was (its connection may still be logged on,
// keeping the account's cancel-on-disconnect from firing while the
// caller tries again); one that fails after a logon has had c's session
// replaced and its connection closed. Either way c.Redial may be called
// again, and loses nothing: Close c when giving up.
// Reports the new client reads live before the resend reaches them (Seq
// 0) are not returned again when resent. Nor, after a failover, are those
// of inputs c (or its predecessors) read reports of, which the new leader
// sends live again: its engine may still be applying what the old leader
// committed, applied and reported when the new client logs on. The resend request is flushed
// whether or not Options.AutoFlush is set. A ResendDone whose Reason
// is proto.ResendBusy (the exchange was replaying for another request,
// or it is another account's turn for a replay) resent nothing: ask again with Resend(done.AfterInputSeq) a little
// later, as `ringex client resend` does. So did a Rejected under the
// tag, rate-limited (the account's gateway.status_rate was spent):
// ask again with Resend(Report.OrderID, the after it names) later —
// unless Message.ResendCovered says an answer read before brought them. One
// whose Reason is proto.ResendCut (this client read too slowly while
// another request waited) resent the reports through
// done.ThroughInputSeq: ask for the rest with
// Resend(done.ThroughInputSeq) — Message.ResendAgain says which. Any
// way a later Redial asks from there too, and the answer asked again
// does not return the reports this client returned. One partial
// (proto.ResendPartial: the exchange no longer holds the inputs before
// done.FirstInputSeq) or failed (proto.ResendFailed: it could not read
// its journal past done.ThroughInputSeq) resent what it could, and
// asking again brings no more: an order of c's whose report is not in
// it may be live or not — OrderStatus says which are.
//
// A node holding another history than c's — started on new data,
// another cluster — is not carried on from: when its LogonAck names an
// input below c.LastInputSeq, the new client starts afresh (LastInputSeq
// 0, LogonInputSeq and RedialAfter that input, nothing skipped) and the
// answer to its resend says so (Message.NewHistory); a node that names
// no input yet answers the resend from c's numbers ahead
// (proto.ResendAhead), and the new client forgets them on reading it,
// that answer saying so too — asked from before them (from 0, an
// answer c left open), it is answered complete or partial through an
// input below them, which tells the same. Refused (rate-limited), that
// resend tells nothing: from the refusal on, the new client returns
// the live reports it held back as sent again after a failover (on a
// node of another history, those of its own orders) — those read
// before the refusal right after it; those read before an answer
// ahead, or resent in it, come before that answer's ResendDone — and
// the answer ahead to the caller's asking again says NewHistory
// (undecided says why, and what it costs on a node built before
// LogonAck's input_seq). Busy, cut short or failed, it tells
// nothing either, and the live reports stay held back until the answer
// to asking again (decide), from where Message.ResendAgain says — a
// failed answer's AfterInputSeq too. The orders c sent are not that node's.
// A Redial of a client whose own Redial was not decided yet passes on
// the reports it held back — live ones, and those resent in an answer
// cut short that its own resend does not ask for again — to be returned
// or dropped as the new node shows whose they are (passOnHeldBack).
func (c *Client) Redial(addrs []string, within time.Duration) (*Client, uint64, error) {
	deadline := time.Now().Add(within)
	for {
		nc, tag, err := c.redialOnce(addrs, within)
		if !errors.Is(err, errResendUnsent) || time.Now().After(deadline) {
			return nc, tag, err
		}
		within = time.Until(deadline)
	}
}

// errResendUnsent marks a redial whose new connection logged on and was
// lost before its resend request was written.
var errResendUnsent = errors.New("client: the new session's resend request was not sent")

func (c *Client) redialOnce(addrs []string, within time.Duration) (*Client, uint64, error) {
	opts := c.opts
	opts.ReplacesSession = c.Session // closed by the gateway, half-open or not (gone after a failed attempt: harmless)
	nc, err := DialCluster(addrs, c.account, c.secret, opts, within)
	if err != nil {
		return nil, 0, err
	}
	// c's reading is over; its connection may still be logged on (Next
	// ended on a deadline or a bad frame): end it, or the reports of the
	// orders it entered keep going to it. After nc's logon, so that
	// cancel-on-disconnect does not see the account's last session go.
	c.conn.Close()
	// p is what nc carries on from: c's chain — or nothing, when the node
	// names as its last input one below the last c's chain read a report
	// of. Every input reported was durable (committed, in a cluster)
	// before its report was sent, and a node's LogonAck names its last
	// (committed) input: that node holds another history — started on
	// new data, another cluster — in which c's numbers name other inputs,
	// or none yet. Carried on, its resend was asked from past the node's
	// inputs (answered ahead) and nc skipped the live reports of its own
	// orders as returned before (returnedThrough) until the node's inputs
	// passed c's. A node that does not say (0) is told apart by the
	// answer instead (forgetHistory).
	p := c
	if nc.LogonInputSeq > 0 && nc.LogonInputSeq < c.LastInputSeq {
		p = &Client{LogonInputSeq: nc.LogonInputSeq}
	}
	// From the input before the last report's: that input's reports come
	// again whole, and nc skips those c returned (lastInput). Never from
	// before c's logon: c sent nothing before it, and the account's
	// earlier reports — another day's client order ids, reused — would
	// read as reports of c's orders.
	from := max(p.LastInputSeq-1, p.LogonInputSeq, 0)
	// Every report c's chain was sent of the inputs before the last one
	// read, it returned, in input order — but those of a resend not
	// answered in full.
	returned := p.LastInputSeq - 1
	p.resendMu.Lock()
	for _, ask := range p.resending {
		if ask.covered { // its reports came
			continue
		}
		from = min(from, ask.after) // a resend the connection cut short, or one busy
		returned = min(returned, ask.after)
	}
	p.resendMu.Unlock()
	// The chain's lowest logon: after a failover the new leader may give
	// sequences the old one had handed out and never committed to inputs
	// of nc's, below c's floor.
	floor := p.LogonInputSeq
	if nc.LogonInputSeq > 0 {
		floor = min(floor, nc.LogonInputSeq)
	}
	nc.LastInputSeq, nc.LogonInputSeq = p.LastInputSeq, floor
	nc.returnedThrough = max(p.returnedThrough, returned)
	nc.lastInput = slices.Clone(p.lastInput)
	// Everything c (and its predecessors) returned that the resend from
	// `from` sends again.
	nc.skip = make(map[inputReport]struct{}, min(len(p.lastInput)+len(p.returned)+len(p.skip), maxReturned))
	for _, k := range p.lastInput {
		nc.skip[inputReport{p.LastInputSeq, k}] = struct{}{}
	}
	for _, set := range []map[inputReport]struct{}{p.returned, p.skip} {
		for r := range set {
			if r.input > from && len(nc.skip) < maxReturned {
				nc.skip[r] = struct{}{}
			}
		}
	}
	nc.skipFrom, nc.skipping, nc.RedialAfter = from, true, from
	if p == c && nc.logonAck == 0 && c.LastInputSeq > 0 {
		// Its answer may say another history (undecidedLast).
		nc.undecidedLast, nc.undecidedOpen, nc.undecidedFrom = c.LastInputSeq, true, from
	}
	// nc's tags go on from c's: what c read and nc returns (held, below)
	// carries c's tags — a resent report's Seq, a ResendDone's Seq and
	// ResendAnswers — and a caller matching answers by tag must not take
	// them for answers to nc's requests. Begun again at 1 with each
	// connection, Redial's own resend took the tag of c's first Resend,
	// whose ResendDone, kept by Instruments, then read as its end.
	nc.seq = max(nc.seq, c.seq)
	tag, err := nc.Resend(from)
	if err == nil {
		err = nc.Flush() // its answer is what the caller reads next, AutoFlush or not
	}
	if err != nil {
		nc.Close()
		return nil, 0, fmt.Errorf("%w: %w", errResendUnsent, err)
	}
	if p != c {
		nc.historyTag = tag // its answer says so (Message.NewHistory)
	}
	c.passOnHeldBack(nc, p != c, from)
	// What c read and had not returned (Instruments kept it, and failed
	// on c's connection; decide let it go) c's chain took in as read:
	// nc's resend does not bring it again, and Next returns it first, in
	// the order c read it. Left on c, a caller that Redials without
	// calling c's Next lost it. Copied, not taken: c's fields are its
	// reader's, which Redial only reads (c's last Next may have run on
	// another goroutine, with nothing between it and this call).
	nc.held = slices.Concat(c.held, nc.held)
	return nc, tag, nil
}

// passOnHeldBack is Redial's part for the reports c held back while
// its own Redial was undecided (heldBack), nc the client it made
// (another: its LogonAck named an input below c's last): c's node sent
// them once — live, or resent in an answer that decides and was cut
// short before its end told whose they are — and those of inputs at or
// before from, where nc's resend starts (where a cut answer left off,
// past the inputs it resent), come in no answer on nc. A resent one is
// passed on as live (Seq 0): the request it was resent on was c's, and
// its tag names none of nc's. A Redial goes to the members of one cluster
// (addrs), one history, so nc's node decides whose they are as it
// decides its own (decide): one whose LogonAck names an input below the
// chain's last (another, if it tells nc apart from c) has them returned
// at once, ahead of what nc reads, in the order they came; one that
// names none holds them back, ahead of its own, until its resend's
// answer; one that names the chain's last input or later holds its
// history, and sent them again after a failover: they are dropped as
// returned before. Those after from come again in nc's resend, if its
// node holds them, and are skipped or returned there.
func (c *Client) passOnHeldBack(nc *Client, another bool, from int64) {
	var held []Message
	for _, m := range c.heldBack {
		if m.Report.InputSeq <= from {
			m.Seq = 0
			held = append(held, m)
		}
	}
	switch {
	case another:
		for i := range held {
			if nc.report(&held[i]) {
				nc.held = append(nc.held, held[i])
			}
		}
	case nc.undecidedLast != 0:
		nc.heldBack = held
	}
}

// undecided is Next's part when the gateway refused Redial's resend, or
// the caller's asking again that decides (decides), rate-limited, from
// a node whose LogonAck named no input, while live
// reports at or below returnedThrough, or that skip holds, were held
// back as sent again by a new leader: nothing now tells whether the node
// holds c's history. A node that says its last input and names 0 has
// none — every input it reports comes after the logon, of another
// history — and one built before LogonAck's input_seq may be a new
// leader of c's. Holding the live reports back until an answer ahead
// came lost the reports of the new client's own orders on the first,
// for as long as the caller took to ask again; so Next returns them from
// the refusal on — those read before it (heldBack) right after it, once
// each — and on the second, after a failover, returns again a report its
// predecessors read (same input_seq, kind, order and trade ids). The library does not ask again itself — it sends nothing
// of its own accord, and Next runs on the reading goroutine, not the
// writer's: the refusal is returned, NewHistory false, and the caller
// asks again as after any refusal (Resend of the Report.OrderID it
// names), whose answer ahead says NewHistory.
func (c *Client) undecided() {
	c.returnedThrough, c.liveNotSkipped = 0, true
	c.decide(true)
}

// decide is Next's part once an answer that tells is read to a resend
// that decides (resendAsk.undecided): the reports held back while the
// Redial was undecided (heldBack) are returned — in the order they
// came, the resent ones still marked (Seq their tag), before the
// ResendDone that decided (heldFirst), after a refusal —
// when it leaves them possibly or surely of this node's history
// (refused: undecided; ahead, or through an input below the chain's
// last: forgetHistory), and dropped as returned before otherwise (an
// answer from the node's inputs at or past c's: a new leader of c's
// history sent them live again). Returned, each is taken as read now
// (report): what Next holds of returned reports counts it, and a resend
// asked again does not return it twice.
//
// A busy, cut short or failed answer tells nothing of the history, and
// decides nothing: the reports stay held (bounded: heldBackLost), and
// the caller asks again as after any busy answer (Resend from the
// answer's AfterInputSeq, or from where a cut-short one left off:
// Message.ResendAgain says so, of a failed one too), its answer
// deciding. Dropping them then lost the reports of a node of
// another history, and skipped its later ones through c's numbers. The
// cost is on a cluster led by a node built before LogonAck's input_seq
// (which names 0 on c's own history): the longer the Redial stays
// undecided, the more of the reports that leader sends live again are
// held, and a refusal of the asking again (undecided) returns them a
// second time.
func (c *Client) decide(returned bool) {
	held := c.heldBack
	c.heldBack, c.undecidedLast = nil, 0
	c.resendMu.Lock()
	c.undecidedOpen = false
	c.resendMu.Unlock()
	if !returned {
		return
	}
	// Once each: a report a Redial passed on (passOnHeldBack) may have
	// come live again from a new leader of its node's history.
	seen := make(map[inputReport]struct{}, len(held))
	for i := range held {
		r := &held[i].Report
		ir := inputReport{r.InputSeq, reportKey{r.Kind, r.OrderID, r.TradeID}}
		if _, dup := seen[ir]; dup {
			continue
		}
		seen[ir] = struct{}{}
		if c.report(&held[i]) {
			c.held = append(c.held, held[i])
		}
	}
}

// heldFirst is Next's part once a ResendDone, m, decided and decide let
// reports go (held[at:]): they come before it — live ones read before
// it, resent ones in the answer it ends — and the caller takes the
// answer's end for the end of what it brought, so Next returns them
// first and m after them: m becomes the first, held[at:] the rest and
// m. (Instruments keeps the first at at, the others after it.) A
// refusal is not moved: it answers nothing, and the reports held
// before it are returned from it on (undecided).
func (c *Client) heldFirst(m *Message, at int) {
	if len(c.held) == at {
		return
	}
	done := *m
	*m = c.held[at]
	copy(c.held[at:], c.held[at+1:])
	c.held[len(c.held)-1] = done
}

// heldResent is how many reports resent under tag are held back.
func (c *Client) heldResent(tag uint64) uint64 {
	var n uint64
	for i := range c.heldBack {
		if c.heldBack[i].Seq == tag {
			n++
		}
	}
	return n
}

// holdBack keeps m, a report Next skips as returned before, while the
// Redial is undecided (decide). Past maxReturned it keeps no more, and
// Next fails (heldBackLost): m is not returned, whatever the answer.
func (c *Client) holdBack(m *Message) {
	switch {
	case c.undecidedLast == 0:
	case len(c.heldBack) >= maxReturned:
		c.heldBackLost = true
	default:
		c.heldBack = append(c.heldBack, *m)
	}
}

// decides reports whether the answer to the Resend tag decides an
// undecided Redial (resendAsk.undecided). Reader's.
func (c *Client) decides(tag uint64) bool {
	if c.undecidedLast == 0 {
		return false
	}
	c.resendMu.Lock()
	defer c.resendMu.Unlock()
	return c.resending[tag].undecided
}

// forgetHistory drops what c holds of the input sequences of another
// history than its node's — the last input it read a report of, the
// reports it skips as returned before, its chain's floor — when d, the
// answer to the Resend tag, shows them past the node's last input before
// the request (d.ThroughInputSeq). Ahead: every report this connection
// read before that answer is of an input before the request, and a
// Redial's chain read only what its nodes had made durable, so a number
// above it is not of this node. Complete or partial, to a resend that
// decides a Redial whose node named no input (undecided: decides) — its
// own, or one asked again after an answer that told nothing — the
// chain's last input (undecidedLast) above it — the numbers this connection read may
// be of inputs after the request, live. That resend, asked from 0 (an
// answer its predecessor left open), is never answered ahead. It
// reports whether it dropped them. A node whose inputs have passed the
// numbers of the other history is not told apart.
func (c *Client) forgetHistory(d *proto.ResendDone, undecided bool) bool {
	ahead := d.Reason == proto.ResendAhead && max(c.LastInputSeq, c.LogonInputSeq, c.returnedThrough) > d.ThroughInputSeq
	below := undecided && (d.Reason == proto.ResendComplete || d.Reason == proto.ResendPartial) &&
		c.undecidedLast > d.ThroughInputSeq
	if !ahead && !below {
		return false
	}
	c.LastInputSeq, c.lastInput, c.returnedThrough, c.LogonInputSeq = 0, nil, 0, c.logonAck
	c.skip = nil
	// What this connection returned is of its node's history (reports
	// Next returned live after a refusal of Redial's resend: undecided);
	// while Redial's resend is not answered in full, returned holds it,
	// and the last input of it is this client's last.
	for r := range c.returned {
		switch {
		case r.input > c.LastInputSeq:
			c.LastInputSeq, c.lastInput = r.input, append(c.lastInput[:0], r.reportKey)
		case r.input == c.LastInputSeq && r.input > 0:
			c.lastInput = append(c.lastInput, r.reportKey)
		}
	}
	return true
}

// historyAnswered reports whether tag is the resend of the Redial that
// found its node holding another history, answered (once: the first
// answer, or refusal, under it says so).
func (c *Client) historyAnswered(tag uint64) bool {
	if tag == 0 || tag != c.historyTag {
		return false
	}
	c.historyTag = 0
	return true
}

// maxReturned bounds each set of reports a client remembers having
// returned (about 40 bytes each): those of a resend under way, the live
// ones while Redial's resend is, those of the last input read
// (lastInput; one input's reports are far fewer: a match stops at 65535
// resting orders, a mass cancel at the account's max_open_orders), and
// what a Redial skips — a server sending reports of one input without
// end, or a chain of Redials that never see their resend answered, grew
// them without bound. Past it, a Redial may return some of them again
// (marked resent, Seq = tag); and, for the reports an undecided Redial
// holds back (heldBack), Next fails, naming the report it lost. A
// variable for tests.
var maxReturned = 1 << 20

// forgetRefusedResend drops the Resend tagged tag (after afterInputSeq)
// that the gateway refused — a Rejected (rate-limited) under the tag,
// echoing it as client order id and after as order id, with no input
// sequence and no ResendDone to follow: its reports are not coming. (An
// order's refusal comes under seq 0: its client order id may equal a tag.)
// It reports whether an answer read before answered the request (covered,
// or gone from resending: named in that answer's ResendAnswers), as
// NextInto does for a busy answer: its reports came in that answer, and
// asking again is not needed (Message.ResendCovered).
func (c *Client) forgetRefusedResend(tag uint64, afterInputSeq int64) (covered bool) {
	c.resendMu.Lock()
	ask, ok := c.resending[tag]
	if !ok || ask.after != afterInputSeq {
		c.resendMu.Unlock()
		return !ok
	}
	// Redial's own resend is kept, as if busy: what the connection
	// missed is still unasked, and a later Redial asks from it. So is one
	// that ended asks answered busy or cut short (covers): they are still
	// unasked.
	if ask.covered || (!c.skipping || ask.after > c.skipFrom) && !ask.covers {
		delete(c.resending, tag)
	} else {
		ask.answered = true
		c.resending[tag] = ask
	}
	open := c.anyOpenLocked()
	c.resendMu.Unlock()
	if !open && !c.skipping {
		c.returned = nil
	}
	return ask.covered
}

// anyOpenLocked reports, and records in resendOpen, whether a Resend is
// not answered in full. Called with resendMu held.
func (c *Client) anyOpenLocked() bool {
	open := len(c.resending) > 0
	c.resendOpen.Store(open)
	return open
}

// maxSnapshotLevels bounds the levels a client gathers from the parts of
// unfinished book snapshots, of all instruments together: a server that
// never ended them would otherwise grow the client's memory without end. A million levels a side is far
// beyond any book the node keeps. A variable for tests.
var maxSnapshotLevels = 2 << 20

// partWeight is what an unfinished snapshot counts against
// maxSnapshotLevels: its levels, and one for the snapshot itself — a part
// with no level still holds a map entry, and empty parts of one
// instrument after another escaped a bound on levels alone.
func partWeight(s *proto.BookSnapshot) int { return len(s.Bids) + len(s.Asks) + 1 }

// resendAsk is a Resend not yet answered in full: answered busy or cut
// short (resendRest), it is kept until asked again and answered.
type resendAsk struct {
	after int64 // its after_input_seq; once cut short, where the rest starts
	// again: asked while another Resend was not answered in full — the
	// answer asked again skips the reports returned since (returned).
	again bool
	// answered: its answer ended (a ResendDone busy or cut short, or
	// Redial's own refused) — kept only for where a Redial asks from.
	answered bool
	// covers: it ended answered asks from its after or later (Resend): if
	// the gateway refuses it, it is kept in their place.
	covers bool
	// undecided: asked while a Redial was undecided, from where its
	// resend asked or before (undecidedFrom): its answer decides.
	undecided bool
	// covered: under way when a complete or partial answer from its after
	// or earlier was read (Resend): its reports came. Kept until its own
	// answer — what Next returned meanwhile is still skipped in it — but
	// nothing it leaves unsent is kept: a Redial does not ask from it,
	// and it does not count toward maxOpenResends.
	covered bool
}

// coveredBy reports whether a Resend from afterInputSeq ends the ask:
// its answer is over, and the new one asks for what it left unsent.
func (a resendAsk) coveredBy(afterInputSeq int64) bool {
	return a.answered && a.after >= afterInputSeq
}

// askedAgain reports whether the Resend tagged tag was asked while
// another was not answered in full.
func (c *Client) askedAgain(tag uint64) bool {
	c.resendMu.Lock()
	defer c.resendMu.Unlock()
	return c.resending[tag].again
}

// ResendAgain reports whether m, a ResendDone, ended an answer that left
// reports of the inputs asked for unsent, and the afterInputSeq to ask
// for them with Resend: proto.ResendBusy resent nothing (ask a little
// later: another resend was under way, or another account's turn was
// due); proto.ResendCut resent those
// through ThroughInputSeq (ask at once: this client read too slowly
// while another request waited). proto.ResendAhead asks for nothing
// again: the request was from an input the exchange had not reached, an
// input sequence of another history. proto.ResendFailed asks for nothing
// again either (the node could not read its journal past
// ThroughInputSeq: asking again brings no more) — but for the answer to
// a resend that decides an undecided Redial (its node named no input):
// that answer told nothing of the node's history, and the live reports
// held back meanwhile stay held until an answer that tells (Redial), so
// it says to ask again from its AfterInputSeq, a little later, as after
// a busy answer; the answer to that decides, and until it does the
// reports held stay within maxReturned (past it Next fails, naming the
// report it could not keep). A reason newer than this client is taken
// to have resent what its ThroughInputSeq says, no more. Until asked, a
// Redial asks from there.
func (m *Message) ResendAgain() (afterInputSeq int64, ok bool) {
	if m.Type != wire.MessageResendDone {
		return 0, false
	}
	if m.undecidedAgain {
		return m.ResendDone.AfterInputSeq, true
	}
	return resendRest(&m.ResendDone)
}

// resendRest is ResendAgain of d.
func resendRest(d *proto.ResendDone) (afterInputSeq int64, ok bool) {
	switch d.Reason {
	case proto.ResendComplete, proto.ResendPartial, proto.ResendFailed, proto.ResendAhead:
		return 0, false // all that can be resent was (failed, ahead: asking again does not help)
	case proto.ResendBusy:
		return d.AfterInputSeq, true
	default: // cut short, or unknown: a busy answer's through is 0
		return max(d.AfterInputSeq, d.ThroughInputSeq), true
	}
}

// inputReport identifies an execution report.
type inputReport struct {
	input int64
	reportKey
}

// reportKey identifies an execution report among those of one input.
type reportKey struct {
	kind         wire.ExecKind
	order, trade uint64
}

// Heartbeat tells the server the session is alive.
func (c *Client) Heartbeat() error { return c.send(c.enc.Heartbeat(c.next())) }

// Subscribe asks for an instrument's market data.
func (c *Client) Subscribe(instrument uint32) error {
	return c.send(c.enc.Subscribe(c.next(), instrument))
}

// Unsubscribe stops an instrument's market data.
func (c *Client) Unsubscribe(instrument uint32) error {
	return c.send(c.enc.Unsubscribe(c.next(), instrument))
}

// SendRaw writes bytes as they are (tests of bad input).
func (c *Client) SendRaw(b []byte) error { return c.send(b) }

// Logout ends the session politely.
func (c *Client) Logout() error {
	if err := c.send(c.enc.Logout(c.next())); err != nil {
		return err
	}
	return c.Flush()
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// RemoteAddr is the gateway this client is logged on to (after any
// redirect).
func (c *Client) RemoteAddr() string { return c.conn.RemoteAddr().String() }

// SetReadDeadline bounds the next reads: once t has passed, Next fails
// with an error wrapping os.ErrDeadlineExceeded, until a later deadline
// is set (the zero time: none). With a ReadTimeout too, the earlier of
// the two ends a read. Safe from either side (a writer may end a read
// under way with a deadline in the past).
func (c *Client) SetReadDeadline(t time.Time) error {
	var at int64
	if !t.IsZero() {
		at = max(t.UnixNano(), 1) // 0 is none
	}
	c.readDeadline.Store(at)
	return c.conn.SetReadDeadline(t)
}

// Next reads the next message from the server. A message of a type newer
// than this client (the protocol only appends types) comes back with its
// Type and Seq and no fields; callers skip types they do not handle.
func (c *Client) Next() (Message, error) {
	var m Message
	err := c.NextInto(&m)
	return m, err
}

// FrameBuffered reports whether the next message has already been read
// from the connection whole, so that Next returns it without waiting for
// the network. A reader timing its messages needs a clock reading only
// after the calls for which this was false: the others arrived with the
// read before.
func (c *Client) FrameBuffered() bool { return c.fr.FrameBuffered() }

// NextInto is Next filling m, which it clears first: a reader of many
// messages reuses one Message instead of copying ~300 bytes out of every
// call (BenchmarkNext). On an error m holds nothing. A book snapshot sent
// in parts comes back as one BookSnapshot, whole, once its last part is
// read.
func (c *Client) NextInto(m *Message) error {
	if len(c.held) > 0 { // read by Instruments before its answer
		*m, c.held[0] = c.held[0], Message{}
		c.held = c.held[1:]
		return nil
	}
	return c.read(m)
}

// report is Next's part for an execution report read into m: it keeps
// what the client holds of the reports returned, and reports whether
// Next returns m — not when it is one returned before (by this client's
// predecessors, or by this client while a resend asked again was not
// answered in full).
func (c *Client) report(m *Message) bool {
	if m.Seq == 0 && m.Report.InputSeq > 0 && m.Report.InputSeq <= c.returnedThrough {
		c.holdBack(m)
		return false // sent live again by a new leader: returned before the failover (returnedThrough)
	}
	k := reportKey{m.Report.Kind, m.Report.OrderID, m.Report.TradeID}
	if c.skipping || c.resendOpen.Load() {
		if c.returned == nil {
			c.returned = map[inputReport]struct{}{}
		}
		ir := inputReport{m.Report.InputSeq, k}
		if _, dup := c.skip[ir]; dup && (m.Seq != 0 || !c.liveNotSkipped) {
			switch {
			case m.Seq == 0:
				c.holdBack(m) // sent live again by a new leader
			case c.decides(m.Seq):
				// Resent by a node that may hold another history: the
				// answer's end tells whether it is the one c returned
				// (decide), not counted skipped till then.
				c.holdBack(m)
			default:
				c.skipped++ // returned by a client before Redial
			}
			return false
		}
		// The gateway's own refusals (input -1) are never resent: not
		// deduplicated (a refused resend looks like a live refusal).
		if c.skipping && m.Seq != 0 && m.Report.InputSeq >= 0 {
			if _, dup := c.live[ir]; dup {
				c.skipped++ // returned live by this client, before Redial's resend request
				return false
			}
		}
		if m.Seq != 0 && m.Report.InputSeq >= 0 {
			if _, dup := c.returned[ir]; dup && c.askedAgain(m.Seq) {
				if c.skipping {
					c.skipped++
				}
				return false // returned while the resend asked again was not answered in full
			}
		}
		if c.skipping && m.Seq == 0 && m.Report.InputSeq >= 0 && len(c.live) < maxReturned {
			if c.live == nil {
				c.live = map[inputReport]struct{}{}
			}
			c.live[ir] = struct{}{}
		}
		if len(c.returned) < maxReturned {
			c.returned[ir] = struct{}{}
		}
	}
	if r := &m.Report; m.Seq == 0 && r.InputSeq > 0 && r.InputSeq <= c.LogonInputSeq {
		// Sent live, of an input the engine had not applied at the
		// logon: the account's reports from it on reach this
		// session, and a Redial must be able to ask for them.
		c.LogonInputSeq = r.InputSeq - 1
	}
	if r := &m.Report; r.Kind == wire.ExecKindRejected && r.InputSeq < 0 && m.Seq != 0 && m.Seq == r.ClientOrderID {
		decides := c.decides(m.Seq) // before the refusal drops its ask
		m.ResendCovered = c.forgetRefusedResend(r.ClientOrderID, int64(r.OrderID))
		m.NewHistory = c.historyAnswered(m.Seq)
		if decides {
			c.undecided()
		}
	}
	switch r := &m.Report; {
	case r.InputSeq > c.LastInputSeq:
		c.LastInputSeq, c.lastInput = r.InputSeq, append(c.lastInput[:0], k)
	case r.InputSeq == c.LastInputSeq && len(c.lastInput) < maxReturned:
		c.lastInput = append(c.lastInput, k)
	}
	return true
}

// read is NextInto from the connection, past the messages held.
func (c *Client) read(m *Message) error {
	for { // a part of a book snapshot that is not its last is kept, not returned
		*m = Message{}
		if c.readTimeout > 0 && !c.fr.FrameBuffered() {
			d := time.Now().Add(c.readTimeout)
			if at := c.readDeadline.Load(); at != 0 && at < d.UnixNano() {
				d = time.Unix(0, at) // the caller's comes first
			}
			c.conn.SetReadDeadline(d)
		}
		payload, err := c.fr.Next()
		if err != nil {
			if at := c.readDeadline.Load(); c.readTimeout > 0 && errors.Is(err, os.ErrDeadlineExceeded) && (at == 0 || time.Now().UnixNano() < at) {
				// The ReadTimeout's, not the caller's deadline: say so.
				err = fmt.Errorf("client: nothing heard for %v (ReadTimeout; the exchange heartbeats an idle connection): %w", c.readTimeout, err)
			}
			if c.closing != nil {
				// What the node said, and how the read ended after it:
				// the timeout's own error too, if the end never came.
				return &ClosedError{Cause: c.closing.Cause, Text: c.closing.Text, Err: err}
			}
			return err
		}
		v := &c.verified
		if err := proto.VerifyMsg(payload, v); errors.Is(err, proto.ErrUnknownType) {
			m.Type, m.Seq = v.Type, v.Seq // newer than this client: its Type only, to be skipped
			return nil
		} else if err != nil {
			return err
		}
		typ, pos := v.Type, v.Pos
		m.Type, m.Seq = typ, v.Seq
		switch typ {
		case wire.MessageExecutionReport:
			v.ReadReport(payload, &m.Report) // field positions Verify found: no vtable lookups
			if !c.report(m) {
				if c.heldBackLost {
					c.heldBackLost = false
					lost := m.Report.InputSeq
					*m = Message{}
					return fmt.Errorf("client: a report of input %d lost: over %d reports held back while Redial's resend has not told the node's history (Redial: those held are not lost)", lost, maxReturned)
				}
				continue
			}
		case wire.MessageLogonAck:
			var hb uint32
			c.Session, hb, c.LogonInputSeq = proto.LogonAckAt(payload, pos)
			c.logonAck = c.LogonInputSeq
			c.HeartbeatEvery = time.Duration(hb) * time.Millisecond
		case wire.MessageLogonReject:
			m.LogonReject = proto.LogonRejectAt(payload, pos)
		case wire.MessageRedirect:
			m.Redirect = proto.RedirectAt(payload, pos)
		case wire.MessageClosing:
			// The connection's last frame: kept for the error that ends
			// the reads, not returned.
			cause, text := proto.ClosingAt(payload, pos)
			c.closing = &ClosedError{Cause: cause, Text: text}
			continue
		case wire.MessageLevelUpdate:
			m.Level = v.LevelUpdate(payload)
			m.Instrument, m.MDSeq, m.InputSeq = m.Level.Instrument, m.Level.MDSeq, m.Level.InputSeq
		case wire.MessageTrade:
			m.Trade = v.Trade(payload)
			m.Instrument, m.MDSeq, m.InputSeq = m.Trade.Instrument, m.Trade.MDSeq, m.Trade.InputSeq
		case wire.MessageBookSnapshot:
			s := proto.BookSnapshotAt(payload, pos)
			if part, ok := c.snapshotParts[s.Instrument]; ok {
				s.Bids, s.Asks = append(part.Bids, s.Bids...), append(part.Asks, s.Asks...)
				delete(c.snapshotParts, s.Instrument)
				c.partLevels -= partWeight(&part)
			}
			if s.More {
				// The bound is over every unfinished snapshot: per
				// instrument, a server that never ended its snapshots, one
				// instrument after another, grew memory without end.
				n := partWeight(&s)
				if c.partLevels+n > maxSnapshotLevels {
					return fmt.Errorf("client: book snapshots over %d levels unfinished (instrument %d)", maxSnapshotLevels, s.Instrument)
				}
				c.partLevels += n
				if c.snapshotParts == nil {
					c.snapshotParts = map[uint32]proto.BookSnapshot{}
				}
				c.snapshotParts[s.Instrument] = s
				continue
			}
			m.Instrument, m.MDSeq, m.Bids, m.Asks, m.Halted, m.LastPrice = s.Instrument, s.MDSeq, s.Bids, s.Asks, s.Halted, s.LastPrice
			m.InputSeq = s.InputSeq
		case wire.MessageTradingStatus:
			s := proto.TradingStatusAt(payload, pos)
			m.Instrument, m.MDSeq, m.Halted, m.InputSeq = s.Instrument, s.MDSeq, s.Halted, s.InputSeq
		case wire.MessageSubscribeReject:
			m.Instrument, m.SubscribeReject = proto.SubscribeRejectAt(payload, pos)
		case wire.MessageInstrumentInfo:
			if len(c.listed) >= maxInstruments {
				return fmt.Errorf("client: an instrument list of over %d instruments unfinished", maxInstruments)
			}
			c.listed = append(c.listed, proto.InstrumentInfoAt(payload, pos))
			continue // returned with the InstrumentsDone
		case wire.MessageInstrumentsDone:
			m.Instruments, c.listed = c.listed, nil
			if n := proto.InstrumentsDoneAt(payload, pos); int(n) != len(m.Instruments) {
				return fmt.Errorf("client: an instrument list of %d instruments, its end says %d", len(m.Instruments), n)
			}
		case wire.MessageResendDone:
			m.ResendDone = v.ResendDone(payload)
			d := &m.ResendDone
			decides := c.decides(m.Seq) // before the answer drops its ask
			forgot := c.forgetHistory(d, decides)
			// Ahead, complete or partial, it tells whose the reports held
			// back are; busy, cut short or failed, nothing (decide).
			decided := c.undecidedLast != 0 && (forgot || decides &&
				(d.Reason == proto.ResendComplete || d.Reason == proto.ResendPartial || d.Reason == proto.ResendAhead))
			// Failed, it leaves nothing to ask again for but the
			// decision: asked again from the same input, its answer
			// decides (undecidedFrom stays).
			m.undecidedAgain = decides && !decided && d.Reason == proto.ResendFailed
			if !forgot {
				// Held back (decide), not returned with it: dropped
				// once decided, returned before a later answer's end if not.
				d.Count -= min(c.heldResent(m.Seq), d.Count)
			}
			m.NewHistory = c.historyAnswered(m.Seq) || forgot
			c.resendMu.Lock()
			mine := false
			if rest, again := resendRest(d); again {
				// The rest not coming: kept (Redial asks from where it
				// starts) until asked again, answered — unless an answer
				// read before answered it too (ResendAnswers): gone from
				// resending then, or covered, and what it left unsent came
				// in that answer.
				if ask, ok := c.resending[m.Seq]; !ok || ask.covered {
					delete(c.resending, m.Seq)
					m.ResendCovered = true
				} else {
					if c.skipping && ask.after <= c.skipFrom && rest > c.skipFrom {
						// Redial's resend, cut short: the answer asked again
						// from rest ends it, and still sends what c's
						// predecessors returned.
						c.skipFrom = rest
						d.Count -= min(c.skipped, d.Count)
						c.skipped = 0
					}
					ask.after, ask.answered = max(ask.after, rest), true
					c.resending[m.Seq] = ask
					if decides {
						// Cut short: asking again from where it left
						// off decides too.
						c.undecidedFrom = max(c.undecidedFrom, rest)
					}
				}
			} else {
				// This resend is over, and so is every one asked before
				// it from the same input or later (one that was busy,
				// asked again): its answer held their reports. Complete or
				// partial, it covers those asked since from as early, made
				// before it was read (Resend): one whose answer left
				// reports unsent is over too, one under way is covered.
				// Each one it answers besides its own, not answered
				// before (covered), is named in ResendAnswers.
				covering := d.Reason == proto.ResendComplete || d.Reason == proto.ResendPartial
				for tag, ask := range c.resending {
					named := tag != m.Seq && !ask.covered
					switch {
					case tag == m.Seq || tag < m.Seq && ask.after >= d.AfterInputSeq:
						delete(c.resending, tag)
						mine = true
					case !covering || ask.after < d.AfterInputSeq || ask.covered:
						continue
					case ask.answered:
						delete(c.resending, tag)
					default:
						ask.covered = true
						c.resending[tag] = ask
					}
					if named {
						m.ResendAnswers = append(m.ResendAnswers, tag)
					}
				}
				slices.Sort(m.ResendAnswers)
			}
			open := c.anyOpenLocked()
			c.resendMu.Unlock()
			if mine && c.skipping && d.AfterInputSeq <= c.skipFrom {
				d.Count -= min(c.skipped, d.Count)
				c.skipped = 0
				if !m.undecidedAgain {
					// Redial's resend is over. Failed and undecided, it is
					// asked again from the same input (ResendAgain), whose
					// answer sends again what c's predecessors returned.
					c.skip, c.skipping, c.live = nil, false, nil
				}
			}
			if !open && !c.skipping {
				c.returned = nil
			}
			if decided {
				// Ahead, or through an input below the chain's last, it
				// forgot c's numbers: what it held back is this node's.
				// Any other answer that tells is to a request the node's
				// inputs had passed: of c's history, or not told apart.
				at := len(c.held)
				c.decide(forgot)
				c.heldFirst(m, at)
			}
		}
		return nil
	}
}
