package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/proto"
)

// KeyError is a problem with one key: Validate's (Err is ErrInvalid) and
// Set's (ErrUnknownKey, ErrBadValue). It prints as "config: <key>: <reason>".
type KeyError struct {
	Key    string // dotted key; list entries as instruments[2].tick_size
	Reason string
	Err    error // the sentinel: ErrInvalid, ErrUnknownKey or ErrBadValue
}

func (e *KeyError) Error() string { return "config: " + e.Key + ": " + e.Reason }

// Unwrap returns the sentinel.
func (e *KeyError) Unwrap() error { return e.Err }

// Limits that Validate enforces.
const (
	// maxID bounds instrument and account ids (the engine indexes them
	// directly in slices).
	maxID = 1<<20 - 1
	// maxSlots bounds a ring; 2^30 input slots would already be 256 GiB.
	maxSlots = 1 << 30
	// masked is what Masked writes for a secret; Validate refuses it so
	// the output of `ringex config print` cannot run with fake secrets.
	masked = "***"
	// minHeartbeat bounds gateway.heartbeat_interval from below.
	minHeartbeat = time.Millisecond
	// maxRecentReports bounds gateway.recent_reports (9 GiB).
	maxRecentReports = 1 << 26
	// maxSegmentBytes bounds journal.segment_bytes.
	maxSegmentBytes = 1 << 30
	// maxSymbolBytes bounds an instrument's symbol (symbolFault).
	maxSymbolBytes = 32
)

// Validate checks the whole config and returns every problem found, each
// a *KeyError naming its key, joined with errors.Join; nil if none.
func (c *Config) Validate() error {
	v := &validator{c: c}
	c.validateNode(v)
	c.validateListeners(v)
	c.validateRings(v)
	c.validateStorage(v)
	c.validateLog(v)
	c.validateCluster(v)
	c.validateInstruments(v)
	c.validateAccounts(v)
	return errors.Join(v.errs...)
}

// validator collects Validate's problems with c.
type validator struct {
	errs []error
	c    *Config
}

// bad records a problem with key, naming the layer that set the value
// refused (layerNote) — admin.token's messages name its own layer where
// they say so (tokenNote, which follows admin.token_file too).
func (v *validator) bad(key, format string, a ...any) {
	reason := fmt.Sprintf(format, a...)
	if key != "admin.token" {
		reason += v.c.layerNote(key)
	}
	v.errs = append(v.errs, &KeyError{Key: key, Reason: reason, Err: ErrInvalid})
}

// named reports whether a problem with key was found already.
func (v *validator) named(key string) bool {
	return slices.ContainsFunc(v.errs, func(e error) bool { return e.(*KeyError).Key == key })
}

// tlsPair checks that the listener TLS t (under key) has both files or
// neither, naming the one missing, and the layer that set the other:
// half of it ran the listener in plain text.
func (v *validator) tlsPair(key string, t TLS) {
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		v.bad(key+".key_file", "required with %s.cert_file (%s)%s: set both or neither", key, t.CertFile, v.c.layerNote(key+".cert_file"))
	case t.CertFile == "" && t.KeyFile != "":
		v.bad(key+".cert_file", "required with %s.key_file (%s)%s: set both or neither", key, t.KeyFile, v.c.layerNote(key+".key_file"))
	}
}

func (v *validator) positive(key string, n int64) {
	if n <= 0 {
		v.bad(key, "%d must be positive", n)
	}
}

func (v *validator) nonNegative(key string, n int64) {
	if n < 0 {
		v.bad(key, "%d must not be negative", n)
	}
}

func (v *validator) oneOf(key, s string, options ...string) {
	for _, o := range options {
		if s == o {
			return
		}
	}
	v.bad(key, "%q is not one of %s", s, strings.Join(options, ", "))
}

// addr checks host:port with a numeric port and returns the host and
// port; ok is false (and the problem recorded) otherwise.
func (v *validator) addr(key, a string) (host string, port int, ok bool) {
	host, p, err := net.SplitHostPort(a)
	if err != nil {
		v.bad(key, "%q is not host:port", a)
		return "", 0, false
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > math.MaxUint16 {
		v.bad(key, "%q: port %q is not a number in 0…65535", a, p)
		return "", 0, false
	}
	return host, port, true
}

func (v *validator) secret(key, s string) {
	switch {
	case s == "":
		v.bad(key, "must be set")
	case s == masked:
		v.bad(key, "is the masked placeholder %q; set the real secret", masked)
	}
}

func (c *Config) validateNode(v *validator) {
	if c.Node.ID == 0 || c.Node.ID > maxID {
		v.bad("node.id", "%d is not in 1…%d", c.Node.ID, maxID)
	}
	if c.Node.DataDir == "" {
		v.bad("node.data_dir", "must be set")
	}
	v.nonNegative("node.send_budget_bytes", c.Node.SendBudgetBytes)
}

type listener struct {
	key, host string
	port      int
}

func (c *Config) validateListeners(v *validator) {
	var ls []listener
	add := func(key, a string) (host string, ok bool) {
		host, port, ok := v.addr(key, a)
		if ok {
			ls = append(ls, listener{key, listenHost(host), port})
		}
		return host, ok
	}

	g := c.Gateway
	add("gateway.listen", g.Listen)
	if g.MaxFrameBytes < 16 || g.MaxFrameBytes > math.MaxUint16 {
		v.bad("gateway.max_frame_bytes", "%d is not in 16…65535", g.MaxFrameBytes)
	} else if g.MaxFrameBytes < input.RawCapacity {
		// The gateway passes order-entry messages up to an input slot's
		// payload; a smaller bound closes the session of any client sending
		// one (a NewOrder is 100 bytes).
		v.bad("gateway.max_frame_bytes", "%d is below the largest order-entry message (%d bytes)", g.MaxFrameBytes, input.RawCapacity)
	}
	v.positive("gateway.max_connections", int64(g.MaxConnections))
	v.nonNegative("gateway.max_connections_per_address", int64(g.MaxConnectionsPerAddress))
	v.nonNegative("gateway.max_sessions_per_account", int64(g.MaxSessionsPerAccount))
	if g.HeartbeatInterval < minHeartbeat {
		// output.Outbox.Watch ticks every interval/2: 1ns panics
		// (NewTicker(0)) at the first logon; a few ns spin a core per session.
		v.bad("gateway.heartbeat_interval", "%v must be positive and at least %v", g.HeartbeatInterval, minHeartbeat)
	}
	if g.ReadTimeout <= g.HeartbeatInterval {
		v.bad("gateway.read_timeout", "%v must exceed gateway.heartbeat_interval (%v)", g.ReadTimeout, g.HeartbeatInterval)
	}
	v.nonNegative("gateway.rate_limit", int64(g.RateLimit))
	v.nonNegative("gateway.disconnect_rate", int64(g.DisconnectRate))
	v.nonNegative("gateway.status_rate", int64(g.StatusRate))
	v.nonNegative("gateway.logon_rate", int64(g.LogonRate))
	v.nonNegative("gateway.resend_window", g.ResendWindow)
	v.nonNegative("gateway.resend_stall", int64(g.ResendStall))
	if n := g.RecentReports; n < 0 || n&(n-1) != 0 {
		v.bad("gateway.recent_reports", "%d is not 0 or a power of two", n)
	} else if n > maxRecentReports {
		v.bad("gateway.recent_reports", "%d is above the limit %d (144 bytes each)", n, maxRecentReports)
	}
	v.nonNegative("gateway.failed_logons_per_minute", int64(g.FailedLogonsPerMinute))
	v.nonNegative("gateway.failed_logons_per_account_per_minute", int64(g.FailedLogonsPerAccountPerMinute))
	if g.RateLimit > 0 && g.DisconnectRate > 0 && g.DisconnectRate <= g.RateLimit {
		v.bad("gateway.disconnect_rate", "%d must exceed gateway.rate_limit (%d)", g.DisconnectRate, g.RateLimit)
	}
	if g.SendBufferBytes < g.MaxFrameBytes {
		v.bad("gateway.send_buffer_bytes", "%d is smaller than gateway.max_frame_bytes (%d)", g.SendBufferBytes, g.MaxFrameBytes)
	} else if min := 64 * proto.ReportFrameBytes(); g.SendBufferBytes < min {
		// What the node sends into it: a session is cut at its first
		// batch of reports that does not fit.
		v.bad("gateway.send_buffer_bytes", "%d holds fewer than 64 execution reports (%d bytes)", g.SendBufferBytes, min)
	}
	v.tlsPair("gateway.tls", g.TLS)

	m := c.MarketData
	add("marketdata.listen", m.Listen)
	v.positive("marketdata.max_connections", int64(m.MaxConnections))
	v.nonNegative("marketdata.max_connections_per_address", int64(m.MaxConnectionsPerAddress))
	v.nonNegative("marketdata.max_connections_per_account", int64(m.MaxConnectionsPerAccount))
	if m.MaxConnectionsPerAccount > 0 && !m.RequireLogon {
		// Without it a Logon is optional, and nothing would be counted:
		// an operator would believe in a bound that is not there.
		v.bad("marketdata.max_connections_per_account", "%d is counted only with marketdata.require_logon: set it too, or set this to 0", m.MaxConnectionsPerAccount)
	}
	v.nonNegative("marketdata.message_rate", int64(m.MessageRate))
	v.positive("marketdata.send_buffer_bytes", int64(m.SendBufferBytes))
	v.tlsPair("marketdata.tls", m.TLS)

	if c.Admin.Listen != "" {
		if host, ok := add("admin.listen", c.Admin.Listen); ok && !IsLoopback(host) {
			switch t := c.Admin.Token; {
			case t == "":
				v.bad("admin.token", "required when admin.listen (%q) is not a loopback address", c.Admin.Listen)
			case len(t) < MinSecretBytes && t != masked:
				// Nothing slows guesses at the token (a wrong one costs
				// one request), and it alone guards halts, suspensions
				// and replacing members from the network.
				v.bad("admin.token", "%d bytes%s: a token guarding an admin port off loopback (admin.listen %q) needs %d bytes or more, "+
					"as nothing slows guesses at it (openssl rand -hex 16)", len(t), c.Admin.tokenNote(), c.Admin.Listen, MinSecretBytes)
			}
		}
	}
	// A program that loads the config itself (config.Load, node.New)
	// must read the file first.
	v.checkTokenFile(&c.Admin)
	v.tlsPair("admin.tls", c.Admin.TLS)
	if why := TokenUnsendable(c.Admin.Token); why != "" {
		v.bad("admin.token", "%s%s", why, c.Admin.tokenNote()) // not the value: it is a secret
	}
	if c.Admin.Token == masked {
		v.bad("admin.token", "is the masked placeholder %q%s; set the real token", masked, c.Admin.tokenNote())
	}

	if c.Cluster.Enabled() {
		add("cluster.raft_listen", c.Cluster.RaftListen)
	}

	// Two listeners on one port collide unless both name different
	// specific hosts.
	for i := range ls {
		for j := i + 1; j < len(ls); j++ {
			a, b := ls[i], ls[j]
			if a.port != 0 && a.port == b.port && (a.host == b.host || isWildcard(a.host) || isWildcard(b.host)) {
				v.bad(b.key, "port %d is also used by %s", b.port, a.key)
			}
		}
	}
}

// TokenUnsendable says why token is refused as an admin token — leading
// or trailing white space, which a server trims from the header's value,
// or a control character (a newline), which no client sends — or "" when
// it is taken. Never the token. It is stricter than HTTP: a tab inside
// the token, a C1 control character or a non-ASCII space at its ends
// could be sent and would match, but each is far likelier a file's or a
// paste's accident than a chosen token, and the refusal names where the
// token came from.
func TokenUnsendable(token string) string {
	if token != strings.TrimSpace(token) || strings.ContainsFunc(token, unicode.IsControl) {
		return "has leading or trailing white space or a control character (a newline?): no client can send it in an Authorization header"
	}
	return ""
}

// IsLoopback reports whether host (a name or an IP, without port) is
// this machine's loopback: "localhost" or a loopback IP.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// listenHost is the address a listener on host binds, for comparing
// listeners: "localhost" binds 127.0.0.1 (net.Listen takes a name's IPv4
// address), and an IP in any spelling ("::ffff:127.0.0.1",
// "0:0:0:0:0:0:0:1") its one form.
func listenHost(host string) string {
	if host == "localhost" {
		return "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.String()
	}
	return host
}

// socketOf is host:port in one spelling for the hosts listenHost knows
// (localhost, an IP in any form); a name other than localhost as given.
func socketOf(host string, port int) string {
	return net.JoinHostPort(listenHost(host), strconv.Itoa(port))
}

func isWildcard(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

func (c *Config) validateRings(v *validator) {
	pow2 := func(key string, n int) {
		switch {
		case n <= 0:
			v.bad(key, "%d must be positive", n)
		case n&(n-1) != 0:
			v.bad(key, "%d is not a power of two", n)
		case n > maxSlots:
			v.bad(key, "%d is above the limit %d", n, maxSlots)
		}
	}
	pow2("rings.input_slots", c.Rings.InputSlots)
	pow2("rings.output_slots", c.Rings.OutputSlots)
	v.oneOf("rings.wait", c.Rings.Wait, WaitAdaptive, WaitYielding, WaitBusySpin)
	if n := c.Engine.MaxOrders; n < 1024 || n > maxEngineOrders {
		v.bad("engine.max_orders", "%d is outside 1024..%d", n, maxEngineOrders)
	}
	v.nonNegative("engine.max_open_orders", c.Engine.MaxOpenOrders)
	v.nonNegative("engine.halt_clear_chunk", int64(c.Engine.HaltClearChunk))
}

func (c *Config) validateStorage(v *validator) {
	j := c.Journal
	if j.SegmentBytes < 1<<20 {
		v.bad("journal.segment_bytes", "%d is below 1 MiB (1048576)", j.SegmentBytes)
	} else if j.SegmentBytes > maxSegmentBytes {
		// Open reads the last segment whole and replay two at a time.
		v.bad("journal.segment_bytes", "%d is above the limit %d", j.SegmentBytes, int64(maxSegmentBytes))
	}
	v.oneOf("journal.sync", j.Sync, SyncBatch, SyncNone)
	v.positive("journal.max_batch", int64(j.MaxBatch))

	s := c.Snapshot
	if _, _, err := parseSchedule(s.Schedule); err != nil {
		v.bad("snapshot.schedule", "%v", err)
	}
	if s.Keep < 1 {
		v.bad("snapshot.keep", "%d must be at least 1", s.Keep)
	}
	v.nonNegative("snapshot.every_inputs", s.EveryInputs)
	v.oneOf("snapshot.journal_retention", s.JournalRetention, RetentionDelete, RetentionArchive, RetentionKeep)
	if s.JournalRetention == RetentionArchive && filepath.Clean(c.ArchiveDir()) == filepath.Clean(c.JournalDir()) {
		// Each segment "archived" onto itself: nothing retired, and the
		// journal-size gauge counting down while the journal grows.
		v.bad("snapshot.archive_dir", "is the journal's directory (%s): archived segments must go elsewhere", c.JournalDir())
	}
}

func (c *Config) validateLog(v *validator) {
	v.oneOf("log.level", c.Log.Level, "trace", "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "json", "console")
}

// The bounds of cluster.election_timeout: below 50 ms a heartbeat (every
// tenth of it) is a few milliseconds, and a scheduling hiccup calls an
// election; above 10 s a dead leader halts trading for that long.
const (
	minElectionTimeout = 50 * time.Millisecond
	maxElectionTimeout = 10 * time.Second
)

// minDiskStallTimeout is cluster.disk_stall_timeout's least value but 0:
// a busy healthy disk's fsync can take a few hundred milliseconds, and a
// member stopped for that is a needless failover.
const minDiskStallTimeout = time.Second

func (c *Config) validateCluster(v *validator) {
	cl := c.Cluster
	if len(cl.ID) > maxClusterIDLen || strings.ContainsFunc(cl.ID, func(r rune) bool { return !clusterIDRune(r) }) {
		v.bad("cluster.id", "%q: at most %d letters, digits, '.', '_' and '-' (it is written into every journal segment's header)", cl.ID, maxClusterIDLen)
	}
	if !cl.Enabled() {
		if cl.RaftListen != "" {
			v.bad("cluster.raft_listen", "%q is set but cluster.peers is empty: the node would run alone, unreplicated", cl.RaftListen)
		}
		return
	}
	v.positive("cluster.trailing_entries", cl.TrailingEntries)
	if cl.ElectionTimeout < minElectionTimeout || cl.ElectionTimeout > maxElectionTimeout {
		v.bad("cluster.election_timeout", "%v must be from %v to %v", cl.ElectionTimeout, minElectionTimeout, maxElectionTimeout)
	}
	if cl.DiskStallTimeout != 0 && cl.DiskStallTimeout < minDiskStallTimeout {
		v.bad("cluster.disk_stall_timeout", "%v must be 0 (never) or at least %v", cl.DiskStallTimeout, minDiskStallTimeout)
	}
	v.nonNegative("cluster.restarts_in_place", int64(cl.RestartsInPlace))
	if t := cl.TLS; (t.CertFile == "") != (t.KeyFile == "") || (t.CertFile == "") != (t.CAFile == "") {
		v.bad("cluster.tls", "cert_file, key_file and ca_file must be set together")
	} else if t.CertFile == "" && !cl.AllowPlaintext {
		if host, _, err := net.SplitHostPort(cl.RaftListen); err == nil && !IsLoopback(host) {
			v.bad("cluster.tls", "required when cluster.raft_listen (%q) is not a loopback address: the plain transport lets anyone who reaches it append inputs (set cluster.allow_plaintext: true only on a private network you trust)", cl.RaftListen)
		}
	}
	ids := map[uint32]bool{}
	self := false
	for i, p := range cl.Peers {
		key := fmt.Sprintf("cluster.peers[%d]", i)
		if p.ID == 0 || p.ID > maxID {
			v.bad(key, "id %d is not in 1…%d", p.ID, maxID)
		} else if ids[p.ID] {
			v.bad(key, "id %d appears twice", p.ID)
		}
		ids[p.ID] = true
		self = self || p.ID == c.Node.ID
		// Other members dial .raft and clients are redirected to
		// .gateway: a wildcard host names no machine.
		if host, port, ok := v.addr(key+".raft", p.Raft); ok && (DialableHost(host) != nil || port == 0) {
			v.bad(key+".raft", "%q is no address other members can dial%s: name the member's host and port", p.Raft, undialable(host))
		}
		if host, port, ok := v.addr(key+".gateway", p.Gateway); ok && (DialableHost(host) != nil || port == 0) {
			v.bad(key+".gateway", "%q is no address a redirected client can dial%s: name the member's host and port", p.Gateway, undialable(host))
		}
	}
	// Two raft addresses at one socket: raft refuses the bootstrap
	// ("found duplicate address") only after recovery, naming no key.
	// The rule is a replace's too (the admin port).
	for _, c := range PeerAddressClashes(cl.Peers) {
		v.bad(fmt.Sprintf("cluster.peers[%d].%s", c.I, c.Field), "%s", c.Reason(cl.Peers, func(j int) string { return fmt.Sprintf("cluster.peers[%d]", j) }))
	}
	if !self {
		v.bad("cluster.peers", "node.id %d is not among the peers", c.Node.ID)
	}
}

func (c *Config) validateInstruments(v *validator) {
	if len(c.Instruments) == 0 {
		v.bad("instruments", "at least one instrument is needed")
	}
	ids, syms := map[uint32]int{}, map[string]int{}
	for i, in := range c.Instruments {
		key := fmt.Sprintf("instruments[%d]", i)
		if in.ID == 0 || in.ID > maxID {
			v.bad(key+".id", "%d is not in 1…%d", in.ID, maxID)
		} else if j, dup := ids[in.ID]; dup {
			v.bad(key+".id", "%d is also the id of instruments[%d]", in.ID, j)
		} else {
			ids[in.ID] = i
		}
		if why := symbolFault(in.Symbol); why != "" {
			v.bad(key+".symbol", "%+q %s", in.Symbol, why) // %+q: a rune past ASCII escaped, not shown as its look-alike
		} else if j, dup := syms[strings.ToUpper(in.Symbol)]; dup {
			// Operators and clients name instruments in any case (ringex
			// halt, ringex client --instrument): symbols equal but for
			// case would resolve to the wrong one.
			v.bad(key+".symbol", "%q is also the symbol of instruments[%d] (symbols are matched in any case)", in.Symbol, j)
		} else {
			syms[strings.ToUpper(in.Symbol)] = i
		}
		v.positive(key+".tick_size", in.TickSize)
		v.positive(key+".lot_size", in.LotSize)
		// The engine refuses (ReasonOverflow) any price or quantity above
		// engine.MaxPrice / engine.MaxQuantity.
		if in.TickSize > engine.MaxPrice {
			v.bad(key+".tick_size", "%d is above the engine's largest price %d", in.TickSize, int64(engine.MaxPrice))
		}
		if in.LotSize > engine.MaxQuantity {
			v.bad(key+".lot_size", "%d is above the engine's largest quantity %d", in.LotSize, int64(engine.MaxQuantity))
		}
		if in.ReferencePrice > engine.MaxPrice {
			v.bad(key+".reference_price", "%d is above the engine's largest price %d", in.ReferencePrice, int64(engine.MaxPrice))
		}
		v.nonNegative(key+".price_band_ticks", in.PriceBandTicks)
		if in.TickSize > 0 && in.PriceBandTicks > math.MaxInt64/in.TickSize {
			v.bad(key+".price_band_ticks", "%d ticks of %d overflow int64", in.PriceBandTicks, in.TickSize)
		}
		v.nonNegative(key+".reference_price", in.ReferencePrice)
		if in.TickSize > 0 && in.ReferencePrice%in.TickSize != 0 {
			v.bad(key+".reference_price", "%d is not a multiple of tick_size %d", in.ReferencePrice, in.TickSize)
		}
		if in.PriceDecimals < 0 || in.PriceDecimals > 18 {
			v.bad(key+".price_decimals", "%d is not in 0…18", in.PriceDecimals)
		}
		if in.QtyDecimals < 0 || in.QtyDecimals > 18 {
			v.bad(key+".qty_decimals", "%d is not in 0…18", in.QtyDecimals)
		}
	}
	// An instrument is named by symbol or by id, the symbol first
	// (the admin port's halt and resume): a symbol that is another
	// instrument's id in decimal made that id name this one — halt
	// 7203 halted the instrument whose symbol is "7203", not
	// instrument 7203.
	for i, in := range c.Instruments {
		if id, err := strconv.ParseUint(in.Symbol, 10, 32); err == nil && uint32(id) != in.ID {
			if j, ok := ids[uint32(id)]; ok {
				v.bad(fmt.Sprintf("instruments[%d].symbol", i), "%q is the id of instruments[%d]: one would name the other", in.Symbol, j)
			}
		}
	}
	// Either port queues the answer to a ListInstruments whole on the
	// connection that asked (InstrumentList): one larger than the
	// connection's send buffer would cut every client that asks, as a
	// slow consumer, however fast it reads.
	if len(c.Instruments) > 0 {
		n := len(c.InstrumentList())
		for _, b := range []struct {
			key   string
			bytes int
		}{{"gateway.send_buffer_bytes", c.Gateway.SendBufferBytes}, {"marketdata.send_buffer_bytes", c.MarketData.SendBufferBytes}} {
			if b.bytes < n && !v.named(b.key) { // not if found below its own bound already: one error a key
				v.bad(b.key, "%d is smaller than the answer to ListInstruments, the %d instruments' %d bytes: a client asking for them would be cut as a slow consumer", b.bytes, len(c.Instruments), n)
			}
		}
	}
}

func (c *Config) validateAccounts(v *validator) {
	if len(c.Accounts) == 0 {
		v.bad("accounts", "at least one account is needed")
	}
	ids := map[uint32]int{}
	for i, a := range c.Accounts {
		key := fmt.Sprintf("accounts[%d]", i)
		if a.ID == 0 || a.ID > maxID {
			v.bad(key+".id", "%d is not in 1…%d", a.ID, maxID)
		} else if j, dup := ids[a.ID]; dup {
			v.bad(key+".id", "%d is also the id of accounts[%d]", a.ID, j)
		} else {
			ids[a.ID] = i
		}
		v.secret(key+".secret", a.Secret)
		// The largest Logon of the account: a drop copy's, resuming a session.
		if need := len(proto.NewEncoder().ResumeLogon(math.MaxUint64, a.ID, a.Secret, true, math.MaxUint64)) - proto.PrefixSize; c.Gateway.MaxFrameBytes >= input.RawCapacity && need > c.Gateway.MaxFrameBytes {
			v.bad(key+".secret", "%d bytes: its Logon (%d bytes) is over gateway.max_frame_bytes (%d), so it can never log on",
				len(a.Secret), need, c.Gateway.MaxFrameBytes)
		}
		v.nonNegative(key+".max_order_qty", a.MaxOrderQty)
		v.nonNegative(key+".max_notional", a.MaxNotional)
		v.nonNegative(key+".max_open_orders", a.MaxOpenOrders)
		if bound := c.Engine.MaxOpenOrders; bound > 0 && a.MaxOpenOrders > bound {
			v.bad(key+".max_open_orders", "%d is above engine.max_open_orders (%d), which bounds what one mass cancel of an account's orders holds the engine for; "+
				"lower it, or raise engine.max_open_orders (0: no bound)", a.MaxOpenOrders, bound)
		}
		v.nonNegative(key+".rate_limit", int64(a.RateLimit))
		v.nonNegative(key+".disconnect_rate", int64(a.DisconnectRate))
		rate, disc := a.RateLimit, a.DisconnectRate
		if rate == 0 {
			rate = c.Gateway.RateLimit
		}
		if disc == 0 {
			disc = c.Gateway.DisconnectRate
		}
		if (a.RateLimit > 0 || a.DisconnectRate > 0) && rate > 0 && disc > 0 && disc <= rate {
			v.bad(key+".disconnect_rate", "effective disconnect rate %d must exceed the effective rate limit %d", disc, rate)
		}
	}
}

// symbolFault says what is wrong with an instrument's symbol, "" if
// nothing: it is 1…maxSymbolBytes bytes of printable ASCII other than the
// space ('!' to '~'), as venues' tickers are (BTC-USD, BRK.B, ESZ6). The
// symbol is typed in a shell (ringex client --instrument, ringex halt),
// matched in any case (ASCII's upper case: the CLI's, the admin port's
// strings.EqualFold), shown in the CLI's columns and in every metric's
// instrument label, and sent in each InstrumentInfo frame, which a
// client with a small frame limit must be able to read.
func symbolFault(s string) string {
	if s == "" {
		return "must be non-empty"
	}
	if len(s) > maxSymbolBytes {
		return fmt.Sprintf("is %d bytes, more than %d", len(s), maxSymbolBytes)
	}
	for i, r := range s {
		if r <= ' ' || r > '~' {
			return fmt.Sprintf("has %+q at byte %d: a symbol is printable ASCII without spaces", r, i)
		}
	}
	return ""
}

// clusterIDRune reports whether r may be in cluster.id.
func clusterIDRune(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-'
}
