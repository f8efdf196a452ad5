package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/proto"
)

// keyErrors returns the keys named by the *KeyErrors in err.
func keyErrors(t *testing.T, err error) map[string]string {
	t.Helper()
	keys := map[string]string{}
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		var ke *KeyError
		if errors.As(e, &ke) && !isJoin(e) {
			keys[ke.Key] = ke.Error()
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		t.Errorf("error %q is not a *KeyError", e)
	}
	walk(err)
	return keys
}

func isJoin(err error) bool {
	_, ok := err.(interface{ Unwrap() []error })
	return ok
}

func TestValidateNamesTheKey(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *Config)
		key  string // the key the error must name
		why  string // and a word of the reason
	}{
		{"node id zero", set("node.id", "0"), "node.id", "not in"},
		{"no data dir", set("node.data_dir", ""), "node.data_dir", "must be set"},
		{"negative send budget", set("node.send_budget_bytes", "-1"), "node.send_budget_bytes", "negative"},
		{"gateway listen", set("gateway.listen", "7400"), "gateway.listen", "host:port"},
		{"gateway port", set("gateway.listen", ":http"), "gateway.listen", "port"},
		{"gateway port range", set("gateway.listen", ":70000"), "gateway.listen", "0…65535"},
		{"frame too small", set("gateway.max_frame_bytes", "8"), "gateway.max_frame_bytes", "not in"},
		{"frame too big", set("gateway.max_frame_bytes", "100000"), "gateway.max_frame_bytes", "not in"},
		{"connections", set("gateway.max_connections", "0"), "gateway.max_connections", "positive"},
		{"sessions per account", set("gateway.max_sessions_per_account", "-1"), "gateway.max_sessions_per_account", "negative"},
		{"resend stall", set("gateway.resend_stall", "-1s"), "gateway.resend_stall", "negative"},
		{"heartbeat", set("gateway.heartbeat_interval", "0s"), "gateway.heartbeat_interval", "positive"},
		{"heartbeat 1ns", set("gateway.heartbeat_interval", "1ns"), "gateway.heartbeat_interval", "at least"}, // a ticker of 0: a panic at logon
		{"secret over the frame", func(c *Config) {
			c.Gateway.MaxFrameBytes, c.Accounts[0].Secret = 160, strings.Repeat("s", 120) // the demo's 13-byte secrets fit
		}, "accounts[0].secret", "never log on"},
		{"recent reports huge", set("gateway.recent_reports", "1073741824"), "gateway.recent_reports", "limit"},
		{"segment huge", set("journal.segment_bytes", "2147483648"), "journal.segment_bytes", "limit"},
		{"tick above the engine's prices", func(c *Config) { c.Instruments[0].TickSize, c.Instruments[0].ReferencePrice = 1<<41, 0 }, "instruments[0].tick_size", "largest price"},
		{"lot above the engine's quantities", func(c *Config) { c.Instruments[0].LotSize = 1<<40 + 1 }, "instruments[0].lot_size", "largest quantity"},
		{"reference above the engine's prices", func(c *Config) { c.Instruments[0].ReferencePrice = 50 << 36 }, "instruments[0].reference_price", "largest price"},
		{"read timeout", set("gateway.read_timeout", "5s"), "gateway.read_timeout", "heartbeat_interval"},
		{"negative rate", set("gateway.rate_limit", "-1"), "gateway.rate_limit", "negative"},
		{"negative status rate", set("gateway.status_rate", "-1"), "gateway.status_rate", "negative"},
		{"disconnect below rate", set("gateway.disconnect_rate", "100"), "gateway.disconnect_rate", "exceed"},
		{"send buffer", set("gateway.send_buffer_bytes", "100"), "gateway.send_buffer_bytes", "max_frame_bytes"},
		{"tls half", set("gateway.tls.cert_file", "cert.pem"), "gateway.tls.key_file", "both or neither"},
		{"marketdata listen", set("marketdata.listen", "nope"), "marketdata.listen", "host:port"},
		{"marketdata same port", set("marketdata.listen", ":7400"), "marketdata.listen", "gateway.listen"},
		{"admin same port", set("admin.listen", "127.0.0.1:7401"), "admin.listen", "marketdata.listen"},
		{"marketdata tls half", set("marketdata.tls.key_file", "key.pem"), "marketdata.tls.cert_file", "both or neither"},
		{"marketdata buffer", set("marketdata.send_buffer_bytes", "0"), "marketdata.send_buffer_bytes", "positive"},
		{"marketdata per account without logon", set("marketdata.max_connections_per_account", "2"), "marketdata.max_connections_per_account", "require_logon"},
		{"admin off loopback", set("admin.listen", "0.0.0.0:7480"), "admin.token", "loopback"},
		{"admin all interfaces", set("admin.listen", ":7480"), "admin.token", "loopback"},
		{"admin short token off loopback", func(c *Config) { c.Admin.Listen, c.Admin.Token = "0.0.0.0:7480", "0123456789abcde" }, "admin.token", "16 bytes"},
		{"admin one-letter token off loopback", func(c *Config) { c.Admin.Listen, c.Admin.Token = "10.0.0.5:7480", "x" }, "admin.token", "16 bytes"},
		{"admin hostname", set("admin.listen", "ops.example:7480"), "admin.token", "loopback"},
		{"admin masked token", set("admin.token", "***"), "admin.token", "placeholder"},
		{"admin tls half", set("admin.tls.key_file", "k.pem"), "admin.tls.cert_file", "both or neither"},
		{"admin tls key missing", set("admin.tls.cert_file", "c.pem"), "admin.tls.key_file", "both or neither"},
		{"frame below an order", set("gateway.max_frame_bytes", "80"), "gateway.max_frame_bytes", "largest order-entry message"},
		{"send buffer below reports", func(c *Config) { c.Gateway.MaxFrameBytes, c.Gateway.SendBufferBytes = 200, 200 }, "gateway.send_buffer_bytes", "64 execution reports"},
		{"archive into the journal", func(c *Config) { c.Journal.Dir, c.Snapshot.ArchiveDir = "/j", "/j/" }, "snapshot.archive_dir", "journal's directory"},
		{"input not pow2", set("rings.input_slots", "1000"), "rings.input_slots", "1000 is not a power of two"},
		{"output zero", set("rings.output_slots", "0"), "rings.output_slots", "positive"},
		{"ring too big", set("rings.output_slots", "2147483648"), "rings.output_slots", "limit"},
		{"wait", set("rings.wait", "spin"), "rings.wait", "busyspin"},
		{"engine pools too small", set("engine.max_orders", "100"), "engine.max_orders", "100 is outside 1024..268435456"},
		{"engine pools too large", set("engine.max_orders", "1000000000"), "engine.max_orders", "outside"},
		{"negative open-orders bound", set("engine.max_open_orders", "-1"), "engine.max_open_orders", "negative"},
		{"negative halt clear chunk", set("engine.halt_clear_chunk", "-1"), "engine.halt_clear_chunk", "-1 must not be negative"},
		// One mass cancel of the account's orders would hold the engine
		// past the bound's cancels.
		{"account above the open-orders bound", func(c *Config) { c.Accounts[0].MaxOpenOrders = c.Engine.MaxOpenOrders + 1 },
			"accounts[0].max_open_orders", "above engine.max_open_orders (100000)"},
		{"segment", set("journal.segment_bytes", "4096"), "journal.segment_bytes", "1 MiB"},
		{"sync", set("journal.sync", "always"), "journal.sync", "batch, none"},
		{"cluster id too long", set("cluster.id", strings.Repeat("x", 33)), "cluster.id", "at most 32"},
		{"cluster id space", set("cluster.id", "prod eu"), "cluster.id", "letters, digits"},
		{"cluster id NUL", set("cluster.id", "prod\x00"), "cluster.id", "letters, digits"},
		{"max batch", set("journal.max_batch", "0"), "journal.max_batch", "positive"},
		{"schedule", set("snapshot.schedule", "25:00"), "snapshot.schedule", "HH:MM"},
		{"schedule form", set("snapshot.schedule", "0:00"), "snapshot.schedule", "HH:MM"},
		{"keep", set("snapshot.keep", "0"), "snapshot.keep", "at least 1"},
		{"retention", set("snapshot.journal_retention", "shred"), "snapshot.journal_retention", "archive"},
		{"log level", set("log.level", "loud"), "log.level", "debug"},
		{"log format", set("log.format", "xml"), "log.format", "console"},
		{"raft listen", set("cluster.peers", "1=a:1=a:2"), "cluster.raft_listen", "host:port"},
		{"self not a peer", func(c *Config) {
			c.Cluster.RaftListen = "127.0.0.1:7500"
			c.Cluster.Peers = []Peer{{2, "b:7500", "b:7400"}}
		}, "cluster.peers", "not among"},
		{"cluster tls half", inCluster(func(c *Config) { c.Cluster.TLS = ClusterTLS{CertFile: "c.pem", KeyFile: "k.pem"} }), "cluster.tls", "set together"},
		{"cluster plaintext off loopback", func(c *Config) {
			c.Cluster.RaftListen = ":7500"
			c.Cluster.Peers = []Peer{{1, "a:7500", "a:7400"}}
		}, "cluster.tls", "not a loopback address"},
		{"trailing entries", inCluster(func(c *Config) { c.Cluster.TrailingEntries = 0 }), "cluster.trailing_entries", "positive"},
		{"election timeout too short", inCluster(func(c *Config) { c.Cluster.ElectionTimeout = 10 * time.Millisecond }), "cluster.election_timeout", "from 50ms to 10s"},
		{"election timeout too long", inCluster(func(c *Config) { c.Cluster.ElectionTimeout = time.Minute }), "cluster.election_timeout", "from 50ms to 10s"},
		{"disk stall timeout too short", inCluster(func(c *Config) { c.Cluster.DiskStallTimeout = 200 * time.Millisecond }), "cluster.disk_stall_timeout", "0 (never) or at least 1s"},
		{"restarts in place", inCluster(func(c *Config) { c.Cluster.RestartsInPlace = -1 }), "cluster.restarts_in_place", "must not be negative"},
		{"every inputs", set("snapshot.every_inputs", "-1"), "snapshot.every_inputs", "negative"},
		{"peer dup", func(c *Config) {
			c.Cluster.RaftListen = "127.0.0.1:7500"
			c.Cluster.Peers = []Peer{{1, "a:7500", "a:7400"}, {1, "b:7500", "b:7400"}}
		}, "cluster.peers[1]", "twice"},
		{"peer addr", func(c *Config) {
			c.Cluster.RaftListen = "127.0.0.1:7500"
			c.Cluster.Peers = []Peer{{1, "a", "a:7400"}}
		}, "cluster.peers[0].raft", "host:port"},
		{"raft listen alone", set("cluster.raft_listen", "127.0.0.1:7500"), "cluster.raft_listen", "run alone"},
		{"raft listen on the gateway's port", func(c *Config) {
			c.Cluster.RaftListen = "127.0.0.1:7400"
			c.Cluster.Peers = []Peer{{1, "127.0.0.1:7400", "a:7400"}} // a gateway at its raft address is refused too
		}, "cluster.raft_listen", "gateway.listen"},
		{"peer raft wildcard", func(c *Config) {
			c.Cluster.RaftListen = "127.0.0.1:7500"
			c.Cluster.Peers = []Peer{{1, "0.0.0.0:7500", "a:7400"}}
		}, "cluster.peers[0].raft", "dial"},
		{"peer gateway wildcard", func(c *Config) {
			c.Cluster.RaftListen = "127.0.0.1:7500"
			c.Cluster.Peers = []Peer{{1, "a:7500", ":7400"}}
		}, "cluster.peers[0].gateway", "redirected client"},
		{"peer raft twice", func(c *Config) {
			c.Cluster.RaftListen = "127.0.0.1:7500"
			c.Cluster.Peers = []Peer{{1, "127.0.0.1:7500", "a:7400"}, {2, "127.0.0.1:7500", "b:7400"}}
		}, "cluster.peers[1].raft", "also the raft address of cluster.peers[0]"},
		{"peer raft twice, spelled otherwise", func(c *Config) {
			c.Cluster.RaftListen = "127.0.0.1:7500"
			c.Cluster.Peers = []Peer{{1, "127.0.0.1:7500", "a:7400"}, {2, "localhost:7500", "b:7400"}}
		}, "cluster.peers[1].raft", "also the raft address of cluster.peers[0]"},
		{"peer raft twice, as an IPv4-mapped address", func(c *Config) {
			c.Cluster.RaftListen = "127.0.0.1:7500"
			c.Cluster.Peers = []Peer{{1, "127.0.0.1:7500", "a:7400"}, {2, "[::ffff:127.0.0.1]:7500", "b:7400"}}
		}, "cluster.peers[1].raft", "also the raft address of cluster.peers[0]"},
		// The C library's resolver dials "0" as 0.0.0.0 (this machine)
		// and "127.1" as 127.0.0.1, where Go's looks them up as names.
		{"peer raft 0", func(c *Config) {
			c.Cluster.RaftListen = "127.0.0.1:7500"
			c.Cluster.Peers = []Peer{{1, "0:7500", "a:7400"}}
		}, "cluster.peers[0].raft", "0 is 0.0.0.0 to the C library's resolver"},
		{"peer gateway 127.1", func(c *Config) {
			c.Cluster.RaftListen = "127.0.0.1:7500"
			c.Cluster.Peers = []Peer{{1, "a:7500", "127.1:7400"}}
		}, "cluster.peers[0].gateway", "write 127.0.0.1"},
		{"peer gateway port 0", func(c *Config) {
			c.Cluster.RaftListen = "127.0.0.1:7500"
			c.Cluster.Peers = []Peer{{1, "a:7500", "a:0"}}
		}, "cluster.peers[0].gateway", "redirected client"},
		{"no instruments", func(c *Config) { c.Instruments = nil }, "instruments", "at least one"},
		{"instrument id zero", func(c *Config) { c.Instruments[1].ID = 0 }, "instruments[1].id", "not in"},
		{"instrument id dup", func(c *Config) { c.Instruments[2].ID = c.Instruments[0].ID }, "instruments[2].id", "instruments[0]"},
		{"symbol dup", func(c *Config) { c.Instruments[1].Symbol = c.Instruments[0].Symbol }, "instruments[1].symbol", "instruments[0]"},
		{"symbol dup but for case", func(c *Config) { c.Instruments[1].Symbol = strings.ToLower(c.Instruments[0].Symbol) }, "instruments[1].symbol", "any case"},
		{"symbol another's id", func(c *Config) { c.Instruments[0].Symbol = fmt.Sprint(c.Instruments[1].ID) }, "instruments[0].symbol", "id of instruments[1]"},
		{"symbol another's id, zero-padded", func(c *Config) { c.Instruments[1].Symbol = fmt.Sprintf("00%d", c.Instruments[0].ID) }, "instruments[1].symbol", "id of instruments[0]"},
		// Outside ASCII, the Kelvin sign folds with K (strings.EqualFold,
		// the admin port's) and the dotless ı upper-cases to I
		// (strings.ToUpper, ringex client's): refused, as every rune
		// past '~' is, a symbol has one upper case.
		{"symbol Kelvin sign", func(c *Config) { c.Instruments[0].Symbol, c.Instruments[1].Symbol = "K-USD", "\u212a-USD" }, "instruments[1].symbol", `"\u212a-USD" has '\u212a' at byte 0: a symbol is printable ASCII`},
		{"symbol dotless i", func(c *Config) { c.Instruments[0].Symbol, c.Instruments[1].Symbol = "IUSD", "\u0131USD" }, "instruments[1].symbol", "printable ASCII"},
		{"symbol empty", func(c *Config) { c.Instruments[0].Symbol = "" }, "instruments[0].symbol", "non-empty"},
		{"symbol space", func(c *Config) { c.Instruments[0].Symbol = "BTC USD" }, "instruments[0].symbol", "' ' at byte 3: a symbol is printable ASCII without spaces"},
		{"symbol control", func(c *Config) { c.Instruments[0].Symbol = "BTC\x00" }, "instruments[0].symbol", "'\\x00' at byte 3"},
		{"symbol DEL", func(c *Config) { c.Instruments[0].Symbol = "BTC\x7f" }, "instruments[0].symbol", "printable ASCII"},
		// Each InstrumentInfo frame carries the symbol, and a client
		// with a small frame limit must read every one of them.
		{"symbol long", func(c *Config) { c.Instruments[0].Symbol = strings.Repeat("A", 33) }, "instruments[0].symbol", "is 33 bytes, more than 32"},
		{"tick", func(c *Config) { c.Instruments[1].TickSize = 0 }, "instruments[1].tick_size", "positive"},
		{"lot", func(c *Config) { c.Instruments[2].LotSize = -1 }, "instruments[2].lot_size", "positive"},
		{"band", func(c *Config) { c.Instruments[0].PriceBandTicks = -1 }, "instruments[0].price_band_ticks", "negative"},
		{"band overflow", func(c *Config) { c.Instruments[0].PriceBandTicks = 1 << 62 }, "instruments[0].price_band_ticks", "overflow"},
		{"reference off tick", func(c *Config) { c.Instruments[0].ReferencePrice = 6000001 }, "instruments[0].reference_price", "multiple"},
		{"decimals", func(c *Config) { c.Instruments[0].PriceDecimals = 19 }, "instruments[0].price_decimals", "0…18"},
		// The answer to ListInstruments is queued whole.
		{"instrument list over the gateway's send buffer", func(c *Config) {
			c.Gateway.SendBufferBytes = 64 * proto.ReportFrameBytes()
			c.Instruments = manyInstruments(1000)
		}, "gateway.send_buffer_bytes", "is smaller than the answer to ListInstruments, the 1000 instruments' "},
		{"instrument list over the market-data send buffer", func(c *Config) {
			c.MarketData.SendBufferBytes = len(c.InstrumentList()) - 1
		}, "marketdata.send_buffer_bytes", "the 3 instruments' "},
		{"no accounts", func(c *Config) { c.Accounts = []Account{} }, "accounts", "at least one"},
		{"account id dup", func(c *Config) { c.Accounts[3].ID = c.Accounts[1].ID }, "accounts[3].id", "accounts[1]"},
		{"account id zero", func(c *Config) { c.Accounts[0].ID = 0 }, "accounts[0].id", "not in"},
		{"secret empty", func(c *Config) { c.Accounts[2].Secret = "" }, "accounts[2].secret", "must be set"},
		{"secret masked", func(c *Config) { c.Accounts[0].Secret = "***" }, "accounts[0].secret", "placeholder"},
		{"limit negative", func(c *Config) { c.Accounts[0].MaxNotional = -5 }, "accounts[0].max_notional", "negative"},
		{"account rates", func(c *Config) { c.Accounts[0].DisconnectRate = 10 }, "accounts[0].disconnect_rate", "exceed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.edit(c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want ErrInvalid", err)
			}
			keys := keyErrors(t, err)
			msg, ok := keys[tt.key]
			if !ok {
				t.Fatalf("no error names %s; got %v", tt.key, err)
			}
			if !strings.HasPrefix(msg, "config: "+tt.key+": ") || !strings.Contains(msg, tt.why) {
				t.Errorf("message %q: want prefix %q and %q", msg, "config: "+tt.key+": ", tt.why)
			}
			if len(keys) != 1 {
				t.Errorf("one bad setting, %d errors: %v", len(keys), err)
			}
		})
	}
}

// inCluster makes a config a one-member cluster on loopback, then
// applies more.
func inCluster(more func(*Config)) func(*Config) {
	return func(c *Config) {
		c.Cluster.RaftListen = "127.0.0.1:7500"
		c.Cluster.Peers = []Peer{{1, "a:7500", "a:7400"}}
		more(c)
	}
}

// manyInstruments is n valid instruments, ids 1…n.
func manyInstruments(n int) []Instrument {
	list := make([]Instrument, n)
	for i := range list {
		list[i] = Instrument{ID: uint32(i + 1), Symbol: fmt.Sprintf("SYM%d", i+1), TickSize: 1, LotSize: 1}
	}
	return list
}

func set(key, value string) func(*Config) {
	return func(c *Config) {
		if err := c.Set(key, value); err != nil {
			panic(err)
		}
	}
}

func TestValidateCollectsAll(t *testing.T) {
	c := Default()
	c.Rings.InputSlots = 1000
	c.Journal.Sync = "sometimes"
	c.Accounts[1].Secret = ""
	keys := keyErrors(t, c.Validate())
	for _, k := range []string{"rings.input_slots", "journal.sync", "accounts[1].secret"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("missing %s in %v", k, keys)
		}
	}
	if got := keys["rings.input_slots"]; got != "config: rings.input_slots: 1000 is not a power of two" {
		t.Errorf("message %q", got)
	}
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *Config)
	}{
		{"admin off loopback with token", func(c *Config) { c.Admin.Listen, c.Admin.Token = "0.0.0.0:7480", "t0ken-0123456789ab" }},
		{"admin ipv6 loopback", set("admin.listen", "[::1]:7480")},
		{"admin localhost", set("admin.listen", "localhost:7480")},
		{"admin disabled", set("admin.listen", "")},
		{"ephemeral ports", func(c *Config) { c.Gateway.Listen, c.MarketData.Listen, c.Admin.Listen = ":0", ":0", "127.0.0.1:0" }},
		{"same port, different hosts", func(c *Config) { c.Gateway.Listen, c.MarketData.Listen = "10.0.0.1:7400", "10.0.0.2:7400" }},
		{"no schedule", set("snapshot.schedule", "")},
		{"tls both", func(c *Config) { c.Gateway.TLS = TLS{CertFile: "c.pem", KeyFile: "k.pem"} }},
		{"no rate limits", func(c *Config) { c.Gateway.RateLimit, c.Gateway.DisconnectRate = 0, 0 }},
		{"tiny rings", func(c *Config) { c.Rings.InputSlots, c.Rings.OutputSlots = 1, 2 }},
		{"cluster of three", func(c *Config) {
			c.Cluster.RaftListen = "127.0.0.1:7500"
			c.Cluster.Peers = []Peer{{1, "a:7500", "a:7400"}, {2, "b:7500", "b:7400"}, {3, "[fd00::3]:7500", "[fd00::3]:7400"}}
		}},
		{"cluster over tls", func(c *Config) {
			c.Cluster.RaftListen = "10.0.0.1:7500"
			c.Cluster.Peers = []Peer{{1, "10.0.0.1:7500", "10.0.0.1:7400"}}
			c.Cluster.TLS = ClusterTLS{CertFile: "c.pem", KeyFile: "k.pem", CAFile: "ca.pem"}
		}},
		{"cluster plaintext allowed", func(c *Config) {
			c.Cluster.RaftListen = ":7500"
			c.Cluster.Peers = []Peer{{1, "a:7500", "a:7400"}}
			c.Cluster.AllowPlaintext = true
		}},
		{"sync none, yielding, busyspin", func(c *Config) { c.Journal.Sync, c.Rings.Wait = SyncNone, WaitBusySpin }},
		{"account at the open-orders bound", func(c *Config) { c.Accounts[0].MaxOpenOrders = c.Engine.MaxOpenOrders }},
		{"no open-orders bound, an account above the default", func(c *Config) {
			c.Engine.MaxOpenOrders, c.Accounts[0].MaxOpenOrders = 0, 1_000_000
		}},
		{"instrument list as large as both send buffers", func(c *Config) {
			c.Instruments = manyInstruments(1000)
			c.Gateway.SendBufferBytes = len(c.InstrumentList())
			c.MarketData.SendBufferBytes = c.Gateway.SendBufferBytes
		}},
		{"symbols of every printable ASCII, at the longest", func(c *Config) {
			c.Instruments[0].Symbol, c.Instruments[1].Symbol = "!~BRK.B/ESZ6_x-USD:a@b#c$d%e&f*g", "ESZ6"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.edit(c)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Two members at one raft address: hashicorp/raft refuses the bootstrap
// ("found duplicate address in configuration") only once the node has
// recovered and mapped its rings, in words that name no config key; and
// replicator.Replace refuses such a membership (ErrAddressTaken).
// Validate must name the key.
func TestPeersRaftAddressTwice(t *testing.T) {
	c := Default()
	c.Cluster.RaftListen = "127.0.0.1:7500"
	c.Cluster.Peers = []Peer{{1, "127.0.0.1:7500", "127.0.0.1:7400"}, {2, "127.0.0.1:7500", "127.0.0.1:7410"}}
	keys := keyErrors(t, c.Validate())
	msg, ok := keys["cluster.peers[1].raft"]
	if !ok || !strings.Contains(msg, "cluster.peers[0]") {
		t.Fatalf("two members at raft address 127.0.0.1:7500 accepted: errors %v", keys)
	}
}

// A member's gateway at a raft address, its own or another's, sends the
// clients redirected there to a consensus port; two members at one
// gateway, or a raft address at another's gateway, send a client
// redirected to the leader to a member that may not lead. Validate let
// them all through (a replace refused none either); each is refused now,
// naming the key and the other member, spelled alike or not.
func TestPeersAddressesClash(t *testing.T) {
	for _, tt := range []struct {
		peers     []Peer
		key, with string
	}{
		{[]Peer{{1, "127.0.0.1:7500", "127.0.0.1:7500"}}, "cluster.peers[0].gateway", "its own raft address"},
		{[]Peer{{1, "127.0.0.1:7500", "127.0.0.1:7400"}, {2, "127.0.0.1:7501", "localhost:7500"}}, "cluster.peers[1].gateway", "the raft address of cluster.peers[0]"},
		{[]Peer{{1, "127.0.0.1:7500", "127.0.0.1:7400"}, {2, "127.0.0.1:7501", "localhost:7400"}}, "cluster.peers[1].gateway", "the gateway of cluster.peers[0]"},
		{[]Peer{{1, "127.0.0.1:7500", "127.0.0.1:7400"}, {2, "[::ffff:127.0.0.1]:7400", "127.0.0.1:7401"}}, "cluster.peers[1].raft", "the gateway of cluster.peers[0]"},
	} {
		c := Default()
		c.Cluster.RaftListen = "127.0.0.1:7500"
		c.Cluster.Peers = tt.peers
		keys := keyErrors(t, c.Validate())
		if msg, ok := keys[tt.key]; !ok || !strings.Contains(msg, "is also "+tt.with) || len(keys) != 1 {
			t.Errorf("peers %v: errors %v; want %s refused as %s alone", tt.peers, keys, tt.key, tt.with)
		}
	}
}

// Two listeners on one port collide when their hosts name the same
// address in different words: "localhost" listens on 127.0.0.1 (Go takes
// its IPv4 address), and an IPv6 address has several spellings. Validate
// let them through; the node failed at its start ("bind: address already
// in use"), after recovery, naming no key.
func TestListenersOnOneAddressSpeltTwoWays(t *testing.T) {
	for _, tc := range []struct{ gateway, md string }{
		{"127.0.0.1:7400", "localhost:7400"},
		{"[::1]:7400", "[0:0:0:0:0:0:0:1]:7400"},
		{"127.0.0.1:7400", "[::ffff:127.0.0.1]:7400"},
	} {
		c := Default()
		c.Gateway.Listen, c.MarketData.Listen = tc.gateway, tc.md
		keys := keyErrors(t, c.Validate())
		if msg, ok := keys["marketdata.listen"]; !ok || !strings.Contains(msg, "gateway.listen") {
			t.Errorf("gateway %s, market data %s: no collision reported: %v", tc.gateway, tc.md, keys)
		}
	}
	// Different loopback addresses do not collide.
	c := Default()
	c.Gateway.Listen, c.MarketData.Listen = "127.0.0.1:7400", "[::1]:7400"
	if err := c.Validate(); err != nil {
		t.Errorf("127.0.0.1 and ::1 on one port refused: %v", err)
	}
}

// A short admin token is refused only where it guards a port off
// loopback: on loopback every local user could reach the port anyway.
func TestShortAdminTokenOnLoopback(t *testing.T) {
	for _, tc := range []struct{ listen, token string }{
		{"127.0.0.1:7480", "x"},
		{"0.0.0.0:7480", "0123456789abcdef"},
	} {
		c := Default()
		c.Admin.Listen, c.Admin.Token = tc.listen, tc.token
		if err := c.Validate(); err != nil {
			t.Errorf("admin.listen %s, a %d-byte token: %v", tc.listen, len(tc.token), err)
		}
	}
}

// An account is held to its own max_open_orders, else to
// engine.max_open_orders; 0 for both is no limit.
func TestEffectiveMaxOpenOrders(t *testing.T) {
	for _, tc := range []struct{ account, bound, want int64 }{
		{500, 100_000, 500},
		{100_000, 100_000, 100_000},
		{0, 100_000, 100_000},
		{0, 0, 0},
		{2_000_000, 0, 2_000_000},
	} {
		c := Config{Engine: Engine{MaxOpenOrders: tc.bound}}
		if got := c.EffectiveMaxOpenOrders(Account{MaxOpenOrders: tc.account}); got != tc.want {
			t.Errorf("max_open_orders %d, engine.max_open_orders %d: %d, want %d", tc.account, tc.bound, got, tc.want)
		}
	}
}
