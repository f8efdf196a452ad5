package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testnode"
)

// Every command a user can reach has a --help with examples.
func TestEveryCommandHasExample(t *testing.T) {
	root := newRootCmd()
	var walk func(c *cobra.Command)
	seen := map[string]bool{}
	walk = func(c *cobra.Command) {
		seen[c.CommandPath()] = true
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no Example", c.CommandPath())
		}
		if c.Short == "" {
			t.Errorf("%q has no Short description", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for _, path := range []string{"ringex serve", "ringex replay", "ringex snapshot", "ringex journal inspect", "ringex bench",
		"ringex client", "ringex client order", "ringex client cancel", "ringex client replace", "ringex client mass-cancel", "ringex client orders",
		"ringex client watch", "ringex client shell", "ringex config print", "ringex halt", "ringex resume", "ringex account suspend", "ringex account resume",
		"ringex version", "ringex completion", "ringex help", "ringex cluster replace"} {
		if !seen[path] {
			t.Errorf("command %q is missing", path)
		}
	}
	// The examples show up in --help.
	out := mustRingex(t, "client", "order", "--help")
	if !strings.Contains(out, "Examples:\n  ringex client order --account 4 --side buy") {
		t.Errorf("client order --help has no examples:\n%s", out)
	}
}

// The order `ringex --help` shows a new operator rests on the book, for
// the `client watch` after it to show: it is placed as a demo account
// without cancel_on_disconnect. It was placed as account 1 (the default),
// whose order is cancelled as the command logs out — the book stayed empty.
func TestRootExampleOrderRests(t *testing.T) {
	cfg := config.Default()
	found := false
	for _, line := range strings.Split(newRootCmd().Example, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[1] != "client" || f[2] != "order" {
			continue
		}
		found = true
		account := uint32(1) // the flag's default
		for i := range f[:len(f)-1] {
			if f[i] == "--account" {
				n, err := strconv.ParseUint(f[i+1], 10, 32)
				if err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				account = uint32(n)
			}
		}
		for _, a := range cfg.Accounts {
			if a.ID == account && a.CancelOnDisconnect {
				t.Errorf("%q: account %d cancels its orders as the command logs out", strings.TrimSpace(line), account)
			}
		}
	}
	if !found {
		t.Fatal("ringex --help shows no client order")
	}
}

// `ringex completion SHELL` prints a script for that shell that completes
// ringex's commands; the dynamic completion of instrument symbols works.
func TestCompletion(t *testing.T) {
	for shell, marker := range map[string]string{
		"bash":       "complete -o default -F __start_ringex ringex",
		"zsh":        "#compdef ringex",
		"fish":       "complete -c ringex",
		"powershell": "Register-ArgumentCompleter",
	} {
		out := mustRingex(t, "completion", shell)
		if !strings.Contains(out, marker) {
			t.Errorf("completion %s: no %q in the script (%d bytes)", shell, marker, len(out))
		}
	}
	if _, err := ringex(t, nil, "completion", "tcsh"); err == nil {
		t.Error("completion tcsh: no error")
	}
	// What the scripts call back: subcommands, then flag values.
	out := mustRingex(t, "__complete", "client", "")
	for _, want := range []string{"order\t", "cancel\t", "replace\t", "mass-cancel\t", "watch\t", "shell\t"} {
		if !strings.Contains(out, want) {
			t.Errorf("completing `ringex client `: no %q in\n%s", want, out)
		}
	}
	out = mustRingex(t, "__complete", "client", "order", "--instrument", "")
	for _, want := range []string{"BTC-USD", "ETH-USD", "AAPL"} {
		if !strings.Contains(out, want) {
			t.Errorf("completing --instrument: no %q in\n%s", want, out)
		}
	}
	out = mustRingex(t, "__complete", "client", "order", "--tif", "")
	if !strings.Contains(out, "gtc\nioc\nfok\n") {
		t.Errorf("completing --tif:\n%s", out)
	}
}

// The admin token from RINGEX_ADMIN_TOKEN is used and never shown: it was
// the --token flag's default, which --help prints.
func TestAdminTokenFromTheEnvironmentIsNotShown(t *testing.T) {
	const token = "tok-from-env-5d2c"
	t.Setenv("RINGEX_ADMIN_TOKEN", token)
	for _, cmd := range [][]string{{"snapshot", "--help"}, {"status", "--help"}, {"halt", "--help"}, {"sessions", "--help"}} {
		out, err := ringex(t, nil, cmd...)
		if err != nil || strings.Contains(out, token) {
			t.Fatalf("ringex %s: %v; the token shown:\n%s", strings.Join(cmd, " "), err, out)
		}
	}
	a := testnode.Start(t, map[string]string{"journal.sync": "none", "admin.token": token})
	mustRingex(t, "snapshot", "--admin", a.Admin) // the node refuses it without the token
}

// RINGEX_CONFIG names the config file for every command that reads one,
// not only serve and config print: replay read the demo config's
// journal, under the demo config's rules.
func TestConfigFileFromTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ringex.yaml")
	if err := os.WriteFile(path, []byte("node:\n  data_dir: "+filepath.Join(dir, "elsewhere")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RINGEX_CONFIG", path)
	out, err := ringex(t, nil, "replay") // no journal there: the error names where it looked
	if err == nil || !strings.Contains(err.Error()+out, filepath.Join(dir, "elsewhere")) {
		t.Fatalf("replay did not read the config RINGEX_CONFIG names: %v\n%s", err, out)
	}
}

// A mistyped subcommand of a command group (account, journal, config,
// client) printed the group's help and exited 0, so an operator's
// `ringex account suspnd 4 && echo suspended` — the kill switch — or a
// cron `ringex journal inspec /var/lib/ringex/journal` reported success
// having done nothing. It fails as the root's does.
func TestMistypedSubcommandFails(t *testing.T) {
	for _, args := range [][]string{
		{"account", "suspnd", "4"},
		{"journal", "inspec", t.TempDir()},
		{"config", "prnt"},
		{"client", "ordr"},
	} {
		out, err := ringex(t, nil, args...)
		if err == nil {
			t.Errorf("ringex %s: exit status 0 (printed %d bytes of help), want an unknown-command error", strings.Join(args, " "), len(out))
		}
	}
}

// `ringex serve --help`'s cluster example ("a new three-node cluster:
// each member's first start") passes the config's validation: its raft
// addresses are not loopback and it named no cluster.tls, so copied as
// shown every member exited at once.
func TestServeClusterExampleIsValid(t *testing.T) {
	cmd := newServeCmd()
	// The example's command line, its continuation lines joined.
	var line string
	for _, l := range strings.Split(cmd.Example, "\n") {
		l = strings.TrimSpace(l)
		if strings.Contains(l, "--peers") || (line != "" && strings.HasPrefix(l, "--")) {
			line += " " + strings.TrimSuffix(l, "\\")
		}
	}
	line = strings.TrimSpace(line)
	args := strings.Fields(line)[2:] // after "ringex serve"
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	sets, _ := cmd.Flags().GetStringArray("set")
	if _, err := loadServeConfig("", flagSettings(cmd), sets); err != nil {
		t.Fatalf("the example %q does not pass the config's validation:\n%v", line, err)
	}
}

// The admin token from a file — admin.token_file for a node,
// RINGEX_ADMIN_TOKEN_FILE for the CLI beside it (a container's secret
// file) — is read by every command that loads the config and used by the
// admin commands, never shown.
func TestAdminTokenFromAFile(t *testing.T) {
	const token = "tok-from-file-81e0"
	path := filepath.Join(t.TempDir(), "admin_token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig("", []string{"admin.token_file=" + path})
	if err != nil || cfg.Admin.Token != token {
		t.Fatalf("loadConfig with admin.token_file: token %q, %v", cfg.Admin.Token, err)
	}
	t.Setenv("RINGEX_ADMIN_TOKEN", "")
	t.Setenv("RINGEX_ADMIN_TOKEN_FILE", path)
	a := testnode.Start(t, map[string]string{"journal.sync": "none", "admin.token": token})
	out := mustRingex(t, "snapshot", "--admin", a.Admin) // the node refuses it without the token
	if strings.Contains(out, token) {
		t.Fatalf("the token shown:\n%s", out)
	}
	t.Setenv("RINGEX_ADMIN_TOKEN_FILE", filepath.Join(t.TempDir(), "none"))
	if out, err := ringex(t, nil, "snapshot", "--admin", a.Admin); err == nil || !strings.Contains(err.Error(), "RINGEX_ADMIN_TOKEN_FILE") {
		t.Fatalf("a token file that is not there: %v\n%s", err, out)
	}
}

// RINGEX_ADMIN_TOKEN_FILE naming a file its group or others may write is
// refused by the CLI as admin.token_file is by the node, in the same
// words (config.AdminTokenFromFile), before anything is sent: whoever
// can write it sets the token the CLI sends. The CLI read it unchecked.
func TestAdminTokenFileWritableByOthersRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin_token")
	if err := os.WriteFile(path, []byte("tok-3c1f\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadConfig("", []string{"admin.token_file=" + path}); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o620, 0o602} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, nodeErr := loadServeConfig("", nil, []string{"admin.token_file=" + path})
		t.Setenv("RINGEX_ADMIN_TOKEN", "")
		t.Setenv("RINGEX_ADMIN_TOKEN_FILE", path)
		out, err := ringex(t, nil, "snapshot", "--admin", "127.0.0.1:1") // nothing listens: refused before dialling, or a dial error
		if nodeErr == nil || err == nil || !strings.Contains(err.Error(), "RINGEX_ADMIN_TOKEN_FILE") ||
			!strings.Contains(err.Error(), "writable by its group or others") || !strings.Contains(nodeErr.Error(), "writable by its group or others") {
			t.Fatalf("mode %04o: the CLI: %v\n%s\nthe node: %v; want both refusing it as writable by its group or others", mode, err, out, nodeErr)
		}
		_, cliMsg, _ := strings.Cut(err.Error(), "RINGEX_ADMIN_TOKEN_FILE: ")
		if cliMsg == "" || !strings.Contains(nodeErr.Error(), cliMsg) {
			t.Fatalf("mode %04o: the CLI says %q, the node %q: want the same message", mode, err, nodeErr)
		}
	}
}

// The first two examples of `ringex client --help`, and of `ringex client
// order --help`, run one after the other on a node, trade: the market sell
// meets the resting buy. The buy was account 1's, whose orders
// cancel_on_disconnect takes away as the command exits, and the sell was
// rejected (no-liquidity).
func TestClientHelpExamplesTrade(t *testing.T) {
	for _, path := range [][]string{{"client"}, {"client", "order"}} {
		cmd, _, err := newRootCmd().Find(path)
		if err != nil {
			t.Fatal(err)
		}
		a := testnode.Start(t, map[string]string{"journal.sync": "none"})
		lines := strings.Split(strings.TrimSpace(cmd.Example), "\n")
		var outs []string
		for _, line := range lines[:2] {
			args := strings.Fields(line)[1:] // without "ringex"
			args = append(args, "--addr", a.Gateway, "--wait", "300ms")
			out, err := ringex(t, nil, args...)
			if err != nil {
				t.Fatalf("%s: %v\n%s", strings.TrimSpace(line), err, out)
			}
			outs = append(outs, out)
		}
		wantLine(t, outs[1], `^fill +BTC-USD sell `)
	}
}

// No example gives a real secret as a flag's value: --secret "$SECRET"
// puts it in the command line every local user reads with ps, which
// --secret's own help warns of (the demo config's demo-secret-N is no
// secret). watch --logon's example did.
func TestNoExampleGivesASecretOnTheCommandLine(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, line := range strings.Split(c.Example, "\n") {
			f := strings.Fields(line)
			for i := 0; i+1 < len(f); i++ {
				if (f[i] == "--secret" || f[i] == "--token") && !strings.HasPrefix(f[i+1], "demo-secret-") {
					t.Errorf("%s: example %q gives %s on the command line", c.CommandPath(), strings.TrimSpace(line), f[i])
				}
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd())
}
