package main

import (
	"io"
	"testing"

	"github.com/ringex/ringex/internal/testnode"
)

// `client shell --reconnect` whose node stopped and whose new logon
// landed on a node holding another history (started on new data: no
// input yet) printed the answer ahead to its catch-up and nothing more —
// the person at it read "no inputs after 2" and was not told that the
// orders placed before are not that node's and their reports will not
// come. It says so, naming `orders` for what is live there.
func TestClientShellSaysTheNodeHoldsAnotherHistory(t *testing.T) {
	sync := map[string]string{"journal.sync": "none"}
	a, _, addrs := testnode.Open(t, testnode.Config(t, t.TempDir(), sync))
	b := testnode.Start(t, sync)
	w, out, shellDone := startShell(t, "client", "shell", "--addr", addrs.Gateway+","+b.Gateway, "--account", "4",
		"--reconnect", "--wait", "300ms", "--timeout", "10s")
	defer w.Close()
	waitOutput(t, out, `^logged on as account 4 `)
	for range 3 {
		io.WriteString(w, "buy BTC-USD 0.0010 59000\n")
	}
	waitOutput(t, out, `^accepted +BTC-USD buy .*  order 3 `) // the node's third input
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, out, `^logged on again \(session \d+\)`)
	waitOutput(t, out, `^resend ahead: `)
	waitOutput(t, out, `^the node holds another history than this session's \(started on new data, or another cluster\): `+
		`its input sequences start again, and the reports of the orders placed before the new logon will not come; `+
		`"orders" lists what is live there$`)
	io.WriteString(w, "quit\n")
	if err := shellEnd(t, out, shellDone); err != nil {
		t.Fatalf("shell: %v\n%s", err, out.String())
	}
}
