package config

import (
	"maps"
	"path/filepath"
	"time"

	"github.com/ringex/ringex/proto"
)

// Config is the whole configuration of one ringex node. Every field has a
// YAML key (the struct tag); nested sections join with dots to form the
// key names used by Set, by environment variables and by error messages,
// e.g. gateway.listen.
//
// A Config is plain data: build it with Default or Load, adjust it with
// Set, check it with Validate. It is not safe for concurrent mutation.
type Config struct {
	Node        Node         `yaml:"node"`
	Gateway     Gateway      `yaml:"gateway"`
	MarketData  MarketData   `yaml:"marketdata"`
	Admin       Admin        `yaml:"admin"`
	Rings       Rings        `yaml:"rings"`
	Engine      Engine       `yaml:"engine"`
	Journal     Journal      `yaml:"journal"`
	Snapshot    Snapshot     `yaml:"snapshot"`
	Log         Log          `yaml:"log"`
	Cluster     Cluster      `yaml:"cluster"`
	Instruments []Instrument `yaml:"instruments"`
	Accounts    []Account    `yaml:"accounts"`

	// layers is the layer that set each key last, and the value it set,
	// for Validate's messages (layerNote). No setting: unexported, no
	// key, no YAML.
	layers map[string]keyLayer
}

// Node identifies the node and where it keeps its files.
type Node struct {
	// ID is this node's id; in a cluster it must be one of cluster.peers.
	ID uint32 `yaml:"id"`
	// DataDir holds the journal, snapshots and archive unless their own
	// dir keys say otherwise. Relative paths are relative to the working
	// directory.
	DataDir string `yaml:"data_dir"`
	// SendBudgetBytes bounds the bytes queued unsent for all sessions and
	// market-data subscribers together (each also has its own
	// send_buffer_bytes). Over it, the connections holding the most
	// unsent (over 1 MiB, and more than the one being sent to) are
	// disconnected as slow consumers to make room; those holding less
	// lose nothing (output.Budget). 0: no node-wide bound.
	SendBudgetBytes int64 `yaml:"send_budget_bytes"`
}

// Gateway is the TCP order-entry listener and its per-session limits.
type Gateway struct {
	Listen string `yaml:"listen"`
	// MaxFrameBytes is the largest frame (payload, without the 4-byte
	// size prefix) a client may send; a larger one closes the session.
	MaxFrameBytes int `yaml:"max_frame_bytes"`
	// MaxConnections bounds concurrent sessions; a further connection is
	// answered LogonReject{TooManyConnections} and closed.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerAddress bounds the connections of one remote
	// address (an IPv6 address's /64), logged on or not; 0: no bound.
	MaxConnectionsPerAddress int `yaml:"max_connections_per_address"`
	// MaxSessionsPerAccount bounds the sessions (trading and drop copy)
	// one account has logged on at once (a further logon is answered
	// LogonReject{TooManySessions}); 0: no bound.
	MaxSessionsPerAccount int `yaml:"max_sessions_per_account"`
	// HeartbeatInterval is how often an idle session is sent a heartbeat.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// ReadTimeout closes a session that sends nothing for this long; it
	// must exceed HeartbeatInterval. A session or market-data subscriber
	// that reads none of what is written to it for this long is closed
	// as a slow consumer.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// RateLimit is messages per second per session; messages above it
	// are rejected. 0: no limit. An account may override it.
	RateLimit int `yaml:"rate_limit"`
	// DisconnectRate is messages per second per session; a session
	// sending above it is disconnected. 0: never. Must exceed RateLimit.
	DisconnectRate int `yaml:"disconnect_rate"`
	// StatusRate is OrderStatus, ResendReports and ListInstruments
	// requests per second per account, over all its sessions; those above
	// it are rejected (rate-limited). 0: no limit.
	StatusRate int `yaml:"status_rate"`
	// LogonRate is successful logons per second per account, over all
	// its sessions; a logon above it is refused (TooManyLogons). 0: no
	// limit.
	LogonRate int `yaml:"logon_rate"`
	// ResendWindow bounds a ResendReports: how many inputs before the
	// request its replay may start (from a snapshot at most this far
	// back; reports before that are not resent). 0: nothing is resent.
	ResendWindow int64 `yaml:"resend_window"`
	// ResendStall bounds how long one answer to a ResendReports may wait
	// for its client to read, in all, once another request has been
	// answered busy since it began: then it ends at the end of the input
	// whose reports it is sending (ResendDone reason cut) and the client
	// asks again from there. 0: it waits as long as the client reads.
	ResendStall time.Duration `yaml:"resend_stall"`
	// RecentReports is how many of its last events with execution reports
	// the node keeps in memory (144 bytes each; a cluster member while it
	// follows too), to answer a ResendReports they cover without
	// replaying the journal. 0: none; otherwise a power of two.
	RecentReports int `yaml:"recent_reports"`
	// FailedLogonsPerMinute is how many failed logons one remote address
	// may make a minute before its logons are refused. 0: no limit.
	FailedLogonsPerMinute int `yaml:"failed_logons_per_minute"`
	// FailedLogonsPerAccountPerMinute is how many failed logons naming
	// one account may be made a minute, from every address together,
	// before its logons are refused — except from the addresses that
	// logged on to it with its secret before, each within a failed-logon
	// allowance of its own (FailedLogonsPerMinute, or this when that is
	// 0). 0: no limit.
	FailedLogonsPerAccountPerMinute int `yaml:"failed_logons_per_account_per_minute"`
	// SendBufferBytes bounds the reports queued for one session; a
	// client that lets it overflow is disconnected.
	SendBufferBytes int `yaml:"send_buffer_bytes"`
	TLS             TLS `yaml:"tls"`
}

// TLS enables TLS on a listener when both files are set.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether TLS is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" && t.KeyFile != "" }

// MarketData is the market-data listener.
type MarketData struct {
	Listen string `yaml:"listen"`
	// MaxConnections bounds concurrent connections; above it the oldest
	// connection that has not logged on (RequireLogon) or subscribed
	// makes room for a new one.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerAddress bounds the subscribers of one remote
	// address (an IPv6 address's /64); 0: no bound.
	MaxConnectionsPerAddress int `yaml:"max_connections_per_address"`
	// RequireLogon: a connection must log on (Logon, an account and its
	// secret, checked as order entry checks them) before it subscribes.
	RequireLogon bool `yaml:"require_logon"`
	// MaxConnectionsPerAccount bounds the connections logged on to one
	// account, with RequireLogon (set without it, Validate refuses it:
	// nothing would be counted); 0: no bound.
	MaxConnectionsPerAccount int `yaml:"max_connections_per_account"`
	// MessageRate is messages (Subscribe, Unsubscribe, ListInstruments) per second per
	// connection, after a first burst of one per listed instrument (or a
	// second's, when more); a connection sending faster is disconnected.
	// 0: no limit.
	MessageRate int `yaml:"message_rate"`
	// SendBufferBytes bounds the data queued for one subscriber; a
	// subscriber that lets it overflow is disconnected.
	SendBufferBytes int `yaml:"send_buffer_bytes"`
	// TLS serves the port over TLS when both files are set: with
	// RequireLogon, each Logon carries an account's secret.
	TLS TLS `yaml:"tls"`
}

// Admin is the HTTP admin listener: health, readiness, /metrics, snapshot
// trigger, halt/resume, port and stream states.
type Admin struct {
	// Listen is the admin address; "" disables the admin endpoint.
	Listen string `yaml:"listen"`
	// Token is the bearer token the admin endpoint requires. Required,
	// of MinSecretBytes or more, when Listen is not a loopback address.
	// On loopback a shorter one is taken, and the node warns of it as it
	// opens the port: every local user, and a web page that rebound its
	// domain to 127.0.0.1, may guess it (node's shortToken).
	// A secret (tagged secret: see secretKeys).
	Token string `yaml:"token" secret:"true"`
	// TokenFile names a file holding the token (its one line), read by
	// ReadTokenFile: a container's or a credential manager's secret file,
	// so that the token is in neither the config nor the environment
	// (which `docker inspect` and /proc/<pid>/environ show). Token may be
	// set too only to the same token (AgreedToken).
	TokenFile string `yaml:"token_file"`
	// TLS serves the admin endpoint over HTTPS when both files are set:
	// off loopback, the token then does not cross the network in clear.
	TLS TLS `yaml:"tls"`

	// tokenFrom names the layer that set Token last — the config file's
	// path (Load), the variable RINGEX_ADMIN_TOKEN, --set (Set), or
	// admin.token_file and its path (ReadTokenFile) — for the messages
	// about the token (tokenNote); "" when none did (the default). Never
	// the token. tokenSet is the token that layer set: tokenFrom names
	// the layer of Token only while Token is tokenSet, so a program that
	// assigns Token itself after a layer set it gets messages naming no
	// layer, not the stale one (setTokenFrom).
	tokenFrom, tokenSet string
	// tokenFileRead is the file ReadTokenFile took the token from, for
	// TokenFileWarning. Neither is a setting: no key, no YAML (unexported).
	tokenFileRead tokenFileRead
}

// Wait strategies of the rings' consumers.
const (
	WaitAdaptive = "adaptive" // yield a few times, then park (default)
	WaitYielding = "yielding" // yield between looks; never parks
	WaitBusySpin = "busyspin" // spin only: one dedicated core per consumer
)

// Rings sizes the disruptor rings.
type Rings struct {
	// InputSlots is the input ring's size; a power of two.
	InputSlots int `yaml:"input_slots"`
	// OutputSlots is each output ring's size; a power of two.
	OutputSlots int `yaml:"output_slots"`
	// Wait is the consumers' wait strategy: adaptive, yielding or
	// busyspin.
	Wait string `yaml:"wait"`
	// Prefault maps every page of the rings at startup, before the ports
	// open, so trading never pays a page fault for a ring page it reaches
	// for the first time.
	Prefault bool `yaml:"prefault"`
}

// Engine sizes the matching engine's memory.
type Engine struct {
	// MaxOrders is how many orders the engine's pools hold (resting ones,
	// and free slots between them) before they grow. A pool grows on the
	// engine goroutine and trading waits while it is copied; with
	// rings.prefault the pools' memory is mapped at startup.
	MaxOrders int `yaml:"max_orders"`
	// MaxOpenOrders bounds every account's resting orders: an account's
	// max_open_orders may not exceed it, and an account without one (0)
	// is held to it (EffectiveMaxOpenOrders). It bounds the work of one
	// command on the engine goroutine — a mass cancel, the kill switch,
	// cancel-on-disconnect — which every other session's orders wait
	// behind. 0: no bound.
	MaxOpenOrders int64 `yaml:"max_open_orders"`
	// HaltClearChunk bounds the cancels a halt with cancel_orders emits
	// per input (engine.Config.HaltClearChunk): the halt's input cancels
	// the book's orders and reports up to this many, every input after it
	// as many more, and a node with nothing else to apply sends itself an
	// empty input for the rest. It decides which input reports which
	// cancel, so it is one of the rules (a journal written under one value
	// is not replayed under another). 0: the halt's input reports the
	// whole book, every other instrument waiting behind it.
	HaltClearChunk int `yaml:"halt_clear_chunk"`
}

// EffectiveMaxOpenOrders is the limit the engine holds account a to: its
// own max_open_orders, else engine.max_open_orders (0: none).
func (c *Config) EffectiveMaxOpenOrders(a Account) int64 {
	if a.MaxOpenOrders > 0 {
		return a.MaxOpenOrders
	}
	return c.Engine.MaxOpenOrders
}

// maxEngineOrders bounds engine.max_orders: pool indices are int32, and
// the id maps take twice as many slots.
const maxEngineOrders = 1 << 28

// Journal sync modes.
const (
	SyncBatch = "batch" // fsync once per batch before anything is visible
	SyncNone  = "none"  // never fsync: tests and benchmarks only
)

// Journal is the write-ahead journal of inputs.
type Journal struct {
	// Dir holds the segment files; "" means <node.data_dir>/journal.
	Dir          string `yaml:"dir"`
	SegmentBytes int64  `yaml:"segment_bytes"`
	// Sync is batch or none.
	Sync string `yaml:"sync"`
	// MaxBatch bounds how many input records share one write and fsync.
	MaxBatch int `yaml:"max_batch"`
	// PrepareSegments writes each next segment ahead in the background
	// (sync batch only): fsyncs then write data only, not extent
	// metadata.
	PrepareSegments bool `yaml:"prepare_segments"`
}

// Journal retention after a snapshot covers a segment.
const (
	RetentionDelete  = "delete"
	RetentionArchive = "archive"
	RetentionKeep    = "keep"
)

// Snapshot schedules and keeps engine snapshots.
type Snapshot struct {
	// Dir holds snapshot files; "" means <node.data_dir>/snapshots.
	Dir string `yaml:"dir"`
	// Schedule is the time of day, "HH:MM" in UTC, of the daily
	// snapshot; "" disables scheduled snapshots (the admin endpoint can
	// still trigger one).
	Schedule string `yaml:"schedule"`
	// EveryInputs also takes a snapshot after this many inputs since the
	// last one taken (0: only the schedule and the admin endpoint), so the
	// journal and a cluster's raft log stay bounded under heavy load.
	// After a snapshot whose write failed it asks again sooner: at the
	// first input after a back-off of 1 s, doubled at each failure in a
	// row up to a minute.
	EveryInputs int64 `yaml:"every_inputs"`
	// Keep is how many snapshots to keep (at least 1).
	Keep int `yaml:"keep"`
	// JournalRetention says what happens to journal segments wholly
	// covered by the oldest kept snapshot: delete, archive or keep.
	JournalRetention string `yaml:"journal_retention"`
	// ArchiveDir receives archived segments; "" means
	// <node.data_dir>/archive.
	ArchiveDir string `yaml:"archive_dir"`
	// OnStop writes a snapshot at the journal's end when the node stops
	// cleanly, so its next start replays no input: one restarted with
	// other instruments, accounts or limits then decides nothing a second
	// time under the new ones.
	OnStop bool `yaml:"on_stop"`
}

// Log configures the node's logger.
type Log struct {
	// Level is trace, debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is json or console.
	Format string `yaml:"format"`
}

// Cluster configures replication. With no peers the node runs alone.
type Cluster struct {
	// ID names the cluster in every journal segment its members write,
	// so that a segment copied in from another cluster's journal (or a
	// standalone node's) is refused at the start (journal.Options.ID).
	// The same on every member: a member's journal holds the same inputs
	// as another's, and the one a member installs from the leader's
	// state carries the id of the leader's journal (whatever this says).
	// Empty: "cluster" on a member, and on a
	// standalone node a name its journal makes up ("standalone-…"). A
	// journal keeps the id it has (JournalID).
	ID string `yaml:"id"`
	// RaftListen is this node's consensus address; required with peers.
	RaftListen string `yaml:"raft_listen"`
	// Peers lists every member including this node (node.id).
	Peers []Peer `yaml:"peers"`
	// TLS runs the consensus transport over mutual TLS: this member's
	// certificate and key, and the CA that signed every member's
	// certificate. Without it the transport is plain TCP: anyone who
	// reaches it can pose as a member and append inputs. Required when
	// RaftListen is not a loopback address, unless AllowPlaintext.
	TLS ClusterTLS `yaml:"tls"`
	// AllowPlaintext lets RaftListen be a non-loopback address without
	// TLS: for a private network the operator vouches for (the compose
	// file's). Off by default.
	AllowPlaintext bool `yaml:"allow_plaintext"`
	// Bootstrap forms the cluster of Peers on a member's first start (no
	// raft state): for the first start of every member of a new cluster.
	// Without it a member with no raft state joins — it waits for the
	// leader's log and neither votes nor campaigns until it holds what
	// the leader committed — which is what a member whose data was lost
	// must do: bootstrapped again it could vote acknowledged inputs away.
	// With raft state it changes nothing.
	Bootstrap bool `yaml:"bootstrap"`
	// TrailingEntries is how many raft entries (each one input-ring
	// batch, at most 2048 inputs) a member keeps after compacting its log
	// behind a snapshot; a member further behind is sent the snapshot.
	TrailingEntries int64 `yaml:"trailing_entries"`
	// ElectionTimeout is how long a follower hears nothing from the
	// leader before it calls an election (raft's heartbeat and election
	// timeouts, and the leader's lease: a leader that cannot reach a
	// majority for this long steps down). The leader heartbeats every
	// tenth of it. Shorter fails over faster; longer rides out pauses —
	// a loaded machine, a slow network — without a needless election.
	// The same on every member: each times the others by its own — a
	// leader's heartbeats, a member far behind in applying that holds
	// back from leading until the third member's election timer has run
	// out (replicator's holdsBackLead) — and no member can learn
	// another's, which raft's messages do not carry; `ringex status`
	// compares them.
	ElectionTimeout time.Duration `yaml:"election_timeout"`
	// DiskStallTimeout stops a member one of whose disk writes or fsyncs
	// (raft log, raft term and vote, raft snapshot, journal, snapshot)
	// has not returned for this long: cut off from its peers first, so
	// that another member is elected, and the process exits without a
	// stop (which would wait on the disk).
	// Raft alone keeps a leader whose disk hung, and the cluster commits
	// nothing. A wait counts the time the process ran: a process frozen
	// longer (a paused VM) is not stopped when its disk answers after
	// it wakes. 0: never.
	DiskStallTimeout time.Duration `yaml:"disk_stall_timeout"`
	// RestartsInPlace is how many times in RestartWindow `ringex serve`
	// restarts itself in place — stops its node and executes itself again,
	// same process, same arguments — after a fatal error the next start
	// resolves (a leader deposed with inputs in flight, a raft snapshot
	// staged to load: node.RestartResolves). One more exits with status 1,
	// as any fatal error does, for the service manager to restart or
	// give up. 0: never; every such error exits.
	RestartsInPlace int `yaml:"restarts_in_place"`
}

// RestartWindow is the span cluster.restarts_in_place counts restarts in.
const RestartWindow = 10 * time.Minute

// ClusterTLS is the consensus transport's mutual TLS.
type ClusterTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	CAFile   string `yaml:"ca_file"`
}

// Enabled reports whether mutual TLS is configured.
func (t ClusterTLS) Enabled() bool { return t.CertFile != "" }

// Enabled reports whether the node is part of a cluster.
func (c Cluster) Enabled() bool { return len(c.Peers) > 0 }

// JournalID is the cluster id a new journal's segments carry
// (journal.Options.ID): cluster.id, else "cluster" for a member, else ""
// (a standalone node's journal makes up its own).
func (c Cluster) JournalID() string {
	switch {
	case c.ID != "":
		return c.ID
	case c.Enabled():
		return DefaultClusterID
	}
	return ""
}

// DefaultClusterID is the cluster id of a member whose cluster.id is
// empty. Two clusters left at it are not told apart by their journals.
const DefaultClusterID = "cluster"

// UsesDefaultID reports whether the node is a member of a cluster of
// more than one under DefaultClusterID (cluster.id empty, or set to it):
// the id of every other cluster left without one, so a data directory
// of another such cluster's member — its raft state (a joining member's
// is refused under another id), its journal — is not told from one of
// this cluster's (the node's start warns of it).
func (c Cluster) UsesDefaultID() bool { return len(c.Peers) > 1 && c.JournalID() == DefaultClusterID }

// maxClusterIDLen is the room for cluster.id in a journal segment's
// header (journal format version 2).
const maxClusterIDLen = 32

// DefaultRaftListen sets cluster.raft_listen, when unset, to this node's
// raft address in cluster.peers — by the effective node.id, wherever it
// was set (a file, RINGEX_NODE_ID, --node-id or its default): the
// commands call it once every layer is applied.
func (c *Config) DefaultRaftListen() {
	if c.Cluster.RaftListen != "" {
		return
	}
	for _, p := range c.Cluster.Peers {
		if p.ID == c.Node.ID {
			c.Cluster.RaftListen = p.Raft
		}
	}
}

// Instrument is one tradable product. Prices are int64 in price units and
// quantities int64 in quantity units; the decimals say how a client shows
// them (price units of 0.01 USD have price_decimals 2).
type Instrument struct {
	ID     uint32 `yaml:"id" json:"id"`
	Symbol string `yaml:"symbol" json:"symbol"`
	// TickSize: every limit price is a positive multiple of it.
	TickSize int64 `yaml:"tick_size" json:"tick_size"`
	// LotSize: every quantity is a positive multiple of it.
	LotSize int64 `yaml:"lot_size" json:"lot_size"`
	// PriceBandTicks is the furthest, in ticks, a limit price may be from
	// the reference price (and a market order may trade). 0: no band.
	PriceBandTicks int64 `yaml:"price_band_ticks" json:"price_band_ticks"`
	// ReferencePrice is the reference before the first trade, in price
	// units (a multiple of TickSize); 0: none.
	ReferencePrice int64 `yaml:"reference_price" json:"reference_price"`
	PriceDecimals  int   `yaml:"price_decimals" json:"price_decimals"`
	QtyDecimals    int   `yaml:"qty_decimals" json:"qty_decimals"`
}

// PriceBand is the band in price units (PriceBandTicks × TickSize), the
// unit the engine uses. Validate guarantees it does not overflow.
func (in Instrument) PriceBand() int64 { return in.PriceBandTicks * in.TickSize }

// InstrumentList is the answer to a ListInstruments on either port, as
// the node sends it (proto.InstrumentList): the node builds it once — its
// instruments change only with its config, at a restart — and queues it
// whole on the connection that asked, so Validate refuses a list larger
// than either port's send buffer.
func (c *Config) InstrumentList() []byte {
	list := make([]proto.InstrumentInfo, 0, len(c.Instruments))
	for _, in := range c.Instruments {
		list = append(list, proto.InstrumentInfo{ID: in.ID, Symbol: in.Symbol, TickSize: in.TickSize, LotSize: in.LotSize,
			PriceDecimals: uint8(in.PriceDecimals), QtyDecimals: uint8(in.QtyDecimals), // 0…18: Validate
			PriceBand: in.PriceBand(), ReferencePrice: in.ReferencePrice})
	}
	return proto.InstrumentList(list)
}

// Account is one trading account, its logon secret and its limits. Limits
// of 0 mean none; rates of 0 mean the gateway's.
type Account struct {
	ID   uint32 `yaml:"id"`
	Name string `yaml:"name"`
	// Secret is the logon secret; a secret (tagged: see secretKeys).
	Secret        string `yaml:"secret" secret:"true"`
	MaxOrderQty   int64  `yaml:"max_order_qty"`
	MaxNotional   int64  `yaml:"max_notional"` // price × quantity of one order
	MaxOpenOrders int64  `yaml:"max_open_orders"`
	// CancelOnDisconnect cancels the account's open orders when its last
	// session ends on a running node; a node's restart or a failover
	// leaves them (see gateway/doc.go).
	CancelOnDisconnect bool `yaml:"cancel_on_disconnect"`
	// RateLimit and DisconnectRate override the gateway's per-session
	// rates for this account's sessions; 0 uses the gateway's.
	RateLimit      int `yaml:"rate_limit"`
	DisconnectRate int `yaml:"disconnect_rate"`
}

// JournalDir is journal.dir, or <node.data_dir>/journal when it is empty.
func (c *Config) JournalDir() string { return c.under(c.Journal.Dir, "journal") }

// SnapshotDir is snapshot.dir, or <node.data_dir>/snapshots when empty.
func (c *Config) SnapshotDir() string { return c.under(c.Snapshot.Dir, "snapshots") }

// ArchiveDir is snapshot.archive_dir, or <node.data_dir>/archive when
// empty.
func (c *Config) ArchiveDir() string { return c.under(c.Snapshot.ArchiveDir, "archive") }

func (c *Config) under(dir, name string) string {
	if dir != "" {
		return filepath.Clean(dir) // "/fast/journal/" names the directory, not something in it
	}
	return filepath.Join(c.Node.DataDir, name)
}

// Clone returns a deep copy. Config's only references are these three
// lists, whose elements hold none, and its record of layers (TestConfigReferencesAreTheListsCloneCopies
// fails on a new one until it is copied here): Default hands out Clones of
// the parsed defaults.
func (c *Config) Clone() *Config {
	d := *c
	d.Instruments = append([]Instrument{}, c.Instruments...)
	d.Accounts = append([]Account{}, c.Accounts...)
	d.Cluster.Peers = append([]Peer{}, c.Cluster.Peers...)
	d.layers = maps.Clone(c.layers)
	return &d
}

// MinSecretBytes is the shortest account secret `ringex serve` starts
// without a warning: the gateway's failed-logon guard limits the guesses
// of each remote address (or IPv6 /64), not of each account, so many
// addresses together can guess a short secret; 16 random bytes they
// cannot. It is also the shortest admin.token Validate takes for an
// admin port off loopback, where nothing slows guesses.
const MinSecretBytes = 16

// ShortSecretAccounts lists the accounts whose secret is shorter than
// MinSecretBytes.
func (c *Config) ShortSecretAccounts() []uint32 {
	var ids []uint32
	for _, a := range c.Accounts {
		if len(a.Secret) < MinSecretBytes {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

// DemoSecretAccounts lists the accounts whose secret is the one the
// embedded demo config gives the account of that id: public, printed by
// `ringex serve` and in this repository. A config file that leaves out
// accounts keeps the demo ones (lists replace wholesale, or not at all).
func (c *Config) DemoSecretAccounts() []uint32 {
	demo := map[uint32]string{}
	for _, a := range Default().Accounts {
		demo[a.ID] = a.Secret
	}
	var ids []uint32
	for _, a := range c.Accounts {
		if s, ok := demo[a.ID]; ok && s == a.Secret {
			ids = append(ids, a.ID)
		}
	}
	return ids
}
