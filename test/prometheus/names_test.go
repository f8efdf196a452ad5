package prometheus

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ringex/ringex/internal/testnode"
)

// docRow is one row of the table in docs/metrics.md.
type docRow struct {
	typ    string
	labels []string
}

var backticked = regexp.MustCompile("`([^`]+)`")

// docTable reads the metrics table: | `name` | type | `label` = …, `label` | meaning |.
func docTable(t *testing.T) map[string]docRow {
	t.Helper()
	rows := map[string]docRow{}
	for _, line := range strings.Split(string(readRepoFile(t, "docs/metrics.md")), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 6 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`ringex_") {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		var labels []string
		for _, m := range backticked.FindAllStringSubmatch(cells[3], -1) {
			labels = append(labels, m[1])
		}
		if _, dup := rows[name]; dup {
			t.Errorf("docs/metrics.md lists %s twice", name)
		}
		rows[name] = docRow{typ: strings.TrimSpace(cells[2]), labels: labels}
	}
	if len(rows) == 0 {
		t.Fatal("docs/metrics.md: no metrics table found")
	}
	return rows
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// docs/metrics.md documents exactly what a node serves: every name, with
// its type and label names.
func TestDocsListEveryMetric(t *testing.T) {
	_, s := tradedNode(t)
	docs := docTable(t)
	for _, name := range sortedKeys(s.types) {
		row, ok := docs[name]
		if !ok {
			t.Errorf("%s (%s) is served but not documented in docs/metrics.md", name, s.types[name])
			continue
		}
		if row.typ != s.types[name] {
			t.Errorf("%s: documented as %s, served as %s", name, row.typ, s.types[name])
		}
		served := sortedKeys(s.labels[name])
		docLabels := append([]string(nil), row.labels...)
		sort.Strings(docLabels)
		if strings.Join(served, ",") != strings.Join(docLabels, ",") {
			t.Errorf("%s: documented labels %v, served labels %v", name, docLabels, served)
		}
	}
	for _, name := range sortedKeys(docs) {
		if _, ok := s.types[name]; !ok {
			t.Errorf("%s is documented in docs/metrics.md but not served", name)
		}
	}
}

var (
	metricName = regexp.MustCompile(`\bringex_[a-z0-9_]+\b`)
	// Label names in grouping clauses and selectors.
	grouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	selector = regexp.MustCompile(`\{([^}]*)\}`)
	matcher  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
)

// exprProblems lists the ringex metrics and labels an expression uses that
// the node does not serve, and records in used the families it uses.
func exprProblems(expr string, s served, used map[string]bool) []string {
	var problems []string
	labels := map[string]bool{"instance": true, "job": true, "le": true, "__name__": true}
	for _, ls := range s.labels {
		for l := range ls {
			labels[l] = true
		}
	}
	for _, m := range metricName.FindAllString(expr, -1) {
		fam, ok := s.family(m)
		if !ok {
			problems = append(problems, m+" is not served by a node")
			continue
		}
		used[fam] = true
	}
	var names []string
	for _, g := range grouping.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(g[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				names = append(names, l)
			}
		}
	}
	for _, sel := range selector.FindAllStringSubmatch(expr, -1) {
		for _, m := range matcher.FindAllStringSubmatch(sel[1], -1) {
			names = append(names, m[1])
		}
	}
	for _, l := range names {
		if !labels[l] {
			problems = append(problems, "label "+l+" is on no served metric")
		}
	}
	return problems
}

func checkExpr(t *testing.T, where, expr string, s served, used map[string]bool) {
	t.Helper()
	for _, p := range exprProblems(expr, s, used) {
		t.Errorf("%s: %s (expr %s)", where, p, expr)
	}
}

// dashboardExprs returns every PromQL expression of a Grafana dashboard:
// panel targets (nested rows included) and template variable queries.
func dashboardExprs(t *testing.T) map[string]string {
	t.Helper()
	var d struct {
		Title  string            `json:"title"`
		UID    string            `json:"uid"`
		Panels []json.RawMessage `json:"panels"`
		Templ  struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(readRepoFile(t, "deploy/grafana/ringex-dashboard.json"), &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if d.Title == "" || d.UID == "" {
		t.Fatal("dashboard has no title or uid")
	}
	exprs := map[string]string{}
	ids := map[int]bool{}
	type panel struct {
		ID      int               `json:"id"`
		Title   string            `json:"title"`
		Type    string            `json:"type"`
		Panels  []json.RawMessage `json:"panels"`
		Targets []struct {
			Expr  string `json:"expr"`
			RefID string `json:"refId"`
		} `json:"targets"`
	}
	var walk func([]json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("dashboard panel: %v", err)
			}
			if ids[p.ID] {
				t.Errorf("dashboard: panel id %d used twice", p.ID)
			}
			ids[p.ID] = true
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("dashboard panel %q has no queries", p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("dashboard panel %q: target %s has no expr", p.Title, tg.RefID)
				}
				exprs["panel "+p.Title+" "+tg.RefID] = tg.Expr
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templ.List {
		if v.Type != "query" {
			continue
		}
		switch q := v.Query.(type) {
		case string:
			exprs["variable "+v.Name] = q
		case map[string]any:
			s, _ := q["query"].(string)
			exprs["variable "+v.Name] = s
		}
	}
	return exprs
}

type rulesFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func alertRules(t *testing.T) rulesFile {
	t.Helper()
	var r rulesFile
	if err := yaml.Unmarshal(readRepoFile(t, "deploy/alerts.yml"), &r); err != nil {
		t.Fatalf("deploy/alerts.yml: %v", err)
	}
	return r
}

// The dashboard, the alert rules and prometheus.yml use only metrics and
// labels a node serves; the dashboard shows every served metric, and the
// alerts the issue asks for exist.
func TestDeployFilesUseServedMetrics(t *testing.T) {
	_, s := tradedNode(t)

	used := map[string]bool{}
	exprs := dashboardExprs(t)
	for _, where := range sortedKeys(exprs) {
		checkExpr(t, "dashboard "+where, exprs[where], s, used)
	}
	for _, name := range sortedKeys(s.types) {
		if !used[name] {
			t.Errorf("the dashboard shows no panel for %s", name)
		}
	}

	alerts := map[string]bool{}
	for _, g := range alertRules(t).Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			checkExpr(t, "alert "+r.Alert, r.Expr, s, map[string]bool{})
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("alert %s: needs a severity label and a summary", r.Alert)
			}
		}
	}
	for _, want := range []string{"RingexNodeDown", "RingexConsumerLag", "RingexFsyncSlow", "RingexRejectRate"} {
		if !alerts[want] {
			t.Errorf("deploy/alerts.yml has no %s alert", want)
		}
	}

	// prometheus.yml: any metric name in it (relabelling, say) is served.
	for _, m := range metricName.FindAllString(string(readRepoFile(t, "deploy/prometheus.yml")), -1) {
		if _, ok := s.family(m); !ok {
			t.Errorf("deploy/prometheus.yml: %s is not served", m)
		}
	}
}

// runtimeMetricName matches the names of the client library's process
// and Go collectors, which exprProblems (ringex_ names only) leaves alone.
var runtimeMetricName = regexp.MustCompile(`\b(?:process|go)_[a-z0-9_]+\b`)

// The alert rules' process_* and go_* names are served too. A node served
// none, so no rule could count restarts, and a node crash-looping (down a
// scrape or two a minute, never RingexNodeDown's 30 s) paged no one.
// RingexNodeRestarting counts them by ringex_start_time_seconds, which
// changes at a restart in place too: process_start_time_seconds, the
// kernel's start of the process, stays the same across an exec.
func TestAlertsUseServedProcessMetrics(t *testing.T) {
	a := testnode.Start(t, map[string]string{"rings.input_slots": "4096", "rings.output_slots": "4096"})
	fams := scrape(t, a.Admin)
	for _, g := range alertRules(t).Groups {
		for _, r := range g.Rules {
			for _, m := range runtimeMetricName.FindAllString(r.Expr, -1) {
				if _, ok := fams[m]; !ok {
					t.Errorf("alert %s: %s is not served by a node", r.Alert, m)
				}
			}
			if r.Alert == "RingexNodeRestarting" && !strings.Contains(r.Expr, "changes(ringex_start_time_seconds") {
				t.Errorf("RingexNodeRestarting (%s) does not count the changes of ringex_start_time_seconds", r.Expr)
			}
			if strings.Contains(r.Expr, "process_start_time_seconds") {
				t.Errorf("alert %s uses process_start_time_seconds, which a restart in place keeps", r.Alert)
			}
		}
	}
	if _, ok := fams["ringex_start_time_seconds"]; !ok {
		t.Error("a node serves no ringex_start_time_seconds: restarts cannot be counted")
	}
}

// helpSays holds, for the metrics whose HELP an on-call engineer could
// misread, what it must say: what is timed or counted, how it is
// sampled, and the unit a name without one counts in. The fsync
// histogram's said "one journal fdatasync" (it times the batch's write
// too), the snapshot pause's gave no hint that it is the longest single
// wait of each snapshot, not their sum, the ring gauges named no unit,
// and bytes in and disconnects did not say they are order entry's alone
// (market data has ringex_marketdata_closed_total).
var helpSays = map[string][]string{
	"ringex_journal_fsync_seconds":         {"write and fdatasync", "one per batch"},
	"ringex_snapshot_engine_pause_seconds": {"longest", "one per snapshot"},
	"ringex_consumer_lag":                  {"slots"},
	"ringex_ring_occupancy":                {"slots"},
	"ringex_ring_capacity":                 {"slots"},
	"ringex_bytes_in_total":                {"order-entry"},
	"ringex_disconnects_total":             {"order-entry", "once"},
	"ringex_end_to_end_latency_seconds":    {"once per write", "oldest report"},
	"ringex_stage_latency_seconds":         {"once per stage batch", "oldest input"},
}

// Every metric a node serves has HELP text, a sentence; those in
// helpSays say what helpSays holds (in any case).
func TestHelpSaysWhatIsMeasured(t *testing.T) {
	a := testnode.Start(t, map[string]string{"rings.input_slots": "4096", "rings.output_slots": "4096"})
	fams := scrape(t, a.Admin)
	for _, name := range sortedKeys(fams) {
		if !strings.HasPrefix(name, "ringex_") {
			continue
		}
		if help := fams[name].GetHelp(); !strings.HasSuffix(help, ".") || len(help) < len(name)/2 {
			t.Errorf("%s: HELP %q is no sentence saying what it counts", name, help)
		}
	}
	for _, name := range sortedKeys(helpSays) {
		f, ok := fams[name]
		if !ok {
			t.Errorf("%s is not served", name)
			continue
		}
		for _, want := range helpSays[name] {
			if !strings.Contains(strings.ToLower(f.GetHelp()), want) {
				t.Errorf("%s: HELP %q does not say %q", name, f.GetHelp(), want)
			}
		}
	}
}

// A name the node does not serve is caught (the check is not vacuous).
func TestCheckExprCatchesUnknownNames(t *testing.T) {
	s := served{types: map[string]string{"ringex_x_seconds": "histogram", "ringex_y_total": "counter"},
		labels: map[string]map[string]struct{}{"ringex_y_total": {"reason": {}}}}
	for expr, bad := range map[string]bool{
		`rate(ringex_x_seconds_bucket[1m])`:                    false,
		`sum by (reason) (rate(ringex_y_total[1m]))`:           false,
		`rate(ringex_y_total_bucket[1m])`:                      true, // not a histogram
		`rate(ringex_z_total[1m])`:                             true,
		`sum by (cause) (rate(ringex_y_total[1m]))`:            true,
		`ringex_y_total{reason="x", port=~"gateway"}`:          true,
		`ringex_y_total{instance=~"$instance",reason!="none"}`: false,
	} {
		if p := exprProblems(expr, s, map[string]bool{}); (len(p) > 0) != bad {
			t.Errorf("exprProblems(%s) = %q, want problems: %v", expr, p, bad)
		}
	}
}

var (
	// labelSelector is a series selector with its matchers, in a doc or
	// in JSON (quotes escaped).
	labelSelector = regexp.MustCompile(`\b(ringex_[a-z0-9_]+)\{([^}]*)\}`)
	// literalMatcher is an equality matcher on a literal value.
	literalMatcher = regexp.MustCompile(`([a-z_]+)\s*=\s*\\?"([^"$\\]*)\\?"`)
)

// Every label value the docs and the deploy files select a ringex
// series by (cause="slow_consumer") is one the node serves for that
// metric, and docs/metrics.md lists each metric's causes as served:
// order entry's disconnect causes are spelt with '_', the market-data
// port's with '-' — both released label values, neither renamed — so
// a cause written the other way selects nothing, and an alert on it
// never fires.
func TestDocumentedLabelValuesAreServed(t *testing.T) {
	_, s := tradedNode(t)
	files := []string{"README.md", "proto/README.md", "docs/metrics.md", "docs/runbook.md",
		"deploy/alerts.yml", "deploy/grafana/ringex-dashboard.json"}
	causes := 0 // the cause matchers checked: the files select by some
	for _, f := range files {
		for _, sel := range labelSelector.FindAllStringSubmatch(string(readRepoFile(t, f)), -1) {
			fam, ok := s.family(sel[1])
			if !ok {
				continue // a name not served is TestDeployFilesUseServedMetrics's and TestDocsListEveryMetric's
			}
			for _, m := range literalMatcher.FindAllStringSubmatch(sel[2], -1) {
				if m[1] == "job" || m[1] == "instance" || m[1] == "le" {
					continue
				}
				if m[1] == "cause" {
					causes++
				}
				if !s.values[fam][m[1]][m[2]] {
					t.Errorf("%s: %s{%s=%q}: the node serves no such %s (it serves %v)", f, sel[1], m[1], m[2], m[1], sortedKeys(s.values[fam][m[1]]))
				}
			}
		}
	}
	if causes == 0 {
		t.Error("no cause=\"…\" selector found in the docs and deploy files: the pattern no longer matches them")
	}
	for _, name := range []string{"ringex_disconnects_total", "ringex_marketdata_closed_total"} {
		row := strings.Split(docLine(t, name), "|")[3]
		list, _ := strings.CutPrefix(strings.TrimSpace(row), "`cause` = ")
		var listed []string
		for _, v := range strings.Split(list, ",") {
			listed = append(listed, strings.TrimSpace(v))
		}
		sort.Strings(listed)
		if served := sortedKeys(s.values[name]["cause"]); strings.Join(listed, ",") != strings.Join(served, ",") {
			t.Errorf("docs/metrics.md lists %s's causes %v, the node serves %v", name, listed, served)
		}
	}
}

// docLine is the line of docs/metrics.md's table documenting name.
func docLine(t *testing.T, name string) string {
	t.Helper()
	for _, line := range strings.Split(string(readRepoFile(t, "docs/metrics.md")), "\n") {
		if strings.HasPrefix(line, "| `"+name+"` |") {
			return line
		}
	}
	t.Fatalf("docs/metrics.md does not document %s", name)
	return ""
}
