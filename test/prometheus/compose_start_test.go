package prometheus

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testkit"
)

// The compose file's header tells how to start the cluster:
//
//	export RINGEX_ADMIN_TOKEN=$(openssl rand -hex 16)
//	CLUSTER_BOOTSTRAP=true docker compose -f deploy/docker-compose.yml up --build
//
// (without CLUSTER_BOOTSTRAP it said nothing of it, and the three nodes
// all joined and waited, electing no leader). Started that way on fresh volumes (the nodes' environment interpolated
// with what the header exports and puts before `docker compose`), the three
// nodes must elect a leader. This runs the nodes with exactly the
// environment compose would give them (cluster.bootstrap included),
// only with loopback addresses instead of the compose network's names.
func TestComposeHeaderStartFormsCluster(t *testing.T) {
	raw := string(readRepoFile(t, "deploy/docker-compose.yml"))
	env := map[string]string{"RINGEX_ADMIN_TOKEN": "audit-token"}
	// Variables the header puts before "docker compose ... up".
	assign := regexp.MustCompile(`([A-Z_][A-Z0-9_]*)=(\S+)\s`)
	found := false
	for _, line := range strings.Split(raw, "\n") {
		line = strings.TrimPrefix(line, "#")
		before, _, ok := strings.Cut(line, "docker compose")
		if !ok || !strings.Contains(line, " up") {
			continue
		}
		found = true
		for _, m := range assign.FindAllStringSubmatch(before+" ", -1) {
			env[m[1]] = m[2]
		}
	}
	if !found {
		t.Fatal("no `docker compose ... up` line in the compose header")
	}
	t.Logf("environment of the documented `up`: %v", env)

	var c composeFile
	if err := yaml.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	bin, err := testkit.BuildRingex(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	secret := secretFiles(t, c, env)
	byEnv := map[string]string{}
	for _, k := range config.Keys() {
		byEnv[config.EnvName(k)] = k
	}
	addrs := testkit.ReserveAddrs(t, 12)
	peers := fmt.Sprintf("1=%s=%s,2=%s=%s,3=%s=%s", addrs[0], addrs[1], addrs[4], addrs[5], addrs[8], addrs[9])
	var procs []*testkit.Proc
	for i, name := range []string{"node1", "node2", "node3"} {
		svc := c.Services[name]
		var args []string
		for k, v := range svc.Environment {
			key, ok := byEnv[k]
			if !ok {
				t.Fatalf("%s: %s is no config key", name, k)
			}
			args = append(args, "--set", key+"="+secret(name, interpolate(v, env)))
		}
		dir := t.TempDir()
		a := addrs[4*i:]
		args = append(args,
			"--set", "node.data_dir="+dir,
			"--set", "cluster.raft_listen="+a[0],
			"--set", "gateway.listen="+a[1],
			"--set", "marketdata.listen="+a[2],
			"--set", "admin.listen="+a[3],
			"--set", "cluster.peers="+peers,
			"--set", "rings.input_slots=65536", "--set", "rings.output_slots=65536", "--set", "rings.prefault=false",
			"--set", "gateway.recent_reports=65536")
		p := testkit.StartServe(t, bin, filepath.Join(dir, "serve.log"), args...)
		t.Cleanup(func() {
			if p.Alive() {
				p.Kill9()
			}
		})
		procs = append(procs, p)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range procs {
			req, _ := http.NewRequest("GET", "http://"+p.Admin()+"/readyz", nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, p := range procs {
		if m := p.Logged("replicator: joining"); m != nil {
			t.Logf("%s logged: %v", p.Admin(), m)
		}
	}
	t.Fatal("started as the compose header says, the three nodes elected no leader within 20s (all wait, joining)")
}
