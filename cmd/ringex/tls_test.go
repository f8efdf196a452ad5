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
	for _, tc := range []struct {
		args []string
		want string
	}{
		{clientArgs(a, 4, "orders", "--tls"), "certificate signed by unknown authority"},
		{clientArgs(a, 4, "orders"), "if it has TLS (gateway.tls), add --tls"},
		{[]string{"bench", "--addr", a.Gateway, "--rate", "200", "--duration", "200ms"}, "if it has TLS (gateway.tls), add --tls"},
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
