package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/internal/testnode"
	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/vfs"
)

// replayGateFS holds every read-only open of a journal segment (a replay's)
// until release is closed.
type replayGateFS struct {
	vfs.FS
	release chan struct{}
}

func (g *replayGateFS) Open(name string) (vfs.File, error) {
	if strings.HasSuffix(name, ".journal") {
		<-g.release
	}
	return g.FS.Open(name)
}

// replayingNode returns the admin address of a node held in its journal
// replay (its admin port answers from the start: /healthz ok, the rest
// 503 "replaying").
func replayingNode(t *testing.T) string {
	dir := t.TempDir()
	cfg := testnode.Config(t, dir, map[string]string{"journal.sync": "none", "snapshot.on_stop": "false"})
	n, _, _ := testnode.Open(t, cfg)
	if err := n.Halt(1); err != nil { // something to replay
		t.Fatal(err)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	admin := testkit.ReserveAddrs(t, 1)[0]
	cfg = testnode.Config(t, dir, map[string]string{"journal.sync": "none", "snapshot.on_stop": "false", "admin.listen": admin})
	fs := &replayGateFS{FS: vfs.Default, release: make(chan struct{})}
	built := make(chan *node.Node, 1)
	go func() {
		n, _, err := node.NewWithOptions(cfg, zerolog.Nop(), node.Options{FS: fs})
		if err != nil {
			t.Error(err)
		}
		built <- n
	}()
	t.Cleanup(func() {
		close(fs.release)
		if n := <-built; n != nil {
			n.Stop()
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + admin + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return admin
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the replaying node's admin port never answered")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The runbook and README: given every member as --admin A,B,C, a control
// command goes "to the one that leads, past followers, members that are
// stopping and members that do not answer". A member restarting (rolling
// restart) answers from the start of its replay — 503 "replaying" —
// where before 2026-12-05 its port was closed (did not answer, passed
// on): the command stopped at it and failed, the leader never asked.
func TestControlPassesAReplayingMember(t *testing.T) {
	replaying := replayingNode(t)
	leader := testnode.Start(t, map[string]string{"journal.sync": "none"})
	out, err := ringex(t, nil, "halt", "BTC-USD", "--admin", replaying+","+leader.Admin)
	if err != nil {
		t.Fatalf("halt through a replaying member and the leader: %v\n%s", err, out)
	}
}

// A token with a trailing newline (a Kubernetes secret made from a file
// with `echo`, put in RINGEX_ADMIN_TOKEN) was taken by validation, and
// then no client could ever present it: header values are trimmed by the
// server and a newline cannot be sent at all. Every endpoint but the
// probes answered 401 for good (Prometheus too: RingexNodeDown). It is
// refused at load, without its value.
func TestAdminTokenWithTrailingNewlineRefused(t *testing.T) {
	t.Setenv("RINGEX_ADMIN_TOKEN", "s3cret-token\n")
	_, err := loadConfig("", nil)
	if err == nil || !strings.Contains(err.Error(), "admin.token") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("admin.token with a trailing newline: %v; want it refused, naming the key and not the value", err)
	}
}

// The admin commands refuse, before sending anything, a token no node
// takes — white space around it, which the node's server trims, or a
// control character (a newline), which no client sends — naming where
// it came from and not the token: net/http failed the request with
// 'invalid header field value for "Authorization"', and a space went as
// a wrong token (401).
func TestAdminCommandRefusesAnUnsendableToken(t *testing.T) {
	for _, tc := range []struct{ env, flag, from string }{
		{"s3cret-token\n", "", "$RINGEX_ADMIN_TOKEN"},
		{"", " s3cret-token", "--token"},
	} {
		t.Setenv("RINGEX_ADMIN_TOKEN", tc.env)
		args := []string{"snapshot", "--admin", "127.0.0.1:1"} // nothing listens: refused before dialling, or a dial error
		if tc.flag != "" {
			args = append(args, "--token", tc.flag)
		}
		out, err := ringex(t, nil, args...)
		if err == nil || !strings.Contains(err.Error(), tc.from) || !strings.Contains(err.Error(), "white space or a control character") ||
			strings.Contains(err.Error()+out, "s3cret") {
			t.Errorf("a token %q from %s: %v\n%s; want it refused naming %s, not the token", tc.env+tc.flag, tc.from, err, out, tc.from)
		}
	}
}

func TestStatusOfAReplayingNode(t *testing.T) {
	replaying := replayingNode(t)
	out, err := ringex(t, nil, "status", "--admin", replaying)
	t.Logf("%v\n%s", err, out)
	if err == nil || !strings.Contains(err.Error(), "not ready: replaying") || !strings.Contains(out, "not ready: replaying") {
		t.Fatalf("a replaying node: %v, want it reported not ready, replaying (not refused: the help says a wrong or missing token)\n%s", err, out)
	}
}
