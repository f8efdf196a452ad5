package main

import (
	"os"
	"strings"
	"testing"
)

// A flag every `ringex client` subcommand is offered but not every one
// uses was taken and did nothing: `client order --md-addr X` ordered on
// the default gateway, `client resend --wait 5s` and `client watch
// --account 4` (no --logon) ignored theirs. Each is refused now, naming
// the flag and the subcommands it is for, before anything is dialled.
func TestClientRefusesSharedFlagsWhereTheyDoNotApply(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"order", "--side", "buy", "--instrument", "BTC-USD", "--qty", "1", "--price", "60000", "--md-addr", "127.0.0.1:1"},
			"--md-addr is not a flag of client order: it applies to client watch"},
		{[]string{"resend", "--after", "0", "--wait", "1s"},
			"--wait is not a flag of client resend: it applies to client order, cancel, replace, mass-cancel, orders or shell"},
		{[]string{"reports", "--wait", "1s"},
			"--wait is not a flag of client reports: it applies to client order, cancel, replace, mass-cancel, orders or shell"},
		{[]string{"watch", "--instrument", "BTC-USD", "--wait", "1s"},
			"--wait is not a flag of client watch"},
		{[]string{"watch", "--instrument", "BTC-USD", "--account", "4"},
			"--account is for a logon: client watch logs on to the market-data port only with --logon"},
		{[]string{"watch", "--instrument", "BTC-USD", "--md-addr", "127.0.0.1:1", "--addr", "127.0.0.1:1"},
			"--addr is for the gateway: watch reads the market-data port, --md-addr (--addr applies to client order,"},
	} {
		args := append([]string{"client"}, tc.args...)
		args = append(args, "--timeout", "1s")
		out, err := ringex(t, nil, args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ringex %s: %v, want %q\n%s", strings.Join(args, " "), err, tc.want, out)
		}
	}
}

// The invocations the README and the commands' own examples show are
// not refused (refuseClientFlags, on their parsed flags: nothing is
// dialled).
func TestClientExamplesTakeTheirFlags(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(readme), "\n")
	root := newRootCmd()
	client, _, err := root.Find([]string{"client"})
	if err != nil {
		t.Fatal(err)
	}
	lines = append(lines, strings.Split(client.Example, "\n")...)
	for _, sub := range client.Commands() {
		lines = append(lines, strings.Split(sub.Example, "\n")...)
	}
	checked := 0
	for _, line := range lines {
		line, _, _ = strings.Cut(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "$")), "#")
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "ringex" || f[1] != "client" || strings.ContainsAny(line, "`…") {
			continue
		}
		root := newRootCmd()
		cmd, rest, err := root.Find(f[1:])
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if err := cmd.ParseFlags(rest); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if err := refuseClientFlags(cmd); err != nil {
			t.Errorf("%s: refused: %v", line, err)
		}
		checked++
	}
	if checked < 15 {
		t.Fatalf("checked %d invocations: the README's or the examples' were not found", checked)
	}
}
