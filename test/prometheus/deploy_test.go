package prometheus

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ringex/ringex/config"
)

type composeFile struct {
	Services map[string]struct {
		Build *struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		Volumes     []string          `yaml:"volumes"`
		Secrets     []string          `yaml:"secrets"`
	} `yaml:"services"`
	Secrets map[string]map[string]string `yaml:"secrets"`
	Volumes map[string]any               `yaml:"volumes"`
}

type promConfig struct {
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		Authorization struct {
			CredentialsFile string `yaml:"credentials_file"`
		} `yaml:"authorization"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

// interpolate does compose's ${VAR}, ${VAR:-default} and ${VAR:?error}.
var composeVar = regexp.MustCompile(`\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}`)

func interpolate(s string, env map[string]string) string {
	return composeVar.ReplaceAllStringFunc(s, func(m string) string {
		sub := composeVar.FindStringSubmatch(m)
		if v := env[sub[1]]; v != "" || sub[2] != "-" {
			return v
		}
		return sub[3] // unset or empty: the default
	})
}

// secretFiles writes each compose secret a shell variable of env gives
// to a file, as compose mounts it at /run/secrets/<name> in the services
// that list it, and returns what points a value at those files instead
// (the nodes read the admin token from there: RINGEX_ADMIN_TOKEN_FILE).
func secretFiles(t *testing.T, c composeFile, env map[string]string) func(service, value string) string {
	t.Helper()
	dir := t.TempDir()
	for name, source := range c.Secrets {
		if v, ok := env[source["environment"]]; ok {
			// 0444, as compose mounts a secret: the node reads it
			// (warning that others may), not refuses it.
			if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o444); err != nil {
				t.Fatal(err)
			}
		}
	}
	return func(service, value string) string {
		name, ok := strings.CutPrefix(value, "/run/secrets/")
		if !ok {
			return value
		}
		if !contains(c.Services[service].Secrets, name) {
			t.Errorf("%s reads %s, a secret the service is not given", service, value)
		}
		return filepath.Join(dir, name)
	}
}

// The variables the compose file reads from the shell that runs it are
// config keys' (RINGEX_ADMIN_TOKEN, exported for the nodes and for the
// ringex commands on the host alike) or outside the config's prefix: a
// RINGEX_ variable that is no key refuses every ringex command that loads
// config — `ringex client` and `ringex bench` on the host included — in
// a shell where it was exported (RINGEX_BOOTSTRAP did, until 2026-12-06).
func TestComposeHostVariablesAreNoStrayConfig(t *testing.T) {
	keys := map[string]bool{config.EnvConfigPath: true, config.EnvAdminCA: true}
	for _, k := range config.Keys() {
		keys[config.EnvName(k)] = true
	}
	raw := readRepoFile(t, "deploy/docker-compose.yml")
	seen := 0
	for _, m := range composeVar.FindAllStringSubmatch(string(raw), -1) {
		seen++
		if name := m[1]; strings.HasPrefix(name, config.EnvPrefix) && !keys[name] {
			t.Errorf("deploy/docker-compose.yml reads ${%s} from the shell: a %s variable that is no config key makes every ringex command in that shell fail", name, config.EnvPrefix)
		}
	}
	if seen == 0 {
		t.Fatal("no ${VAR} in deploy/docker-compose.yml: the pattern no longer matches the file")
	}
}

// The compose file: three nodes whose environment makes a valid config
// (checked with the config package itself), distinct ids, volumes and host
// ports, one cluster membership naming them all; Prometheus scraping
// exactly their admin ports with the token the nodes require; the alert
// rules and the dashboard mounted where prometheus.yml and the Grafana
// provisioning look for them.
func TestComposeCluster(t *testing.T) {
	var c composeFile
	if err := yaml.Unmarshal(readRepoFile(t, "deploy/docker-compose.yml"), &c); err != nil {
		t.Fatalf("deploy/docker-compose.yml: %v", err)
	}
	var p promConfig
	if err := yaml.Unmarshal(readRepoFile(t, "deploy/prometheus.yml"), &p); err != nil {
		t.Fatalf("deploy/prometheus.yml: %v", err)
	}
	shellEnv := map[string]string{"RINGEX_ADMIN_TOKEN": "compose-test-token"}
	secretFile := secretFiles(t, c, shellEnv)

	var nodes, targets []string
	ids, hostPorts, volumes := map[uint32]string{}, map[string]string{}, map[string]string{}
	for name, svc := range c.Services {
		if svc.Environment["RINGEX_NODE_ID"] == "" {
			continue
		}
		nodes = append(nodes, name)
		if svc.Build == nil || svc.Build.Dockerfile != "deploy/Dockerfile" {
			t.Errorf("%s: not built from deploy/Dockerfile", name)
		} else if _, err := os.Stat(repoFile(t, filepath.Join("deploy", svc.Build.Context, svc.Build.Dockerfile))); err != nil {
			t.Errorf("%s: build: %v", name, err)
		}
		var environ []string
		for k, v := range svc.Environment {
			environ = append(environ, k+"="+secretFile(name, interpolate(v, shellEnv)))
		}
		cfg, err := config.Load("", environ)
		if err == nil {
			err = cfg.ReadTokenFile()
		}
		if err == nil {
			err = cfg.Validate()
		}
		if err != nil {
			t.Errorf("%s: its environment is not a valid config: %v", name, err)
			continue
		}
		if other, dup := ids[cfg.Node.ID]; dup {
			t.Errorf("%s and %s both have node id %d", name, other, cfg.Node.ID)
		}
		ids[cfg.Node.ID] = name
		if cfg.Admin.Token != shellEnv["RINGEX_ADMIN_TOKEN"] {
			t.Errorf("%s: admin token is not RINGEX_ADMIN_TOKEN (through the compose secret)", name)
		}
		_, adminPort, _ := strings.Cut(cfg.Admin.Listen, ":")
		targets = append(targets, name+":"+adminPort)
		if len(cfg.Cluster.Peers) != 3 {
			t.Errorf("%s: %d cluster peers, want 3", name, len(cfg.Cluster.Peers))
		}
		for _, port := range svc.Ports {
			if !strings.HasPrefix(port, "127.0.0.1:") {
				t.Errorf("%s: port %s is published beyond loopback", name, port)
			}
			host := strings.Split(port, ":")[1]
			if other, dup := hostPorts[host]; dup {
				t.Errorf("%s and %s both publish host port %s", name, other, host)
			}
			hostPorts[host] = name
		}
		for _, v := range svc.Volumes {
			vol := strings.Split(v, ":")[0]
			if other, dup := volumes[vol]; dup {
				t.Errorf("%s and %s share volume %s", name, other, vol)
			}
			volumes[vol] = name
			if _, ok := c.Volumes[vol]; !ok {
				t.Errorf("%s: volume %s is not declared", name, vol)
			}
		}
	}
	if len(nodes) != 3 {
		t.Fatalf("compose has %d ringex nodes (%v), want 3", len(nodes), nodes)
	}

	prom, ok := c.Services["prometheus"]
	if !ok {
		t.Fatal("compose has no prometheus service")
	}
	if len(p.ScrapeConfigs) != 1 || p.ScrapeConfigs[0].JobName != "ringex" {
		t.Fatalf("prometheus.yml: want one scrape job named ringex (the alerts select job=\"ringex\")")
	}
	var scraped []string
	for _, sc := range p.ScrapeConfigs[0].StaticConfigs {
		scraped = append(scraped, sc.Targets...)
	}
	sort.Strings(scraped)
	sort.Strings(targets)
	if strings.Join(scraped, " ") != strings.Join(targets, " ") {
		t.Errorf("prometheus.yml scrapes %v, the compose nodes' admin ports are %v", scraped, targets)
	}
	cred := p.ScrapeConfigs[0].Authorization.CredentialsFile
	secret, ok := strings.CutPrefix(cred, "/run/secrets/")
	if !ok || !contains(prom.Secrets, secret) || c.Secrets[secret]["environment"] != "RINGEX_ADMIN_TOKEN" {
		t.Errorf("prometheus reads the token from %s: want a compose secret from RINGEX_ADMIN_TOKEN given to the prometheus service", cred)
	}
	mounts := map[string]string{} // container path -> repo path
	for _, v := range prom.Volumes {
		parts := strings.Split(v, ":")
		if strings.HasPrefix(parts[0], "./") {
			mounts[parts[1]] = filepath.Join("deploy", parts[0])
		}
	}
	if mounts["/etc/prometheus/prometheus.yml"] != filepath.Join("deploy", "prometheus.yml") {
		t.Errorf("prometheus service does not mount deploy/prometheus.yml as its config: %v", mounts)
	}
	for _, rf := range p.RuleFiles {
		if got := mounts[filepath.Join("/etc/prometheus", rf)]; got != filepath.Join("deploy", "alerts.yml") {
			t.Errorf("rule file %s resolves to %q in the container, want deploy/alerts.yml", rf, got)
		}
	}

	graf, ok := c.Services["grafana"]
	if !ok {
		t.Fatal("compose has no grafana service")
	}
	found := false
	for _, v := range graf.Volumes {
		if strings.HasPrefix(v, "./grafana/ringex-dashboard.json:/var/lib/grafana/dashboards/") {
			found = true
		}
	}
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, "deploy/grafana/provisioning/dashboards/ringex.yml"), &prov); err != nil {
		t.Fatal(err)
	}
	if !found || len(prov.Providers) != 1 || prov.Providers[0].Options.Path != "/var/lib/grafana/dashboards" {
		t.Errorf("grafana: the dashboard is not mounted where the provisioning looks for it")
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// promtool, when installed (the Debian prometheus package ships it), checks
// the rules and the config as Prometheus itself reads them.
func TestPromtoolChecks(t *testing.T) {
	tool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus; .ci/run installs it): skipping promtool check")
	}
	dir := t.TempDir()
	token := filepath.Join(dir, "admin_token")
	os.WriteFile(token, []byte("t"), 0o600)
	cfg := strings.ReplaceAll(string(readRepoFile(t, "deploy/prometheus.yml")), "/run/secrets/admin_token", token)
	os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600)
	os.WriteFile(filepath.Join(dir, "alerts.yml"), readRepoFile(t, "deploy/alerts.yml"), 0o600)
	for _, args := range [][]string{{"check", "rules", filepath.Join(dir, "alerts.yml")}, {"check", "config", filepath.Join(dir, "prometheus.yml")}} {
		out, err := exec.Command(tool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// Every alert fires when it should, for the instance in trouble, and
// neither before its `for:` has passed nor for the healthy one beside it
// (promtool's rule unit tests: testdata/alerts_test.yml).
func TestAlertsFire(t *testing.T) {
	tool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus; .ci/run installs it): skipping the alert tests")
	}
	dir := t.TempDir()
	for name, from := range map[string]string{"alerts.yml": "deploy/alerts.yml", "alerts_test.yml": "test/prometheus/testdata/alerts_test.yml"} {
		if err := os.WriteFile(filepath.Join(dir, name), readRepoFile(t, from), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(tool, "test", "rules", filepath.Join(dir, "alerts_test.yml")).CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// Every alert in deploy/alerts.yml has a unit test in
// testdata/alerts_test.yml: a new one without is a failure here.
func TestEveryAlertIsTested(t *testing.T) {
	tests := string(readRepoFile(t, "test/prometheus/testdata/alerts_test.yml"))
	for _, g := range alertRules(t).Groups {
		for _, r := range g.Rules {
			if !strings.Contains(tests, "alertname: "+r.Alert+"\n") {
				t.Errorf("alert %s has no test in test/prometheus/testdata/alerts_test.yml", r.Alert)
			}
		}
	}
}

// Every alert has a section in docs/runbook.md — what it saw, what it
// costs, where to look, what to do — in the order of deploy/alerts.yml.
func TestEveryAlertHasARunbook(t *testing.T) {
	var sections []string
	for _, line := range strings.Split(string(readRepoFile(t, "docs/runbook.md")), "\n") {
		if name, ok := strings.CutPrefix(line, "## "); ok {
			sections = append(sections, name)
		}
	}
	var alerts []string
	for _, g := range alertRules(t).Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
		}
	}
	if !slices.Equal(sections, alerts) {
		t.Fatalf("docs/runbook.md has sections %v;\ndeploy/alerts.yml has alerts %v", sections, alerts)
	}
}

// unitFile reads a systemd unit: section -> key -> value (one value a
// key; comments and blank lines skipped).
func unitFile(t *testing.T, text string) map[string]map[string]string {
	t.Helper()
	sections := map[string]map[string]string{}
	var cur map[string]string
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			cur = map[string]string{}
			sections[strings.Trim(line, "[]")] = cur
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || cur == nil {
				t.Fatalf("unit line %d: %q", i+1, line)
			}
			cur[k] = v
		}
	}
	return sections
}

// unitSeconds reads a systemd time span given in seconds ("2", "2s").
func unitSeconds(t *testing.T, key, v string) float64 {
	t.Helper()
	n, err := strconv.ParseFloat(strings.TrimSuffix(v, "s"), 64)
	if err != nil {
		t.Fatalf("%s=%s: want seconds", key, v)
	}
	return n
}

// deploy/ringex.service restarts a node that failed stop, but not
// forever: systemd's default start limit (5 in 10 s) is never reached
// at RestartSec=2, so a node that failed at every start was restarted
// every 2 s for good — rarely down 30 s straight, so RingexNodeDown
// stayed quiet. The limit must be reached by a node failing as it
// starts, and not by one failing a minute apart (RingexNodeRestarting
// pages for that one). systemd-analyze, where installed, verifies the
// unit as systemd reads it.
func TestSystemdUnitGivesUpOnAPermanentFault(t *testing.T) {
	text := string(readRepoFile(t, "deploy/ringex.service"))
	unit := unitFile(t, text)
	svc := unit["Service"]
	if svc["Restart"] != "on-failure" {
		t.Errorf("Restart=%s, want on-failure", svc["Restart"])
	}
	restart := unitSeconds(t, "RestartSec", svc["RestartSec"])
	// Start limits belong in [Unit]; in [Service] only old systemd reads them.
	intervalText, burstText := unit["Unit"]["StartLimitIntervalSec"], unit["Unit"]["StartLimitBurst"]
	if intervalText == "" || burstText == "" {
		t.Fatalf("[Unit] has no StartLimitIntervalSec= and StartLimitBurst=: a node failing at every start is restarted every %gs for good", restart)
	}
	interval := unitSeconds(t, "StartLimitIntervalSec", intervalText)
	burst, err := strconv.Atoi(burstText)
	if err != nil || burst < 1 {
		t.Fatalf("StartLimitBurst=%s", burstText)
	}
	// The start after burst starts is refused when it comes within the
	// interval of the first: burst restarts later.
	if span := float64(burst) * restart; span >= interval {
		t.Errorf("a node failing as it starts makes %d+1 starts in %gs, not within StartLimitIntervalSec=%g: never stopped", burst, span, interval)
	}
	if span := float64(burst) * (60 + restart); span < interval {
		t.Errorf("a node failing once a minute makes %d+1 starts within StartLimitIntervalSec=%g: stopped for an intermittent fault", burst, interval)
	}

	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed: unit not verified")
	}
	// verify checks that ExecStart's binary exists: point it at one that does.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ringex.service")
	os.WriteFile(path, []byte(strings.ReplaceAll(text, "/usr/local/bin/ringex", self)), 0o600)
	out, err := exec.Command(tool, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
