package main

import (
	"net"
	"strings"
	"testing"

	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/internal/testnode"
)

// ringex client and ringex bench speak TLS to a gateway that has it
// (gateway.tls), trusting a CA file (--tls-ca): they had no way to, so a
// trader of an exchange that encrypts order entry — the secret crosses
// the network in the logon — could not use them at all.
func TestClientAndBenchSpeakTLS(t *testing.T) {
	ca := testkit.NewCA(t, "ringex test CA")
	certFile, keyFile, caFile := ca.WriteFiles(t, t.TempDir(), ca.Issue(t, "node", net.IPv4(127, 0, 0, 1)))
	a := testnode.Start(t, map[string]string{"journal.sync": "none", "gateway.tls.cert_file": certFile, "gateway.tls.key_file": keyFile})

	out := mustRingex(t, clientArgs(a, 4, "orders", "--tls-ca", caFile)...)
	wantLine(t, out, `^statusdone .* 0 live order\(s\)`)
	out = mustRingex(t, "bench", "--addr", a.Gateway, "--tls-ca", caFile, "--rate", "200", "--duration", "200ms", "--connections", "2")
	wantLine(t, out, `^sent \d+, acked \d+ \(0 rejected\)`)

	// Without the CA the node's certificate is not trusted; without TLS
	// the node hears no TLS handshake and hangs up, which said only
	// "logon: EOF".
	// The library says why (client.ErrHungUpAtLogon), the CLI which flag.
	const hungUp = "the port hung up without an answer, as one with TLS does to a client without TLS (and a node stopping or losing the lead to anyone)"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{clientArgs(a, 4, "orders", "--tls"), "certificate signed by unknown authority"},
		{clientArgs(a, 4, "orders"), hungUp + " (the gateway: if it has TLS (gateway.tls), add --tls)"},
		{[]string{"bench", "--addr", a.Gateway, "--rate", "200", "--duration", "200ms"}, hungUp + " (the gateway: if it has TLS (gateway.tls), add --tls)"},
	} {
		args := append(tc.args, "--timeout", "1s")
		if tc.args[0] == "bench" {
			args = tc.args
		}
		if out, err := ringex(t, nil, args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ringex %s: %v, want %q\n%s", strings.Join(args[1:], " "), err, tc.want, out)
		}
	}
}

// --tls against a gateway without TLS says to drop it: the gateway
// answers the ClientHello in plain TCP, or waits for the rest of the
// frame it seemed to begin — which said only "first record does not look
// like a TLS handshake" or "i/o timeout".
func TestClientTLSAgainstAPlainGatewaySaysSo(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	args := append(clientArgs(a, 4, "orders", "--tls"), "--timeout", "1s")
	if out, err := ringex(t, nil, args...); err == nil || !strings.Contains(err.Error(), "if the gateway has no TLS (gateway.tls unset), drop the TLS flags") {
		t.Fatalf("ringex %s: %v, want the hint to drop --tls\n%s", strings.Join(args[1:], " "), err, out)
	}
}

// A client command against an address nothing listens on — a node not
// started yet, a wrong port — says what to check: the node runs, and the
// flag names its listen address. It said only "connect: connection
// refused" (client order: after "no leader took the logon within 5s").
// So do the admin commands, which said only `Post "http://…/snapshot": …
// connection refused`.
func TestClientAtAnAddressNothingListensOnSaysWhatToCheck(t *testing.T) {
	dead := testkit.ReserveAddrs(t, 3)
	const adminHint = "(nothing listens at that address: is the node (ringex serve) running, and does --admin name its admin.listen?)"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"client", "orders", "--addr", dead[0], "--account", "4", "--timeout", "200ms"},
			"(nothing listens at that address: is the node (ringex serve) running, and does --addr name its gateway.listen?)"},
		{[]string{"client", "watch", "--md-addr", dead[1], "--instrument", "BTC-USD"},
			"(nothing listens at that address: is the node (ringex serve) running, and does --md-addr name its marketdata.listen?)"},
		{[]string{"client", "watch", "--md-addr", dead[1], "--instrument", "BTC-USD", "--logon", "--account", "4"},
			"(nothing listens at that address: is the node (ringex serve) running, and does --md-addr name its marketdata.listen?)"},
		{[]string{"snapshot", "--admin", dead[2]}, adminHint},
		{[]string{"halt", "BTC-USD", "--admin", dead[2]}, adminHint},
		{[]string{"resume", "BTC-USD", "--admin", dead[2]}, adminHint},
		{[]string{"account", "suspend", "4", "--admin", dead[2]}, adminHint},
		{[]string{"sessions", "--admin", dead[2]}, adminHint},
		{[]string{"sessions", "close", "7", "--admin", dead[2]}, adminHint},
	} {
		if out, err := ringex(t, nil, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ringex %s: %v, want %q\n%s", strings.Join(tc.args, " "), err, tc.want, out)
		}
	}
}

// ringex client watch (--tls, --tls-ca: it dials the market-data port
// alone) and ringex bench --md-subscribers (--md-tls, --md-tls-ca: its
// order entry is plain here, as on a node with marketdata.tls and no
// gateway.tls) subscribe over TLS to a node with marketdata.tls. They
// could not: watch noted that the port "speaks plain TCP", and bench's
// subscribers dialled plain TCP. Without TLS, each says what to add.
func TestWatchAndBenchSpeakMarketDataTLS(t *testing.T) {
	ca := testkit.NewCA(t, "ringex test CA")
	certFile, keyFile, caFile := ca.WriteFiles(t, t.TempDir(), ca.Issue(t, "node", net.IPv4(127, 0, 0, 1)))
	a := testnode.Start(t, map[string]string{"journal.sync": "none", "marketdata.require_logon": "true",
		"marketdata.tls.cert_file": certFile, "marketdata.tls.key_file": keyFile})

	out := mustRingex(t, clientArgs(a, 1, "watch", "--instrument", "BTC-USD", "--updates", "0", "--logon", "--tls-ca", caFile)...)
	wantLine(t, out, `0 bid / 0 ask levels`)
	out = mustRingex(t, "bench", "--addr", a.Gateway, "--md-addr", a.MarketData, "--md-subscribers", "2", "--md-tls-ca", caFile,
		"--rate", "200", "--duration", "200ms", "--json")
	if !strings.Contains(out, `"subscribers":2`) && !strings.Contains(out, `"subscribers": 2`) {
		t.Fatalf("no market-data load in the result:\n%s", out)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{append(clientArgs(a, 1, "watch", "--instrument", "BTC-USD", "--updates", "0", "--logon"), "--timeout", "2s"),
			"as one with TLS does to a client without TLS (and a node stopping or losing the lead to anyone) (the market-data port: if it has TLS (marketdata.tls), add --tls)"},
		{append(clientArgs(a, 1, "watch", "--instrument", "BTC-USD", "--updates", "0"), "--timeout", "2s"), "if it has TLS (marketdata.tls), add --tls"},
		{append(clientArgs(a, 1, "watch", "--instrument", "BTC-USD", "--updates", "0", "--logon"), "--tls", "--timeout", "2s"), "certificate signed by unknown authority"},
		{[]string{"bench", "--addr", a.Gateway, "--md-addr", a.MarketData, "--md-subscribers", "1", "--rate", "100", "--duration", "100ms"},
			"if it has TLS (marketdata.tls), add --md-tls"},
	} {
		if out, err := ringex(t, nil, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ringex %s: %v, want %q\n%s", strings.Join(tc.args, " "), err, tc.want, out)
		}
	}
}

// bench's --tls is order entry's alone (its subscribers take --md-tls):
// its help said "client watch: to the market-data port", the client
// group's text, which bench has no watch for.
func TestBenchTLSHelpIsOrderEntrysAlone(t *testing.T) {
	out := mustRingex(t, "bench", "--help")
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--tls ") && (strings.Contains(line, "client watch") || !strings.Contains(line, "--md-tls")) {
			t.Errorf("bench --help: %s", strings.TrimSpace(line))
		}
	}
	if out := mustRingex(t, "client", "watch", "--help"); !strings.Contains(out, "client watch: to the market-data port") {
		t.Errorf("client watch --help lost what --tls does for it:\n%s", out)
	}
}
