package prometheus

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/internal/testnode"
)

// prometheusBinary finds the server, or skips the test where it is not
// installed — except in CI, where .ci/run installs it, so its absence is
// a failure there.
func prometheusBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/prometheus"); err == nil {
		return "/usr/bin/prometheus"
	}
	if os.Getenv("CI") != "" {
		t.Fatal("prometheus binary not found, but .ci/run installs it (Debian package prometheus)")
	}
	t.Skip("prometheus binary not installed (apt-get install prometheus; .ci/run does it): skipping the real-Prometheus test")
	return ""
}

// promServer is a Prometheus process on a loopback port with its storage
// in a temporary directory.
type promServer struct {
	base string
	log  *testkit.SyncBuffer
}

// startPrometheus writes a config scraping target every second as job
// "ringex" with deploy/alerts.yml as its rules, and starts the server.
func startPrometheus(t *testing.T, ctx context.Context, bin, target string) *promServer {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "alerts.yml"), readRepoFile(t, "deploy/alerts.yml"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [alerts.yml]
scrape_configs:
  - job_name: ringex
    static_configs:
      - targets: [%q]
`, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := testkit.ReserveAddrs(t, 1)[0] // Prometheus binds it right after
	log := &testkit.SyncBuffer{}
	cmd := exec.CommandContext(ctx, bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second // then SIGKILL
	waited, err := testkit.StartTied(cmd)
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{}) // closed: every reader sees it
	go func() { <-waited; close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	p := &promServer{base: "http://" + addr, log: log}
	p.waitFor(t, ctx, "ready", func() (bool, error) {
		select {
		case <-exited:
			return false, fmt.Errorf("prometheus exited")
		default:
		}
		resp, err := http.Get(p.base + "/-/ready")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	return p
}

// waitFor polls cond until it holds, fails or ctx ends.
func (p *promServer) waitFor(t *testing.T, ctx context.Context, what string, cond func() (bool, error)) {
	t.Helper()
	var last error
	for {
		ok, err := cond()
		if ok {
			return
		}
		if err != nil {
			last = err
			if strings.Contains(err.Error(), "exited") {
				t.Fatalf("prometheus: %v; its log:\n%s", err, p.log.String())
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("prometheus: %s not reached in time (last error: %v); its log:\n%s", what, last, p.log.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// get calls an HTTP API endpoint and decodes its data field.
func (p *promServer) get(path string, params url.Values, data any) error {
	resp, err := http.Get(p.base + path + "?" + params.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: %s: %w", path, resp.Status, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s %s: %s", path, params.Encode(), body.Error)
	}
	return json.Unmarshal(body.Data, data)
}

type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s sample) float() float64 {
	v, _ := s.Value[1].(string)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// query runs an instant PromQL query and returns its vector.
func (p *promServer) query(expr string) ([]sample, error) {
	var data struct {
		ResultType string   `json:"resultType"`
		Result     []sample `json:"result"`
	}
	if err := p.get("/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: result type %s", expr, data.ResultType)
	}
	return data.Result, nil
}

// grafanaToPromQL turns a dashboard expression into one Prometheus runs:
// Grafana's variables get the values a person would see with all nodes
// selected, and label_values(m, l) becomes the query behind it.
var labelValues = regexp.MustCompile(`^label_values\(\s*([^,]+),\s*([a-z_]+)\s*\)$`)

func grafanaToPromQL(expr string) string {
	if m := labelValues.FindStringSubmatch(expr); m != nil {
		return "group by (" + m[2] + ") (" + m[1] + ")"
	}
	return strings.NewReplacer("$__rate_interval", "10s", "$__interval", "2s", "$instance", ".*").Replace(expr)
}

// A real Prometheus scrapes a trading node; through its HTTP API the
// end-to-end latency histogram gives sane quantiles, the alert rules load
// and evaluate without errors, and every dashboard query runs — each with
// data, except the ones that filter for non-zero rates of rare events.
func TestRealPrometheus(t *testing.T) {
	bin := prometheusBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// No fsync: the disk is shared with the other test packages running
	// at the same time (the crash and cluster tests fsync hard), and
	// RingexFsyncSlow rightly goes pending when fsyncs take 10 ms.
	a := testnode.Start(t, map[string]string{"rings.input_slots": "4096", "rings.output_slots": "4096", "journal.sync": "none"})
	subscribe(t, a)
	tr := newTrader(t, a)
	// A snapshot, so that the snapshot panels have one to show.
	resp, err := http.Post("http://"+a.Admin+"/snapshot", "", nil)
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("POST /snapshot: %v %v", resp, err)
	}
	resp.Body.Close()
	stop, traded := make(chan struct{}), make(chan error, 1)
	go func() { // keep trading, so every rate has increases to show
		for {
			select {
			case <-stop:
				traded <- nil
				return
			case <-time.After(10 * time.Millisecond):
			}
			if err := tr.round(); err != nil {
				traded <- err
				return
			}
		}
	}()
	defer func() {
		close(stop)
		if err := <-traded; err != nil {
			t.Errorf("trading: %v", err)
		}
	}()

	p := startPrometheus(t, ctx, bin, a.Admin)

	p.waitFor(t, ctx, "the node's target up", func() (bool, error) {
		var data struct {
			ActiveTargets []struct {
				Health    string `json:"health"`
				LastError string `json:"lastError"`
				Labels    map[string]string
			} `json:"activeTargets"`
		}
		if err := p.get("/api/v1/targets", nil, &data); err != nil {
			return false, err
		}
		for _, tg := range data.ActiveTargets {
			if tg.Labels["job"] == "ringex" && tg.Health == "up" {
				return true, nil
			}
			if tg.LastError != "" {
				return false, fmt.Errorf("scrape: %s", tg.LastError)
			}
		}
		return false, nil
	})

	// The end-to-end latency through Prometheus: rate over 10 s of 1 s
	// scrapes needs a few scrapes with trading in between.
	quantile := func(q string) string {
		return `histogram_quantile(` + q + `, sum by (le) (rate(ringex_end_to_end_latency_seconds_bucket{job="ringex"}[10s])))`
	}
	var p50, p99 float64
	p.waitFor(t, ctx, "an end-to-end latency quantile", func() (bool, error) {
		r99, err := p.query(quantile("0.99"))
		if err != nil || len(r99) != 1 || math.IsNaN(r99[0].float()) {
			return false, err
		}
		r50, err := p.query(quantile("0.5"))
		if err != nil || len(r50) != 1 {
			return false, err
		}
		p50, p99 = r50[0].float(), r99[0].float()
		return true, nil
	})
	// Sane: a positive latency below a second (the node runs on loopback;
	// the top finite bucket is ~131 ms), and p50 ≤ p99.
	if !(p50 > 0 && p50 <= p99 && p99 < 1) {
		t.Fatalf("end-to-end latency p50 %g s, p99 %g s: not sane", p50, p99)
	}
	t.Logf("end-to-end latency through Prometheus: p50 %.1f µs, p99 %.1f µs", p50*1e6, p99*1e6)

	// Prometheus' count of observations is the node's, as of a scrape.
	cnt, err := p.query(`ringex_end_to_end_latency_seconds_count{job="ringex"}`)
	if err != nil || len(cnt) != 1 || cnt[0].float() < 1 {
		t.Fatalf("observation count %v: %v", cnt, err)
	}
	fams := scrape(t, a.Admin)
	if now := fams["ringex_end_to_end_latency_seconds"].GetMetric()[0].GetHistogram().GetSampleCount(); float64(now) < cnt[0].float() {
		t.Fatalf("Prometheus has %g observations, the node only %d", cnt[0].float(), now)
	}

	// The alert rules: all loaded, evaluated, healthy, and none firing on
	// a healthy node.
	wantRules := 0
	for _, g := range alertRules(t).Groups {
		wantRules += len(g.Rules)
	}
	p.waitFor(t, ctx, "every alert rule evaluated", func() (bool, error) {
		var data struct {
			Groups []struct {
				Rules []struct {
					Name           string `json:"name"`
					Health         string `json:"health"`
					LastError      string `json:"lastError"`
					State          string `json:"state"`
					LastEvaluation string `json:"lastEvaluation"`
				} `json:"rules"`
			} `json:"groups"`
		}
		if err := p.get("/api/v1/rules", nil, &data); err != nil {
			return false, err
		}
		n := 0
		for _, g := range data.Groups {
			for _, r := range g.Rules {
				if r.LastError != "" || r.Health == "err" {
					t.Fatalf("alert %s: %s", r.Name, r.LastError)
				}
				if r.Health != "ok" || strings.HasPrefix(r.LastEvaluation, "0001-") {
					return false, nil
				}
				if r.State != "inactive" && !onTheSharedMachine[r.Name] {
					t.Errorf("alert %s is %s on a healthy node", r.Name, r.State)
				}
				n++
			}
		}
		return n == wantRules, fmt.Errorf("%d of %d rules evaluated", n, wantRules)
	})

	// Every alert that compares with a number has data without the
	// comparison, so it can fire: an expression whose series never match
	// (a subtraction of series with different labels, say) is always
	// empty, and its alert never fires.
	for _, g := range alertRules(t).Groups {
		for _, r := range g.Rules {
			cut := trailingThreshold.FindStringIndex(r.Expr)
			if cut == nil {
				continue
			}
			res, err := p.query(r.Expr[:cut[0]])
			if err != nil || len(res) == 0 {
				t.Errorf("alert %s: no data for %s (%v)", r.Alert, r.Expr[:cut[0]], err)
			}
		}
	}

	// Every dashboard query runs; those that show a rate or a level have
	// data. Expressions ending in "> 0" hide zero rates, so they may be
	// empty (no disconnects happen here).
	exprs := dashboardExprs(t)
	for _, where := range sortedKeys(exprs) {
		expr := grafanaToPromQL(exprs[where])
		res, err := p.query(expr)
		if err != nil {
			t.Errorf("dashboard %s: %v", where, err)
			continue
		}
		if len(res) == 0 && !strings.HasSuffix(strings.TrimSpace(exprs[where]), "> 0") {
			t.Errorf("dashboard %s: no data for %s", where, expr)
		}
	}
}

// trailingThreshold is an alert expression's final comparison with a
// number.
var trailingThreshold = regexp.MustCompile(`\s*(==|!=|>=|<=|>|<)\s*[0-9.]+\s*$`)

// onTheSharedMachine are the alerts that judge the machine the test node
// runs on, shared with every other test running meanwhile, rather than
// the node. The filesystem it writes on: its free share may be low, and
// a few seconds of their writes extrapolate to a full disk. The CPU:
// with the machine starved (load 8–13 on 2 cores) a garbage collection
// waits that long for the threads it must stop to be scheduled, and
// RingexGCPauseLong rightly fires for the pause every goroutine of the
// node sat through (over 32 ms, once). TestAlertsFire tests them on
// series made for them.
var onTheSharedMachine = map[string]bool{"RingexDiskFillingUp": true, "RingexDiskLow": true, "RingexGCPauseLong": true}
