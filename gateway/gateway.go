package gateway

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/internal/ratelimit"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// Publisher puts raw frames into the input ring. It blocks while the ring
// is full and fails when the node is stopping — and PublishBatch when the
// ring stays full past its wait.
type Publisher interface {
	// Publish puts one frame (the gateway's own control inputs),
	// waiting for room as long as it takes.
	Publish(kind input.Kind, session uint64, account uint32, recvTime int64, payload []byte) error
	// PublishBatch puts several frames of one session with one claim, in
	// order: a session's frames from one socket read (see inputBatch).
	// It returns how many it published, payloads[:published]. Its claim
	// waits for room at most wait (0: as long as it takes): past it, it
	// gives up before it claims and returns ErrInputStalled — a claimed
	// slot is always published, for an unpublished one stalls every
	// consumer of the ring. One claim takes the whole batch but in a
	// ring smaller than it, whose claims take a ring's worth each: one
	// that gives up then leaves the frames before it published.
	PublishBatch(kind input.Kind, session uint64, account uint32, recvTime int64, payloads [][]byte, wait time.Duration) (published int, err error)
}

// ErrInputStalled is PublishBatch's answer when the input ring stayed
// full for its whole wait: the node takes no input (its engine, or a
// stage before it, stalled), and the frames it was given were not
// published.
var ErrInputStalled = errors.New("gateway: the input ring stayed full")

// Account is what the gateway knows of an account.
type Account struct {
	ID                 uint32
	Secret             string
	CancelOnDisconnect bool
	// RejectRate and DisconnectRate, when positive, replace the
	// gateway's per-session rates for this account's sessions.
	RejectRate, DisconnectRate int
}

// Config configures a gateway.
type Config struct {
	Listen        string
	MaxFrameBytes int
	// MaxConnections bounds the connections, logged on or not; above it
	// the oldest still waiting for its Logon makes room (Waitlist).
	MaxConnections int
	// MaxConnectionsPerAddress bounds one remote address's connections
	// (ConnsPerAddr); 0: no bound.
	MaxConnectionsPerAddress int
	// MaxSessionsPerAccount bounds one account's logged-on sessions,
	// trading and drop copy (a further logon is answered
	// LogonReject{TooManySessions}); 0: no bound.
	MaxSessionsPerAccount int
	HeartbeatTimeout      time.Duration
	// HeartbeatInterval: a session the gateway sent nothing to for this
	// long is sent a Heartbeat. 0: a third of HeartbeatTimeout.
	HeartbeatInterval time.Duration
	RejectRate        int // messages/s per session; 0: unlimited
	DisconnectRate    int // messages/s per session; 0: unlimited
	// StatusRate is OrderStatus, ResendReports and ListInstruments
	// requests per second per account, over all its sessions (a second's
	// worth at once); above it they are rejected rate-limited. A status
	// request costs the engine up to a page of orders, a resend a journal
	// replay, a ListInstruments the whole list's bytes. 0: unlimited.
	StatusRate int
	// LogonRate is logons per second per account, over all its sessions
	// (a second's worth at once); above it a logon is refused
	// TooManyLogons. A logon spends no message of the session's rate,
	// and with cancel-on-disconnect each session that ends publishes a
	// mass cancel: logging on and off in a loop journaled one input per
	// cycle, past any message rate. 0: unlimited.
	LogonRate int
	// FailedLogonsPerMinute is how many failed logons one remote address
	// may make a minute (all of them at once, then one back every
	// 60/FailedLogonsPerMinute s) before its logons are refused; 0:
	// unlimited.
	FailedLogonsPerMinute int
	// FailedLogonsPerAccountPerMinute is how many failed logons one
	// account id may be the target of a minute, from every address
	// together (all of them at once, then one back every 60/N s), before
	// its logons are refused — except from the addresses that logged on
	// to it with its secret before (logonGuard). 0: unlimited.
	FailedLogonsPerAccountPerMinute int
	SendBufferBytes                 int
	// SendBudget, when set, is shared by every session's outbox (and
	// whatever else the node gives it to): see output.Budget.
	SendBudget *output.Budget
	TLS        *tls.Config
	Accounts   []Account
	Logger     zerolog.Logger
	// Now is the clock for receive timestamps (default time.Now).
	Now func() time.Time
	// Member is the node's id (node.id, below 2^20): the low 20 bits of
	// every session id it gives out, so that no two members of a cluster
	// give out the same one (newSessionID).
	Member uint32
	// Resume is the highest session id of this member that the node's
	// recovered state holds (0: none): its resting orders' and its
	// replayed inputs'. Every id given out is above it, so a restart
	// repeats no id and goes back on none, whether the member ran ahead
	// of the clock before it (a burst of logons) or the clock was set
	// back across it. Its low memberBits bits must be Member's
	// (SessionMember), and it must be below SessionIDLimit.
	Resume uint64
	// Standby, when set, is asked at each Logon whether this node is a
	// standby; a standby answers Redirect{leader} (or LogonReject
	// NotLeader when leader is "") and closes the connection.
	Standby func() (leader string, standby bool)
	// ReportsWritten, when set, is given to every session's outbox
	// (output.Outbox.ObserveWrites): called on the session's writer
	// goroutine after a write of execution reports, with the receive
	// stamp of the oldest input they answer.
	ReportsWritten func(recv int64)
	// Instruments is the answer to a ListInstruments
	// (proto.InstrumentList): frames the gateway sends as they are, to
	// any logged-on session, never journaled. nil: the request is
	// refused unknown-command, as by a build before it.
	Instruments []byte
	// InputSeq, when set, is the last input sequence given out: a
	// LogonAck carries it, and every input of the session comes after
	// it (a client's Redial resends from there, not from the start).
	InputSeq func() int64
	// AwaitAnswers, when set, returns once the reports of every input
	// published before the call are in their sessions' outboxes, and the
	// answers to session's ResendReports among them are over (their
	// ResendDone in its outbox), or once wait has passed: a session that
	// logs out stays registered until then, so it is sent the answers to
	// what it sent before its Logout. Unset, a Logout ends the session at
	// once.
	AwaitAnswers func(session uint64, wait time.Duration)
}

// Validate fills defaults and checks the config.
func (c *Config) Validate() error {
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = 4096
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = 1024
	}
	if c.HeartbeatTimeout <= 0 {
		c.HeartbeatTimeout = 30 * time.Second
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = c.HeartbeatTimeout / 3
	}
	if c.SendBufferBytes <= 0 {
		c.SendBufferBytes = 4 << 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Member >= 1<<memberBits {
		return fmt.Errorf("gateway: member %d is not below 2^%d", c.Member, memberBits)
	}
	if c.Resume >= SessionIDLimit {
		return fmt.Errorf("gateway: resume session %d is not below 2^63: no id the clock gives out before 2262", c.Resume)
	}
	if c.Resume != 0 && SessionMember(c.Resume) != c.Member {
		return fmt.Errorf("gateway: resume session %d is member %d's, not member %d's", c.Resume, SessionMember(c.Resume), c.Member)
	}
	if c.FailedLogonsPerMinute < 0 || c.FailedLogonsPerAccountPerMinute < 0 {
		return errors.New("gateway: negative failed logons per minute")
	}
	if c.DisconnectRate > 0 && c.DisconnectRate < c.RejectRate {
		return errors.New("gateway: disconnect rate below reject rate")
	}
	return nil
}

// Counters are the gateway's monotonic counts, read by the metrics.
type Counters struct {
	SessionsOpened, SessionsClosed atomic.Int64
	BytesIn                        atomic.Int64
	// BytesOut counts the bytes trading connections took, write by
	// write: every frame written to a session (reports, resends,
	// heartbeats, logon answers) and the answers to refused logons — not
	// what was queued for a session cut off before it was written.
	BytesOut atomic.Int64
	// Rejected counts the messages the gateway refused itself (rate
	// limits, oversize frames, orders from a drop-copy session), by
	// engine.RejectReason.
	Rejected [64]atomic.Int64
	// Refused counts those same messages by engine.CommandType, so that
	// ringex_orders_total — the reject share's denominator — holds them
	// as ringex_rejects_total does.
	Refused     [engine.NumCommandTypes]atomic.Int64
	Disconnects [numCauses]atomic.Int64
}

// Cause is why a connection ended.
type Cause uint8

const (
	CauseLogout Cause = iota
	CauseEOF
	CauseHeartbeatTimeout
	CauseRateLimit
	CauseFrameTooLarge
	CauseMalformed
	CauseSlowConsumer
	CauseLogonFailed
	CauseShutdown
	CauseMaxConnections
	CauseLogonThrottled  // refused: too many failed logons from the address
	CauseOperator        // closed by an operator (CloseSession)
	CauseMaxPerAddress   // refused: MaxConnectionsPerAddress from its address
	CauseMaxPerAccount   // refused: MaxSessionsPerAccount of its account
	CauseReplaced        // closed by its client's next logon (Logon.replaces_session)
	CauseNotLeader       // closed as the node stopped leading its cluster (DropSessions)
	CauseLogonRate       // refused: its account logged on faster than LogonRate
	CauseTLSHandshake    // its TLS handshake failed (not a TLS client, or no version or cipher in common)
	CauseIdle            // sent no Logon — on a TLS port, or did not finish its handshake — within HeartbeatTimeout
	CauseStandby         // its Logon reached a standby: answered Redirect (the leader's address) or NotLeader
	CauseLogonTimeout    // sent part of its Logon frame, not the rest, within HeartbeatTimeout
	CauseSessionIDsSpent // refused: the member's next session id would be at or past SessionIDLimit (newSessionID)
	CauseInputStalled    // its reader gave up publishing: the input ring stayed full for HeartbeatTimeout (ErrInputStalled)
	CauseCancelPending   // refused: its account's cancel-on-disconnect, owed since its last session ended, not published within cancelOwedWait
	numCauses
)

var causeNames = [numCauses]string{"logout", "eof", "heartbeat_timeout", "rate_limit", "frame_too_large",
	"malformed", "slow_consumer", "logon_failed", "shutdown", "max_connections", "logon_throttled", "operator",
	"max_connections_per_address", "max_sessions_per_account", "replaced", "not_leader", "logon_rate", "tls_handshake", "idle",
	"standby", "logon_timeout", "session_ids_spent", "input_stalled", "cancel_pending"}

// endSession closes s's connection for cause, a decision of the node's
// (an operator, a replacing logon, the lead lost, a shutdown): its outbox
// writes what it holds, then the Closing, then closes (lingering:
// output.CloseLingering); the session's reader is ended at once
// (output.EndReading), rather than at the close (it counts the cause endFor recorded, or by the flag
// the caller set). A session ended before — by the node, or by its
// reader at its own end — keeps its first end: its outbox is closed, or
// being closed, saying that one. The closer's
// goroutine waits for neither.
func (g *Gateway) endSession(s *Session, cause Cause) {
	if s.endFor(cause) {
		s.Out.CloseSaying(g.closingOf(s, cause))
	}
	output.EndReading(s.conn)
}

// endFor records cause as the end of s — the node's, or its reader's
// own — and reports whether it is the first: only the first end closes
// the outbox, so the Closing its client is sent names the cause
// recorded (unless the outbox was cut before, as a slow consumer).
func (s *Session) endFor(cause Cause) bool {
	return s.endedFor.CompareAndSwap(0, uint32(cause)+1)
}

// firstEnd returns the cause of the first end of s (endFor), and false
// when none is recorded.
func (s *Session) firstEnd() (Cause, bool) {
	c := s.endedFor.Load()
	return Cause(c - 1), c != 0
}

func (c Cause) String() string { return causeNames[c] }

// Causes lists every disconnect cause (metrics labels).
func Causes() []Cause {
	out := make([]Cause, numCauses)
	for i := range out {
		out[i] = Cause(i)
	}
	return out
}

// Session is one logged-on connection.
type Session struct {
	ID      uint64
	Account uint32
	Out     *output.Outbox
	// From is the client's address; Since is when it logged on.
	From  string
	Since time.Time
	// DropCopy: a read-only session that gets a copy of every report of
	// its account and may not trade (Logon.drop_copy).
	DropCopy bool
	conn     net.Conn
	// answered is closed by the session's reader once its logon is
	// answered: its LogonAck queued first in its outbox (Outbox.Release),
	// or the outbox closed before. The operator's CloseSession waits for
	// it (acked), and Sessions lists a session before it as LoggingOn:
	// closed while it holds, the
	// outbox drops what it holds, the Closing included, and the client
	// reads EOF for its logon's answer. The routing of reports
	// (RoutesOf, Session) sees the session from registration.
	answered chan struct{}
	// closedByOperator is set by CloseSession before it closes conn, so
	// the session's reader reports the right cause.
	closedByOperator atomic.Bool
	// notLeader is set by DropSessions before it closes conn: the node
	// stopped leading, and the session ends with cause not_leader.
	notLeader atomic.Bool
	// replaced is set, under its account's handover lock, by the logon
	// that replaced the session (Logon.replaces_session): that logon
	// unregistered it already, and its account is not left without it.
	replaced atomic.Bool
	// emptyFrame is set by the session's reader when the frame it ends
	// for (CauseFrameTooLarge) was of length 0, not over the maximum:
	// its client is told which (closingOf).
	emptyFrame atomic.Bool
	// endedFor is the cause of the session's first end plus one (0: not
	// ended), set once (endFor) by the end that closes its outbox saying
	// it — the node's (endSession, Close) or its reader's own: the cause
	// its reader counts, the one its client is told. Each flag above is
	// set before the node's end records it.
	endedFor atomic.Uint32
	// limiterBack is closed once the session's reader has given its rate
	// buckets back to its account (a logon replacing it takes them).
	limiterBack chan struct{}
	// unregistered is closed by the session's reader once the session is
	// unregistered and its account's cancel-on-disconnect published (the
	// gateway stopping, once its reader ended: Close unregisters it):
	// its outbox ends the connection only after (Outbox.EndAfter).
	unregistered chan struct{}
}

// SessionInfo describes one live session for operators.
type SessionInfo struct {
	// ID is sent as a decimal string: ids are above 2^53 (the clock's
	// nanoseconds), and a reader whose numbers are float64 — jq,
	// JavaScript — rounded a JSON number to another session's id.
	ID       uint64    `json:"id,string"`
	Account  uint32    `json:"account"`
	DropCopy bool      `json:"drop_copy"`
	From     string    `json:"from"`
	Since    time.Time `json:"since"`
	// Unsent is how many bytes of reports wait in its send buffer (of
	// gateway.send_buffer_bytes): a client that reads too slowly shows here
	// before it is cut off.
	Unsent int `json:"unsent_bytes"`
	// LoggingOn: registered, its LogonAck not queued yet (its client
	// does not know its id); a close of it waits for that (CloseSession).
	LoggingOn bool `json:"logging_on,omitempty"`
}

// Gateway accepts and serves trading sessions.
type Gateway struct {
	cfg      Config
	pub      Publisher
	accounts map[uint32]account
	guard    *logonGuard
	perAddr  *ConnsPerAddr
	refuser  *Refuser
	ln       net.Listener
	// closings and cuts are the Closing frames of the gateway's ends
	// and cuts, built once by New (closings.go); read-only after.
	// emptyFrame is frame_too_large's for a frame of length 0.
	closings   [numCauses][]byte
	emptyFrame []byte
	cuts       output.CutFrames

	Counters Counters

	conns       atomic.Int64
	lastSession atomic.Uint64 // the last session id given out (newSessionID)
	// closing: StopTaking ran — no connection is taken, no frame read,
	// and the sessions left are ended by Close.
	closing    atomic.Bool
	stopTaking sync.Once
	wg         sync.WaitGroup
	// writers counts the session writers still writing after their
	// readers ended (added by each reader before it is done, so before
	// StopTaking's wait returns): Close waits for them, those of
	// sessions that ended before it as well as those it ends.
	writers sync.WaitGroup

	mu sync.Mutex
	// dropEpoch counts DropSessions calls, under mu: a connection taken
	// before one that registers its session after it ends not_leader.
	dropEpoch uint64
	sessions  map[uint64]*Session
	// live holds every connection whose reader runs, with its session
	// from its registration on (nil before) — also once the session is
	// unregistered (replaced): its outbox may still owe its client a
	// Closing, written once its reader ends (Session.unregistered), so
	// the node's ends treat it as a session's, never as a connection
	// owed nothing.
	live map[net.Conn]*Session
	// draining lists the sessions whose readers StopTaking ended with
	// the session neither cut nor ended otherwise: left open for the
	// drain, each is counted by Close, under the end that closes it.
	draining []*Session
	// awaiting lists the connections waiting for their Logon (one
	// level): above MaxConnections the oldest of them makes room.
	awaiting *Waitlist
	// byAccount is replaced copy-on-write under mu and read lock-free by
	// the execution sender.
	byAccount atomic.Pointer[map[uint32]Routes]
}

// Routes are an account's live sessions as the execution sender needs
// them: the trading ones, among which a report goes to the one that
// entered the order (or to all when it is gone), and the drop copies,
// which get every report.
type Routes struct {
	Trading, DropCopy []*Session
}

// New creates a gateway; Serve starts it.
func New(cfg Config, pub Publisher) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ids := make([]uint32, len(cfg.Accounts))
	for i, a := range cfg.Accounts {
		ids[i] = a.ID
	}
	g := &Gateway{cfg: cfg, pub: pub, accounts: map[uint32]account{},
		guard:    newLogonGuard(cfg.FailedLogonsPerMinute, cfg.FailedLogonsPerAccountPerMinute, ids, cfg.Now().UnixNano()),
		perAddr:  NewConnsPerAddr(cfg.MaxConnectionsPerAddress),
		sessions: map[uint64]*Session{}, live: map[net.Conn]*Session{}, awaiting: NewWaitlist(1)}
	g.refuser = NewRefuser(&g.Counters.BytesOut)
	for _, a := range cfg.Accounts {
		hash := sha256.Sum256([]byte(a.Secret))
		a.Secret = "" // the hash is all a logon is checked against
		g.accounts[a.ID] = account{Account: a, secretHash: hash, handover: new(sync.Mutex), limiters: new([]*rateLimiter), cancelOwed: new(chan struct{}),
			status: &statusLimit{b: ratelimit.New(float64(cfg.StatusRate), cfg.Now().UnixNano())},
			logons: &statusLimit{b: ratelimit.New(float64(cfg.LogonRate), cfg.Now().UnixNano())}}
	}
	g.buildClosings()
	empty := map[uint32]Routes{}
	g.byAccount.Store(&empty)
	// The id before the first: its low bits the member's, as every id's.
	g.lastSession.Store(max(uint64(cfg.Member), cfg.Resume))
	return g, nil
}

// memberBits is how many low bits of a session id name the member that
// gave it out (Config.Member): node.id is below 2^20.
const memberBits = 20

// SessionIDLimit bounds the session ids followed (Config.Resume,
// Above): the clock gives them out near 2^60.6 in 2026 (ns since 1970)
// and reaches 2^63 in 2262; a burst runs ahead by 2^memberBits a logon.
// An id at or above it is none a gateway gave out — a damaged or foreign
// journal's — and followed, the ids after it soon wrapped past 2^64 back
// to the clock: below every id given out before, equal to some.
const SessionIDLimit = 1 << 63

// SessionMember is the member that gave out session id (Config.Member):
// its low memberBits bits.
func SessionMember(id uint64) uint32 { return uint32(id & (1<<memberBits - 1)) }

// Above makes every session id given out from now on above id, when id
// is this member's (Config.Member); another member's, or 0, changes
// nothing. Config.Resume covers the ids a node recovered before Start; a
// cluster member calls Above for each input raft delivers after it
// (node's deliverBatch): a batch it gave out as leader before a crash,
// committed but not in its journal, comes back that way, and its resting
// orders name ids it must not give out again once it leads. An id at or
// above SessionIDLimit is passed over. Safe from any goroutine.
func (g *Gateway) Above(id uint64) {
	if id == 0 || id >= SessionIDLimit || SessionMember(id) != g.cfg.Member {
		return
	}
	for {
		last := g.lastSession.Load()
		if last >= id || g.lastSession.CompareAndSwap(last, id) {
			return
		}
	}
}

// LastSession is the highest session id of this member the gateway
// knows of — the last it gave out, or the highest it follows
// (Config.Resume, Above) when that is higher — every id it gives out
// from now on is above it; 0: none. Safe from any goroutine.
func (g *Gateway) LastSession() uint64 {
	if last := g.lastSession.Load(); last != uint64(g.cfg.Member) { // the id before the first (New)
		return last
	}
	return 0
}

// newSessionID gives out a session id at logon time now (ns): the clock,
// its low memberBits bits replaced by the member's id, or the last id
// given out plus 2^memberBits when that is larger (logons faster than one
// per ~1 ms). Session ids are journaled with every input (an order's
// reports go to the session that entered it) and named by a client's
// next logon (Logon.replaces_session), on whichever member it reaches
// after a failover: two members' ids never meet, whatever their clocks
// — before, both counted up from their start time in ns, and members
// started close together gave out the same ones — and a member's ids
// after a restart come after those its recovered state holds
// (Config.Resume), wherever the clock is: before, only the clock kept
// them apart, and a member that ran ahead of it (over ~950 logons a
// second sustained until the restart) or whose clock was set back
// across the restart gave out again ids its resting orders still named.
// Never 0 (no session).
//
// Never at or past SessionIDLimit either: ok is false, and nothing is
// given out, when the next id would be — a node's restart leaves such an
// id out of its floor (node.sessionFloor) and would give it out again.
// The clock reaches the limit in 2262, so only a last id one step below
// it, from Config.Resume or Above (a damaged or foreign journal or
// snapshot), leads there; from then on every call is refused, as the
// last id stays where it is.
// Invariant: lastSession < SessionIDLimit, so last+step does not wrap.
func (g *Gateway) newSessionID(now int64) (id uint64, ok bool) {
	const step = 1 << memberBits
	floor := uint64(now)&^(step-1) | uint64(g.cfg.Member)
	for {
		last := g.lastSession.Load()
		id := max(last+step, floor)
		if id >= SessionIDLimit {
			return 0, false
		}
		if g.lastSession.CompareAndSwap(last, id) {
			return id, true
		}
	}
}

// Listen binds the listener (so Addr is known before Serve).
func (g *Gateway) Listen() error {
	ln, err := net.Listen("tcp", g.cfg.Listen)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if g.cfg.TLS != nil {
		ln = tls.NewListener(ln, g.cfg.TLS)
	}
	g.ln = ln
	return nil
}

// Addr is the bound address.
func (g *Gateway) Addr() net.Addr { return g.ln.Addr() }

// Serve accepts connections until StopTaking (or Close), which waits for
// it to return: every connection it accepted is counted under a
// disconnect cause by then. After it, Serve returns nil at once.
func (g *Gateway) Serve() error {
	// Under mu, against StopTaking: this Add happens before its Wait (it
	// sets closing before it takes mu), or Serve does not run at all.
	g.mu.Lock()
	if g.closing.Load() {
		g.mu.Unlock()
		return nil
	}
	g.wg.Add(1)
	g.mu.Unlock()
	defer g.wg.Done()
	for {
		conn, err := Accept(g.ln, g.cfg.Logger, "gateway")
		if err != nil {
			if g.closing.Load() {
				return nil
			}
			return fmt.Errorf("gateway: accept: %w", err)
		}
		// The address's limit first: a connection it refuses must not
		// evict another address's connection to make room.
		from, ok := g.perAddr.Open(conn)
		if !ok {
			g.Counters.Disconnects[CauseMaxPerAddress].Add(1)
			g.refuser.Refuse(conn)
			continue
		}
		// Logged-on sessions are never evicted; one still waiting for its
		// Logon when the slots run out is most likely holding a slot
		// until read_timeout (Waitlist). It is told TooManyConnections
		// (on a TLS port before its handshake, the close is all it is
		// told) — also when its Logon arrived as it was evicted.
		if g.conns.Add(1) > int64(g.cfg.MaxConnections) && !g.awaiting.Evict() {
			g.conns.Add(-1)
			g.perAddr.Close(from)
			g.Counters.Disconnects[CauseMaxConnections].Add(1)
			g.refuser.Refuse(conn)
			continue
		}
		// Under mu, against StopTaking: a connection accepted while it
		// runs is either in live before it ends them all (and counted in
		// wg before it waits), or closed here.
		g.mu.Lock()
		if g.closing.Load() {
			g.mu.Unlock()
			g.conns.Add(-1)
			g.perAddr.Close(from)
			g.Counters.Disconnects[CauseShutdown].Add(1)
			output.CloseNow(conn)
			return nil
		}
		g.live[conn] = nil
		wait := g.awaiting.Add(conn, 0)
		epoch := g.dropEpoch
		g.wg.Add(1)
		g.mu.Unlock()
		go g.serveConn(conn, from, epoch, wait)
	}
}

// Refuser refuses a port's connections over its limits, off the accept
// loop: each is told why — LogonReject{TooManyConnections} — and closed
// within a second (on a TLS port the write runs the handshake, which
// reads the client's hello). At most maxRefusing are refused at once;
// beyond, a connection is closed unanswered, so a flood of connections
// cannot hold descriptors past the port's limits for long. Wait waits
// for the refusals under way.
type Refuser struct {
	slots chan struct{}
	wg    sync.WaitGroup
	wrote *atomic.Int64 // the port's bytes out: the refusals' bytes written are added
}

// maxRefusing is a constant, not a setting: the handshakes a TLS port
// runs are bounded by its connection limit already (gateway.max_connections,
// or marketdata.max_connections — each connection's reader runs its own,
// within read_timeout, and one still in it is evicted for a newcomer),
// plus maxEvicting connections being evicted and maxRefusing being
// refused, each of those within a second. A refusal answers a client
// the port has no room for: with 64 under way the next is closed
// unanswered, which a retrying client takes as it takes
// TooManyConnections, so no operator gains by tuning it; a separate
// handshake limit below the connection limit would only refuse clients
// the port has room for.
const maxRefusing = 64

// NewRefuser returns a port's refuser, counting the bytes of its
// refusals written in wrote.
func NewRefuser(wrote *atomic.Int64) *Refuser {
	return &Refuser{slots: make(chan struct{}, maxRefusing), wrote: wrote}
}

// Refuse refuses conn: answers it TooManyConnections within a second
// and closes it at once (CloseNow), not lingering as a refused Logon's
// answer is (answerLast, RefusedLinger). A connection refused here holds
// no slot — the port is full, or its address is — and a linger would
// hold its descriptor, and one of maxRefusing, past those limits while
// a client that keeps sending holds it: a pipelining client refused
// here may read a reset after, or instead of, its answer.
func (r *Refuser) Refuse(conn net.Conn) {
	select {
	case r.slots <- struct{}{}:
	default:
		output.CloseNow(conn)
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() { <-r.slots }()
		conn.SetDeadline(time.Now().Add(time.Second))
		n, _ := conn.Write(proto.NewEncoder().LogonReject(0, wire.LogonRejectReasonTooManyConnections))
		r.wrote.Add(int64(n))
		output.CloseNow(conn)
	}()
}

// Wait waits for the refusals under way.
func (r *Refuser) Wait() { r.wg.Wait() }

// StopTaking is a shutdown's first half: the gateway stops accepting,
// ends every session's reader (endReading) and waits for the accept
// loop and the readers. Once it returns every frame a reader had read is
// published, and every connection is counted under a disconnect cause
// but the sessions left open: one whose outbox was cut before, or that
// the node ended before (an operator's close …), is counted so — the
// first end counts. The sessions left stay registered and their
// outboxes open: the reports of the inputs published go on reaching
// them — the node drains its rings between the halves — until Close,
// which counts each under the end that closes it: shutdown, or one
// during the drain (an operator's close, a cut as a slow consumer), the
// one its client is told.
func (g *Gateway) StopTaking() {
	g.stopTaking.Do(func() {
		g.endReading()
		g.wg.Wait()
		g.refuser.Wait()
	})
}

// endReading stops the gateway accepting and reading: it closes the
// listener, ends each session's reader (output.EndReading) and closes
// every connection not logged on (owed nothing).
func (g *Gateway) endReading() {
	g.closing.Store(true)
	if g.ln != nil {
		g.ln.Close()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for c, s := range g.live {
		if s != nil {
			output.EndReading(c)
		} else {
			output.CloseNow(c)
		}
	}
}

// Close is a shutdown's second half, after StopTaking (which it runs
// first if it has not run): it ends every session left — its outbox
// writes what it holds, then Closing{shutdown}, then closes; one ended
// or cut during the drain keeps that end — counts each, and waits
// for their writers, and for those of the sessions that ended before
// (writers). The wait is bounded by the outboxes' close grace (output's
// closeGrace, 1 s), which the sessions left count from here and the
// others counted from their end, or from their reader's end when their
// writer had written all it held and waited for it
// (output.Outbox.EndAfter; both before Close, which StopTaking's wait
// for the readers precedes): a client that stopped reading holds Close
// that long at most, and is closed then, untold. Once Close
// returns nothing of the gateway writes to a client, so the process may
// exit without cutting a Closing short.
func (g *Gateway) Close() {
	g.StopTaking()
	g.mu.Lock()
	ending := make([]*Session, 0, len(g.sessions))
	for _, s := range g.sessions {
		ending = append(ending, s)
	}
	clear(g.sessions)
	g.rebuildAccounts()
	g.Counters.SessionsClosed.Add(int64(len(ending)))
	draining := g.draining
	g.draining = nil
	g.mu.Unlock()
	for _, s := range ending {
		if s.endFor(CauseShutdown) {
			s.Out.CloseSaying(g.closingOf(s, CauseShutdown))
		}
	}
	for _, s := range draining {
		// Ended already — by the loop above, or, replaced during
		// StopTaking, by its replacing logon — so told settles it.
		s.endFor(CauseShutdown)
		cause, _ := g.told(s)
		g.counted(s, cause)
	}
	g.writers.Wait()
}

// DropSessions closes every connection but keeps listening: the node
// stopped being the leader and its clients must reconnect (and be
// redirected).
func (g *Gateway) DropSessions() {
	g.mu.Lock()
	g.dropEpoch++
	for _, s := range g.sessions {
		s.notLeader.Store(true) // before its connection closes: its reader reads it after
	}
	g.endAll(CauseNotLeader)
	g.mu.Unlock()
}

// endAll ends every connection: a session's for cause (endSession), one
// not logged on at once. The caller holds mu.
func (g *Gateway) endAll(cause Cause) {
	for c, s := range g.live {
		if s != nil {
			g.endSession(s, cause)
		} else {
			output.CloseNow(c)
		}
	}
}

// RoutesOf returns an account's live sessions, trading and drop copies,
// with one lookup. The slices must not be modified. Safe from any
// goroutine, lock-free.
func (g *Gateway) RoutesOf(account uint32) Routes {
	return (*g.byAccount.Load())[account]
}

// Session returns a live session by id.
func (g *Gateway) Session(id uint64) *Session {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sessions[id]
}

// Sessions lists the live sessions, oldest first, at once: one still
// logging on (its LogonAck not queued yet) is listed LoggingOn, not
// waited for. Waited for, at most ackWait for all, one logon held between
// its registration and its LogonAck made every listing take 5 s.
func (g *Gateway) Sessions() []SessionInfo {
	g.mu.Lock()
	live := make([]*Session, 0, len(g.sessions))
	for _, s := range g.sessions {
		live = append(live, s)
	}
	g.mu.Unlock()
	slices.SortFunc(live, func(a, b *Session) int { return cmp.Compare(a.ID, b.ID) })
	list := make([]SessionInfo, len(live))
	for i, s := range live {
		unsent, _ := s.Out.Pending()
		list[i] = SessionInfo{ID: s.ID, Account: s.Account, DropCopy: s.DropCopy, From: s.From, Since: s.Since, Unsent: unsent, LoggingOn: !s.answeredYet()}
	}
	return list
}

// answeredYet reports whether s's logon is answered (acked) now.
func (s *Session) answeredYet() bool {
	select {
	case <-s.answered:
		return true
	default:
		return false
	}
}

// CloseSession disconnects a live session (an operator's decision: a
// misbehaving or stale client). It ends like any disconnect — the
// account's cancel-on-disconnect applies when it was its last session —
// with cause "operator" (slow_consumer for one whose outbox was cut
// before, and the earlier end's cause for one the node ended before —
// DropSessions, a replacing logon: the first end counts, and is the one
// its client is told). A session still logging on is closed once its
// LogonAck is queued, so its client is told the close of the session it
// knows: closed before, its client read EOF for its logon's answer, and
// a cluster client (DialCluster) logged on again as another session, the
// operator's close naming one it never knew. It reports whether the
// session was live — and answered within ackWait: one whose LogonAck is
// not queued by then is left open, answered as an unknown one.
func (g *Gateway) CloseSession(id uint64) bool {
	g.mu.Lock()
	s := g.sessions[id]
	g.mu.Unlock()
	if s == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), ackWait)
	defer cancel()
	if !s.acked(ctx) {
		return false
	}
	s.closedByOperator.Store(true)
	g.endSession(s, CauseOperator)
	return true
}

// ackWait bounds how long the operator's CloseSession waits for a
// session's logon to be answered (acked): between its
// registration and its LogonAck its reader only reads the input
// sequence and logs the logon.
const ackWait = 5 * time.Second

// acked reports whether s's logon was answered (its LogonAck queued, or
// its outbox closed before) by the time ctx is done.
func (s *Session) acked(ctx context.Context) bool {
	if s.answeredYet() {
		return true
	}
	if testHookAwaitingAck != nil {
		testHookAwaitingAck(s)
	}
	select {
	case <-s.answered:
		return true
	case <-ctx.Done():
		select {
		case <-s.answered: // both ready: the answer counts
			return true
		default:
			return false
		}
	}
}

// testHookAwaitingAck, when set by a test, runs in acked when the
// session's logon is not answered yet, before it waits.
var testHookAwaitingAck func(s *Session)

// replace closes session id of account for the logon that replaces it
// (Logon.replaces_session) — a connection its client gave up on, perhaps
// half-open: until its reader noticed (read_timeout), the reports of the
// orders it entered went on going to it, not to the new session. It is
// unregistered here, so they go to the account's other sessions at once.
// The caller holds the account's handover lock. It returns the session
// closed (nil: none).
//
// A session is replaced only by one of its kind: a drop copy that closed
// a trading session as "replaced" skipped the account's
// cancel-on-disconnect and left its orders live with no trading session.
func (g *Gateway) replace(id uint64, account uint32, dropCopy bool) *Session {
	g.mu.Lock()
	s := g.sessions[id]
	g.mu.Unlock()
	if s == nil || s.Account != account || s.DropCopy != dropCopy {
		return nil
	}
	g.unregister(s) // its own reader unregisters only under the lock the caller holds
	s.replaced.Store(true)
	g.endSession(s, CauseReplaced)
	return s
}

// endedByNode reports whether the node ended s (endSession, or the
// gateway closing): its reader reads no more. Each flag is set before
// its reader is ended (output.EndReading's read deadline), and the
// reader asks after it sets a deadline of its own.
func (s *Session) endedByNode(g *Gateway) bool {
	return g.closing.Load() || s.closedByOperator.Load() || s.replaced.Load() || s.notLeader.Load()
}

// limiterHandover bounds how long a replacing logon waits for the
// replaced session's reader to give its rate buckets back.
const limiterHandover = time.Second

// GuardCounts reports how many addresses (IPv4, IPv6 /64) the
// failed-logon guard counts failures for — at 4 096, the addresses beyond
// them share their network's allowance — and how many such networks
// (IPv4 /24, IPv6 /48; at 4 096, the rest share one): a look at its
// tables, each up to 4 096 entries, under the lock logons take.
func (g *Gateway) GuardCounts() (addresses, networks int) {
	return g.guard.counts(g.cfg.Now().UnixNano())
}

// Live is the number of logged-on sessions.
func (g *Gateway) Live() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sessions)
}

func (g *Gateway) register(s *Session, epoch uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dropEpoch != epoch {
		s.notLeader.Store(true) // its connection was closed by DropSessions before it registered
	}
	g.sessions[s.ID] = s
	g.live[s.conn] = s
	g.rebuildAccounts()
	g.Counters.SessionsOpened.Add(1)
}

// unregister forgets s and reports whether it was its account's last
// trading session (a drop copy never is: it trades nothing).
func (g *Gateway) unregister(s *Session) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.sessions, s.ID)
	g.rebuildAccounts()
	g.Counters.SessionsClosed.Add(1)
	return !s.DropCopy && len((*g.byAccount.Load())[s.Account].Trading) == 0
}

// sessionsOf is how many sessions, trading and drop copy, account has
// logged on.
func (g *Gateway) sessionsOf(account uint32) int {
	r := (*g.byAccount.Load())[account]
	return len(r.Trading) + len(r.DropCopy)
}

func (g *Gateway) rebuildAccounts() {
	m := make(map[uint32]Routes, len(g.sessions))
	for _, s := range g.sessions {
		r := m[s.Account]
		if s.DropCopy {
			r.DropCopy = append(r.DropCopy, s)
		} else {
			r.Trading = append(r.Trading, s)
		}
		m[s.Account] = r
	}
	g.byAccount.Store(&m)
}

// account is a configured account with its secret's hash.
type account struct {
	Account
	secretHash [sha256.Size]byte
	// handover orders an account's last session ending before its next
	// one starts: held while unregistering a session and while
	// registering one. The last trading session's end leaves its
	// cancel-on-disconnect owed (cancelOwed), and no session registers
	// until it is published: so a session that logs on as the last one
	// closes has its orders published after that mass cancel, never
	// cancelled by it. Never held across a publish, which waits while the
	// ring is full: the account's logons, and its other sessions' ends,
	// waited that long behind it, unanswered.
	handover *sync.Mutex
	// cancelOwed, under handover, is set (non-nil) by the reader of the
	// account's last trading session as it unregisters it with
	// cancel-on-disconnect, and cleared, then closed, once that reader
	// has published the MassCancel (or the node refused it: stopping). A
	// logon finding it set waits for it, cancelOwedWait at most, without
	// the lock, then is refused TooManySessions (cancel_pending).
	cancelOwed *chan struct{}
	// status limits the account's OrderStatus and ResendReports over all
	// its sessions (gateway.status_rate): per session, an account could
	// multiply it by the connections it opens.
	status *statusLimit
	// logons limits the account's successful logons (gateway.logon_rate).
	logons *statusLimit
	// rateClosing is the Closing of a session of the account over its
	// own disconnect_rate (nil: it has none, the gateway's applies).
	rateClosing []byte
	// limiters holds the message-rate buckets of the account's ended
	// sessions, under handover: a session that logs on takes one back
	// (refilled by the time since), so reconnecting does not start a
	// client with a fresh second's worth.
	limiters *[]*rateLimiter
}

// statusLimit is an account's bucket shared by its sessions' readers:
// status requests, or logons.
type statusLimit struct {
	mu sync.Mutex
	b  ratelimit.Bucket
}

func (l *statusLimit) take(now int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Take(now)
}

// has reports whether take would succeed now, spending nothing.
func (l *statusLimit) has(now int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Has(now)
}

// checkLogon checks a Logon naming id with secret from address from
// (remoteAddr) at now: the secret (authenticate), within the failed-logon
// guard's allowances, a failure spending them. acct is the account
// admitted; why, for a failure, says which it was, for the log.
func (g *Gateway) checkLogon(from netip.Addr, id uint32, secret string, now int64) (acct Account, verdict outcome, why string) {
	verdict = g.guard.check(from, id, now, func() (ok bool) { acct, ok, why = g.authenticate(id, secret); return ok })
	switch verdict {
	case throttled:
		why = "too many failed logons from this address"
	case throttledAccount:
		why = "too many failed logons to this account, and it never logged on from this address"
	}
	return acct, verdict, why
}

// CheckLogon checks a Logon taken on another port of the node — the
// market-data port, with marketdata.require_logon — as this gateway
// checks its own: against the same accounts and secrets, through the
// same failed-logon guard, so that a failure there spends the address's
// and the account's allowance as one here does (another port is not a
// second allowance for guessing secrets). from is the connection's
// address as ConnsPerAddr.Open returned it. It returns
// LogonRejectReasonNone when the logon is admitted; else the reason to
// answer (BadSecret, for an unknown account too; TooManyFailedLogons
// while throttled, the secret unchecked) and why, for the log.
func (g *Gateway) CheckLogon(from netip.Addr, account uint32, secret string) (reason wire.LogonRejectReason, why string) {
	_, verdict, why := g.checkLogon(from, account, secret, g.cfg.Now().UnixNano())
	switch verdict {
	case admitted:
		return wire.LogonRejectReasonNone, ""
	case throttled, throttledAccount:
		return wire.LogonRejectReasonTooManyFailedLogons, why
	}
	return wire.LogonRejectReasonBadSecret, why
}

// noSecretHash is what a logon naming an unknown account is compared with,
// so that it takes as long as one with a wrong secret.
var noSecretHash = sha256.Sum256([]byte("ringex: no such account"))

// authenticate checks a logon's credentials. A failure says only
// BadSecret to the client, for an unknown account too, and takes the same
// time either way (the hashes compared are of fixed length, whatever the
// secrets' lengths): a failed logon tells nobody which accounts exist.
// why, for the node's log, says which it was.
func (g *Gateway) authenticate(id uint32, secret string) (a Account, ok bool, why string) {
	acct, known := g.accounts[id]
	want := acct.secretHash
	if !known {
		want = noSecretHash
	}
	got := sha256.Sum256([]byte(secret))
	match := subtle.ConstantTimeCompare(want[:], got[:]) == 1
	switch {
	case !known:
		return Account{}, false, "unknown account"
	case !match:
		return Account{}, false, "bad secret"
	}
	return acct.Account, true, ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}

// Reason codes the gateway itself puts in rejects.
var (
	reasonRateLimited    = uint8(engine.ReasonRateLimited)
	reasonMalformed      = uint8(engine.ReasonMalformedFrame)
	reasonDropCopy       = uint8(engine.ReasonDropCopySession)
	reasonUnknownCommand = uint8(engine.ReasonUnknownCommand)
)
