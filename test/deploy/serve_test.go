package deploy

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/node"
)

var small = []string{"--set", "gateway.listen=127.0.0.1:0", "--set", "marketdata.listen=127.0.0.1:0", "--set", "admin.listen=127.0.0.1:0",
	"--set", "rings.input_slots=1024", "--set", "rings.output_slots=1024", "--set", "gateway.recent_reports=1024", "--set", "rings.prefault=false"}

// ringexBinary is the ringex binary TestMain built once for the tests
// that run it.
var ringexBinary string

func TestMain(m *testing.M) { testkit.MainWithRingex(m, &ringexBinary) }

// `ringex serve` prints "no --config: running the embedded demo
// configuration" and every account's secret only for the embedded config.
// Before, it decided so on the --config flag alone, though an empty one
// reads $RINGEX_CONFIG: with RINGEX_CONFIG naming the production config
// and `--config ""` (an empty variable in a unit's ExecStart, a wrapper
// script), the node printed the production accounts' real secrets to
// stdout (systemd's journal, `docker logs`), calling them demo accounts.
func TestServeNeverPrintsSecretsOfAConfigFile(t *testing.T) {
	bin := ringexBinary
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prod.yaml")
	os.WriteFile(cfg, []byte("accounts:\n  - id: 7\n    name: real-client\n    secret: REAL-PRODUCTION-SECRET\n"), 0o600)
	args := append([]string{"serve", "--config", "", "--set", "node.data_dir=" + filepath.Join(dir, "data")}, small...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "RINGEX_CONFIG="+cfg)
	var stdout, stderr testkit.SyncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	exited, err := testkit.StartTied(cmd) // killed with the test process, should it die first
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); <-exited }()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(stdout.String(), "ringex: gateway"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not started; stderr:\n%s", stderr.String())
		}
	}
	if strings.Contains(stdout.String(), "REAL-PRODUCTION-SECRET") {
		t.Errorf("serve printed the config file's account secret:\n%s", stdout.String())
	}
}

// SIGHUP (the terminal or ssh session `ringex serve` runs in closes)
// stops the node cleanly, as SIGTERM does: drained, snapshotted at the
// journal's end (snapshot.on_stop), exit 0. Before, Go's default action
// killed it at once, and a config change after it was refused at the next
// start, as after a crash. (Under nohup SIGHUP stays ignored.)
func TestSighupStopsCleanly(t *testing.T) {
	bin := ringexBinary
	dir := t.TempDir()
	p := testkit.StartServe(t, bin, filepath.Join(dir, "serve.log"), append([]string{"--set", "node.data_dir=" + filepath.Join(dir, "data")}, small...)...)
	p.Cmd.Process.Signal(syscall.SIGHUP)
	select {
	case <-p.Exited:
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30 s of SIGHUP")
	}
	log, _ := os.ReadFile(p.LogPath)
	if st := p.Cmd.ProcessState; st.ExitCode() != 0 || !strings.Contains(string(log), `"stopped"`) {
		t.Fatalf("after SIGHUP: %v, log has \"stopped\": %v — killed without the clean stop", st, strings.Contains(string(log), `"stopped"`))
	}
}

// A config file that lists no accounts keeps the embedded demo accounts,
// whose secrets are public: `ringex serve` says so in its log, naming the
// accounts and never their secrets. Before, nothing did, and a node
// deployed with a config of its own took logons with demo-secret-1.
func TestServeWarnsOfDemoSecrets(t *testing.T) {
	bin := ringexBinary
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prod.yaml")
	if err := os.WriteFile(cfg, []byte("journal:\n  sync: none\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := testkit.StartServe(t, bin, filepath.Join(dir, "serve.log"), append([]string{"--config", cfg, "--set", "node.data_dir=" + filepath.Join(dir, "data")}, small...)...)
	p.Cmd.Process.Signal(syscall.SIGTERM)
	<-p.Exited
	log, _ := os.ReadFile(p.LogPath)
	if !strings.Contains(string(log), "embedded demo config's secrets, which are public") {
		t.Errorf("no warning of the demo accounts' public secrets:\n%s", log)
	}
	if strings.Contains(string(log), "demo-secret-") {
		t.Errorf("the log holds a secret:\n%s", log)
	}
}

// A config file whose accounts have short secrets: `ringex serve` warns,
// naming the accounts and never their secrets — the failed-logon guard
// limits guesses per address, and per account only when configured. An
// account with a long secret is not named.
func TestServeWarnsOfShortSecrets(t *testing.T) {
	bin := ringexBinary
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prod.yaml")
	accounts := "accounts:\n  - id: 7\n    name: short\n    secret: hunter2\n  - id: 8\n    name: long\n    secret: 3f6c0d2a9b8e71c45d0a6f2e9b13c7d8\n"
	if err := os.WriteFile(cfg, []byte("journal:\n  sync: none\n"+accounts), 0o600); err != nil {
		t.Fatal(err)
	}
	p := testkit.StartServe(t, bin, filepath.Join(dir, "serve.log"), append([]string{"--config", cfg, "--set", "node.data_dir=" + filepath.Join(dir, "data")}, small...)...)
	p.Cmd.Process.Signal(syscall.SIGTERM)
	<-p.Exited
	log, _ := os.ReadFile(p.LogPath)
	var warned string
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, "secrets are short") {
			warned = l
		}
	}
	if !strings.Contains(warned, `"accounts":[7]`) {
		t.Errorf("no warning naming account 7 (and only it) of its short secret:\n%s", log)
	}
	if strings.Contains(string(log), "hunter2") || strings.Contains(string(log), "3f6c0d2a") {
		t.Errorf("the log holds a secret:\n%s", log)
	}
}

// `ringex serve` logs, as it recovers, the rules and the reference data
// (symbols, decimals) it serves under, as its GET /state gives them:
// the members of a cluster must serve the same, and a member's log says
// what it served, also after it stopped.
func TestServeLogsItsRulesAndReference(t *testing.T) {
	bin := ringexBinary
	dir := t.TempDir()
	p := testkit.StartServe(t, bin, filepath.Join(dir, "serve.log"), append([]string{"--set", "node.data_dir=" + filepath.Join(dir, "data")}, small...)...)
	resp, err := http.Get("http://" + p.Admin() + "/state")
	if err != nil {
		t.Fatal(err)
	}
	var st node.NodeState
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.Reference == "" {
		t.Fatalf("GET /state: %+v, %v", st, err)
	}
	if logged := p.Logged("recovered"); logged["rules"] != st.Rules || logged["reference"] != st.Reference {
		t.Fatalf("logged %v; GET /state gives rules %s, reference %s", logged, st.Rules, st.Reference)
	}
}
