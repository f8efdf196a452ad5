package deploy

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ringex/ringex/config"
)

func read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(repoFile(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The README tells how to use `ringex client` with the compose cluster: on
// the host, given every member's gateway. A follower redirects a logon to
// the leader's gateway as cluster.peers names it, so each member's must
// be a port the compose file publishes on the host's loopback, and the
// README must list them all. Before, it said to run the client inside
// node1's container (`--addr node2:7400`): there a redirect to another
// member's 127.0.0.1 port reached node1's own loopback, where nothing
// listens — the command failed whenever node1 did not lead.
func TestReadmeComposeClientInstructionFollowsTheRedirect(t *testing.T) {
	readme := read(t, "README.md")
	m := regexp.MustCompile(`ringex client order --addr\s+(\S+)`).FindStringSubmatch(readme[strings.Index(readme, "In the compose cluster only the leader takes orders"):])
	if m == nil {
		t.Fatal("the README says no more how to send an order to the compose cluster")
	}
	given := strings.Split(m[1], ",")
	var c struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
			Ports       []string          `yaml:"ports"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(read(t, "deploy/docker-compose.yml")), &c); err != nil {
		t.Fatal(err)
	}
	for name, svc := range c.Services {
		peers := svc.Environment["RINGEX_CLUSTER_PEERS"]
		if peers == "" {
			continue
		}
		cfg := config.Default()
		if err := cfg.Set("cluster.peers", peers); err != nil {
			t.Fatal(err)
		}
		for _, p := range cfg.Cluster.Peers {
			member := fmt.Sprintf("node%d", p.ID)
			host, port, _ := net.SplitHostPort(p.Gateway)
			if !config.IsLoopback(host) || !slices.Contains(c.Services[member].Ports, fmt.Sprintf("%s:%s:7400", host, port)) {
				t.Errorf("%s names %s's gateway %s, which the compose file does not publish on the host's loopback (%v): a redirect there reaches nothing", name, member, p.Gateway, c.Services[member].Ports)
			}
			if !slices.Contains(given, p.Gateway) {
				t.Errorf("the README's --addr %s leaves out %s's gateway %s", m[1], member, p.Gateway)
			}
		}
	}
}

// The runbook's remedies for a slow or failing journal disk are to move
// journal.dir to another disk (RingexFsyncSlow, RingexJournalIOError),
// and default.yaml says the journal "may be on a disk of its own". The
// systemd unit runs the node with ProtectSystem=strict and
// ReadWritePaths=/var/lib/ringex only: a directory outside it is
// read-only to the node, which then fails at its start ("read-only file
// system"). The unit and the runbook say to add it to ReadWritePaths;
// before, neither did.
func TestRunbookJournalMoveWorksUnderTheSystemdUnit(t *testing.T) {
	unit := read(t, "deploy/ringex.service")
	runbook := read(t, "docs/runbook.md")
	if !strings.Contains(unit, "ProtectSystem=strict") {
		t.Skip("the unit no longer makes the filesystem read-only")
	}
	if !strings.Contains(runbook, "journal (`journal.dir`) to a faster one") && !strings.Contains(runbook, "move the journal (`journal.dir`)") {
		t.Skip("the runbook no longer advises moving journal.dir")
	}
	var rw []string
	for _, line := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(line, "ReadWritePaths="); ok {
			rw = append(rw, strings.Fields(v)...)
		}
	}
	// Where the README's Deploy row and the unit's header tell an
	// operator what to change for another disk.
	mentions := strings.Count(unit, "ReadWritePaths") - len(rw) // outside the directive itself
	if mentions == 0 && !strings.Contains(runbook, "ReadWritePaths") {
		t.Errorf("the runbook advises moving journal.dir to another disk, but deploy/ringex.service (ProtectSystem=strict) lets the node write only %v, and neither the unit nor the runbook says to add the new directory to ReadWritePaths=: the node would fail at its start with EROFS", rw)
	}
}

// A fenced member exits with status 4, which the systemd unit and
// deploy/cluster.sh do not restart (TestClusterScriptDoesNotRestartAFencedNode).
// Compose has no restart policy by exit status: every one that restarts a
// failed node restarts a fenced one too. The compose file used
// `restart: unless-stopped` and said nothing of it, and an operator of
// the compose cluster read nowhere how to keep a fenced member from
// starting again about once a minute for good. The runbook names the
// compose file's policy as it is, and both say how: stop the container,
// and take its service out before the next `up`.
func TestComposeSaysHowToKeepAFencedMemberDown(t *testing.T) {
	compose := read(t, "deploy/docker-compose.yml")
	var c struct {
		Services map[string]struct {
			Restart     string            `yaml:"restart"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(compose), &c); err != nil {
		t.Fatal(err)
	}
	policy := c.Services["node1"].Restart
	if policy == "" || policy == "no" {
		t.Skip("the compose file restarts no node")
	}
	for name, svc := range c.Services {
		if svc.Environment["RINGEX_NODE_ID"] != "" && svc.Restart != policy {
			t.Errorf("%s restarts %q, node1 %q", name, svc.Restart, policy)
		}
	}
	runbook := read(t, "docs/runbook.md")
	fenced := runbook[strings.Index(runbook, "**A member's machine is lost**"):]
	fenced = fenced[:strings.Index(fenced, "\n2. ")]
	if !strings.Contains(fenced, "`restart: "+policy+"`") {
		t.Errorf("the runbook's fenced member does not name the compose file's restart policy (restart: %s):\n%s", policy, fenced)
	}
	for what, text := range map[string]string{"deploy/docker-compose.yml": compose, "the runbook's fenced member": fenced} {
		if !strings.Contains(text, "docker compose stop") || !strings.Contains(text, "out of ") || !strings.Contains(text, "exit status") {
			t.Errorf("%s does not say that compose has no restart policy by exit status, to stop a fenced member's container (docker compose stop) and to take its service out before the next up", what)
		}
	}
}
