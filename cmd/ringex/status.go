package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/spf13/cobra"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/replicator"
)

func newStatusCmd() *cobra.Command {
	var a adminFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "One line per node: role, term, time up, input sequence, state hash, what a restart would replay, free disk",
		Long: `Asks each node named by --admin (a comma-separated list: every member of a
cluster) for its state (GET /state) and metrics (GET /metrics), and prints
one line for each: its id, role (leader, follower, candidate; standalone),
raft term, how long it has served since its last start
(ringex_start_time_seconds: a restart in place is a start), the last
input its engine applied and the state hash after it,
the inputs a restart would replay after its newest snapshot
(ringex_inputs_since_snapshot), the instruments halted and accounts
suspended, and the free share of each of its disks
(ringex_disk_free_bytes), then the inputs the operator dropped
(ringex journal drop) when there are any. A node with a write that has waited over a
second for its disk (ringex_disk_waiting_seconds: the disk stopped
answering) is reported so, and fails the command. A node that does not answer is reported as down,
one that refuses (a wrong or missing token) as refused, one answering
503 (replaying after a restart — "starting: mapping engine pools"
before the replay proper — then mapping its rings — "starting: mapping
rings" — or stopping) as not ready, and two at the
same input with different state hashes as diverged, cluster members
none of which leads (when more than one answered) as no leader, and a
member cut off by a fault drill (isolated), a leader not yet ready to
trade, a member still joining, or one whose rules fingerprint
(instruments, accounts, limits, build) or cluster.election_timeout
differs from another's, or one that serves another symbol or other
decimals for an instrument (GET /state's reference, then GET
/instruments on both, naming the first such instrument: no raft entry
carries them, and a client failing over between the two would read the
other's), or a member whose own raft address (its
cluster.peers entry) is not the one the membership holds for its id (a
replacement started with its entry mistyped: the leader never sends it
the log, and it waits joining for good) — when the members hold
different memberships, checked against each that holds its id, saying
which holds it where: each makes the command exit non-zero, after
every line is printed. Then raft's membership (id=raft address, each
member), as the members hold it: members holding different ones (one has
not caught up with a cluster replace) also fail the command, and so does
a member it holds that no --admin address answered for, named with its
raft address (not asked: add its admin address; or, when addresses
gave no state, that it may be at one of them, each with what it gave
instead: "not ready: starting: mapping rings", refused, down) — when the members hold
different memberships, with the members whose membership holds it and
those whose does not. Members that run under different cluster ids
(cluster.id) fail the command, named with the id each runs under (a
member of a build that gives none is not judged by it). Members of a
cluster of more than one that run
under the default cluster id (cluster.id not set: every cluster left
without one shares it) are named in a line of their own, which does not
fail the command. Two addresses answering
for one member (two spellings of its admin address) count it once, the
second's line saying so; two processes answering as one member (one
node.id: a copied data directory, a stale process left running — told
apart by their raft address or their start time) are each shown, and
fail the command.

Members of a healthy cluster show one leader, one term, and sequences
close together (a follower behind shows a lower one); equal sequences
have equal hashes. docs/runbook.md says what to do when they do not.
What a node answers that is not one word of printable ASCII (its role,
an address, a hash; a refusal's words holding a control character) is
shown quoted, in Go's syntax: a newline or terminal escape in it neither
prints a line of its own nor acts on the terminal.`,
		Example: "  ringex status\n  ringex status --admin 127.0.0.1:7481,127.0.0.1:7482,127.0.0.1:7483",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addrs, err := adminAddrs(a.addr)
			if err != nil {
				return err
			}
			token, err := adminToken(a.token)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%-4s %-21s %-*s %5s %6s %12s %-16s %14s  %-16s  %s\n", "NODE", "ADMIN", roleWidth, "ROLE", "TERM", "UP", "SEQ", "HASH", "SINCE-SNAPSHOT", "HALTED/SUSPENDED", "DISK FREE")
			var problems []string
			hashAt := map[int64]string{} // input sequence → the first state hash seen there
			members, leaders := 0, 0     // cluster members that answered, and those that lead
			// The first rules fingerprint and election timeout seen, and
			// where: members must agree on both.
			var rules, rulesAt, timeout, timeoutAt string
			// The first reference data fingerprint seen, and where:
			// members must serve the same symbols and decimals.
			var reference, referenceAt string
			var memberships []string        // raft's membership as each member holds it, in first-seen order
			heldBy := map[string][]string{} // membership → the admin addresses of the members holding it
			var at []raftAt                 // each member's own raft address, as its peers name it
			var defaultID []string          // the members of a cluster of more than one run under config.DefaultClusterID
			var clusterIDs []string         // the cluster ids members run under, in first-seen order
			runBy := map[string][]string{}  // cluster id → the admin addresses of the members running under it
			// Invariant: a member is counted (and judged) once, at the
			// first admin address that answered for its id, and so is
			// each process answering for it; unanswered names the
			// addresses that gave no state and what each gave instead,
			// any of which may be a member the membership holds.
			answeredAt := map[string]memberAnswer{} // member id → the first answer for it
			var unanswered []string
			for _, addr := range addrs {
				st, line, stalled, started, err := nodeStatus(addr, token)
				var refused *answerError
				var cut *cutError
				switch {
				case errors.As(err, &refused) && refused.code == http.StatusServiceUnavailable:
					// Answering, not ready: replaying, mapping its
					// rings (node.StartMappingRings), or stopping.
					body := shownText(refused.body)
					problems = append(problems, addr+" not ready: "+body)
					unanswered = append(unanswered, addr+" (not ready: "+body+")")
					fmt.Fprintf(out, "%-4s %-21s not ready: %s\n", "-", addr, body)
					continue
				case errors.As(err, &refused): // its words the node's (answerError)
					problems = append(problems, addr+" refused the request")
					unanswered = append(unanswered, addr+" (refused)")
					fmt.Fprintf(out, "%-4s %-21s refused: %s\n", "-", addr, shownText(err.Error()))
					continue
				case errors.As(err, &cut):
					problems = append(problems, addr+" answered, and the answer was cut")
					unanswered = append(unanswered, addr+" (its answer cut)")
					fmt.Fprintf(out, "%-4s %-21s cut: %s\n", "-", addr, shownText(err.Error()))
					continue
				case err != nil: // a redirect's Location, a decoding error's excerpt: the node's
					problems = append(problems, addr+" did not answer")
					unanswered = append(unanswered, addr+" (down)")
					fmt.Fprintf(out, "%-4s %-21s down: %s\n", "-", addr, shownText(err.Error()))
					continue
				}
				again := false // another address answered for this member id
				if c := st.Cluster; c != nil {
					id, this := fmt.Sprint(st.Node), memberAnswer{admin: addr, raft: c.RaftAddr, started: started}
					first, ok := answeredAt[id]
					switch {
					case ok && first.sameProcess(this):
						// Two spellings of one member's admin address
						// (127.0.0.1 and localhost, a name and its IP):
						// counted twice it hid a member left out.
						fmt.Fprintf(out, "%-4s %-21s the same member as %s: counted once\n", id, addr, first.admin)
						continue
					case ok:
						// Two processes with one node.id: a copied data
						// directory, a stale process left running. Each
						// is shown and judged, the member counted once.
						again = true
						problems = append(problems, fmt.Sprintf("%s and %s both answer as member %s, from two processes (%s): a copied data directory, or a stale process left running — stop the one that is not member %s",
							first.admin, addr, id, first.howOther(this), id))
					default:
						answeredAt[id] = this
					}
				}
				fmt.Fprintln(out, line)
				if stalled != "" {
					problems = append(problems, addr+": "+stalled)
				}
				if c := st.Cluster; c != nil {
					if !again {
						members++
					}
					switch {
					case c.State == "Leader" && c.Ready:
						leaders++
					case c.State == "Leader":
						// Elected, still applying earlier terms' entries:
						// it takes no session until then. Seen once, it
						// may be a moment after an election; a script
						// that asks again sees whether it lasts.
						problems = append(problems, addr+" leads but is not ready (applying earlier entries): no trading until it is")
					}
					if c.Joining {
						// A new member: no vote until it holds what the
						// leader committed, so the cluster tolerates one
						// failure fewer; it stays so for good when it
						// cannot reach the leader.
						problems = append(problems, addr+" is joining: not voting until it holds what the leader committed")
					}
					if c.Isolated {
						problems = append(problems, addr+" is isolated (a fault drill left on? POST /cluster/isolate?on=false)")
					}
					if rules == "" {
						rules, rulesAt = st.Rules, addr
					} else if st.Rules != rules {
						problems = append(problems, fmt.Sprintf("%s matches under rules %s, %s under %s: different instruments, accounts, limits or builds", addr, shownWord(st.Rules), rulesAt, shownWord(rules)))
					}
					switch {
					case st.Reference == "": // a build before 2026-12-07 gives none
					case reference == "":
						reference, referenceAt = st.Reference, addr
					case st.Reference != reference:
						problems = append(problems, otherReference(token, addr, shownWord(st.Reference), referenceAt, shownWord(reference)))
					}
					if c.RaftAddr != "" {
						at = append(at, raftAt{admin: addr, id: st.Node, raft: c.RaftAddr})
					}
					if m := c.Membership; m != "" {
						if heldBy[m] == nil {
							memberships = append(memberships, m)
						}
						heldBy[m] = append(heldBy[m], addr)
					}
					if c.ClusterID == config.DefaultClusterID && strings.Contains(c.Membership, ",") {
						defaultID = append(defaultID, addr)
					}
					if id := c.ClusterID; id != "" { // an older build gives none
						if runBy[id] == nil {
							clusterIDs = append(clusterIDs, id)
						}
						runBy[id] = append(runBy[id], addr)
					}
					if timeout == "" {
						timeout, timeoutAt = c.ElectionTimeout, addr
					} else if c.ElectionTimeout != "" && c.ElectionTimeout != timeout {
						problems = append(problems, fmt.Sprintf("%s has cluster.election_timeout %s, %s has %s: they must be equal", addr, shownWord(c.ElectionTimeout), timeoutAt, shownWord(timeout)))
					}
				}
				if h, ok := hashAt[st.Seq]; ok && h != st.Hash {
					problems = append(problems, fmt.Sprintf("%s has state hash %s at input %d where another node has %s: diverged", addr, shownWord(st.Hash), st.Seq, shownWord(h)))
				}
				hashAt[st.Seq] = cmp.Or(hashAt[st.Seq], st.Hash)
			}
			switch len(memberships) {
			case 0:
			case 1:
				fmt.Fprintf(out, "membership: %s\n", shownWord(memberships[0]))
			default:
				// A member that was down during a cluster replace holds
				// the old one until it has caught up.
				var held []string
				for _, m := range memberships {
					fmt.Fprintf(out, "membership: %s (held by %s)\n", shownWord(m), strings.Join(heldBy[m], ", "))
					held = append(held, fmt.Sprintf("%s holds %s", strings.Join(heldBy[m], ", "), shownWord(m)))
				}
				problems = append(problems, "members hold different memberships ("+strings.Join(held, "; ")+"): one has not caught up with a cluster replace yet")
			}
			if len(clusterIDs) > 1 {
				// cluster.id is the same on every member: one under
				// another id was started with another cluster's
				// config, or its id was mistyped or renamed on it alone.
				var under []string
				for _, id := range clusterIDs {
					under = append(under, fmt.Sprintf("%s under %s", strings.Join(runBy[id], ", "), shownWord(id)))
				}
				problems = append(problems, "members run under different cluster ids ("+strings.Join(under, "; ")+
					"): cluster.id must be the same on every member — one was started with another cluster's config, or its cluster.id was mistyped or renamed on it alone")
			}
			if len(defaultID) > 0 {
				// Not a fault of the members' state: not a problem.
				fmt.Fprintf(out, "cluster id: %s, the default (cluster.id not set on %s): every cluster left without one runs under it, and a data directory of another such cluster's member is not told from one of this cluster's — set cluster.id, the same on every member\n",
					config.DefaultClusterID, strings.Join(defaultID, ", "))
			}
			problems = append(problems, notWhereHeld(at, memberships, heldBy)...)
			for _, m := range notAnswered(answeredAt, memberships, heldBy, unanswered) {
				fmt.Fprintln(out, m)
				problems = append(problems, m)
			}
			// Asked about several members, none of which leads: no
			// trading (it exited 0, and a monitoring script saw a healthy
			// cluster while members waited, joining, or campaigned).
			if members > 1 && leaders == 0 {
				problems = append(problems, fmt.Sprintf("none of the %d cluster members that answered leads: no trading", members))
			}
			if len(problems) > 0 {
				return errors.New(strings.Join(problems, "; "))
			}
			return nil
		},
	}
	a.register(cmd)
	cmd.Flags().Lookup("admin").Usage = "admin address of the node, or of every cluster member, comma-separated"
	return cmd
}

// raftAt is a member's own raft address (replicator.Status.RaftAddr), as
// ringex status read it from the member at admin.
type raftAt struct {
	admin string
	id    uint32
	raft  string
}

// notWhereHeld names the members of at whose own raft address is not
// the one the memberships held ("id=raft_addr,…", heldBy: the addresses
// that answered holding each) give for their id: the leader sends their
// id's entries to the membership's address, never to them. A replacement
// started with its cluster.peers entry mistyped joins and waits for
// good, "joining" and nothing more. When the members hold different
// memberships, each member is checked against each that holds its id,
// and a problem says which: one holding it elsewhere while another holds
// it where it is (a move not caught up with, whose holders send its
// entries to the old address), none holding it where it is, or none
// holding its id at all. One that holds it where it is while another
// does not hold its id is a join or a removal not caught up with, which
// the memberships' disagreement says.
func notWhereHeld(at []raftAt, memberships []string, heldBy map[string][]string) []string {
	held := make([]map[string]string, len(memberships)) // per membership: id → raft address
	for i, ms := range memberships {
		held[i] = map[string]string{}
		for _, m := range membersOf(ms) {
			held[i][m.id] = m.raft
		}
	}
	// view names a membership in a problem: by who holds it when the
	// members disagree.
	view := func(i int) string {
		if len(memberships) == 1 {
			return "the membership"
		}
		return "the membership held by " + strings.Join(heldBy[memberships[i]], ", ")
	}
	// The addresses compared spelled otherwise, looked up in one round:
	// a resolver that does not answer holds status one lookup's timeout,
	// not one an address in turn for each member and membership.
	var spelledOtherwise []string
	for _, a := range at {
		for i := range memberships {
			if addr, ok := held[i][fmt.Sprint(a.id)]; ok && addr != a.raft {
				spelledOtherwise = append(spelledOtherwise, a.raft, addr)
			}
		}
	}
	looked := replicator.LookUpAddresses(spelledOtherwise...)
	var problems []string
	for _, a := range at {
		id := fmt.Sprint(a.id)
		var here, elsewhere, without []string // the memberships holding it where it is, holding it elsewhere, not holding it
		var addrs []string                    // the addresses the memberships holding it elsewhere give, each once
		for i := range memberships {
			switch addr, ok := held[i][id]; {
			case !ok:
				without = append(without, view(i))
			case looked.Same(a.raft, addr):
				here = append(here, view(i))
			default:
				if !slices.Contains(addrs, shownWord(addr)) {
					addrs = append(addrs, shownWord(addr))
				}
				elsewhere = append(elsewhere, fmt.Sprintf("%s holds member %s at %s", view(i), id, shownWord(addr)))
			}
		}
		switch {
		case len(here) == 0 && len(elsewhere) == 0 && len(memberships) == 1:
			problems = append(problems, fmt.Sprintf("%s is member %s, which the membership %s does not hold: the leader sends it nothing (its node.id?)", a.admin, id, shownWord(memberships[0])))
		case len(here) == 0 && len(elsewhere) == 0:
			problems = append(problems, fmt.Sprintf("%s is member %s, which none of the memberships held holds (%s): the leader sends it nothing (its node.id?)", a.admin, id, strings.Join(without, "; ")))
		case len(here) == 0:
			not := ""
			if len(without) > 0 {
				not = "; " + strings.Join(without, "; ") + " does not hold it"
			}
			start := fmt.Sprintf("start it with %s=%s=GATEWAY in cluster.peers", id, addrs[0])
			if len(addrs) > 1 { // the memberships disagree on where it is
				start = fmt.Sprintf("start it with %s=ADDR=GATEWAY in cluster.peers, ADDR the one of %s the leader's membership holds", id, strings.Join(addrs, " and "))
			}
			problems = append(problems, fmt.Sprintf("%s (member %s) takes raft RPCs at %s, its cluster.peers entry, but %s%s: the leader sends there, never to it — "+
				"%s (or move the member there with ringex cluster replace)", a.admin, id, shownWord(a.raft), strings.Join(elsewhere, "; "), not, start))
		case len(elsewhere) > 0:
			problems = append(problems, fmt.Sprintf("%s (member %s) takes raft RPCs at %s, where %s holds it, but %s: its holders send the member's entries there until they catch up with its move",
				a.admin, id, shownWord(a.raft), strings.Join(here, "; "), strings.Join(elsewhere, "; ")))
		}
	}
	return problems
}

// heldMember is one member of a raft membership: its id and raft address.
type heldMember struct{ id, raft string }

// membersOf splits membership ("id=raft_addr,…", as /state's
// cluster.membership gives it) into its members, in its order.
func membersOf(membership string) []heldMember {
	var members []heldMember
	for _, m := range strings.Split(membership, ",") {
		if id, addr, ok := strings.Cut(m, "="); ok {
			members = append(members, heldMember{id, addr})
		}
	}
	return members
}

// memberAnswer is the first answer ringex status read for a member id:
// the admin address that gave it, the member's own raft address
// (replicator.Status.RaftAddr) and when its process started
// (ringex_start_time_seconds; 0 when not given).
type memberAnswer struct {
	admin, raft string
	started     float64
}

// sameProcess reports whether a and b, answers for one member id, may
// come from one process: the address answering b is then another
// spelling of a's. Two processes differ in their raft address or their
// start time (every start its own, to the nanosecond); answers that do
// not give one are not told apart by it.
func (a memberAnswer) sameProcess(b memberAnswer) bool {
	return (a.raft == "" || b.raft == "" || a.raft == b.raft) &&
		(a.started == 0 || b.started == 0 || a.started == b.started)
}

// howOther says how answers a and b, which sameProcess told apart,
// differ: their raft addresses, else their start times.
func (a memberAnswer) howOther(b memberAnswer) string {
	if a.raft != "" && b.raft != "" && a.raft != b.raft {
		return fmt.Sprintf("taking raft RPCs at %s and %s", shownWord(a.raft), shownWord(b.raft))
	}
	at := func(s float64) string {
		return time.Unix(0, int64(s*1e9)).UTC().Format("2006-01-02 15:04:05.000000 UTC")
	}
	return fmt.Sprintf("started at %s and %s", at(a.started), at(b.started))
}

// notAnswered names the members of memberships (as the members hold
// them, in first-seen order; heldBy: membership → the admin addresses
// of the members holding it) for which no admin address answered
// (answeredAt: id → the first answer for it). An operator's --admin that
// left one out showed a healthy cluster while that member may be down.
// When addresses gave no state (unanswered: each with what it gave
// instead — not ready and why, refused, down), the member may be one of
// them: the line names them and what each said, since one answering
// "starting: mapping rings" was asked, and answered. A member that not every membership holds (the
// members disagree: one has not caught up with a cluster replace, a
// deposed leader holds a stale one) is named with the addresses holding
// it and those that do not.
func notAnswered(answeredAt map[string]memberAnswer, memberships []string, heldBy map[string][]string, unanswered []string) []string {
	var order []heldMember
	holders := map[heldMember][]string{} // a member left out → the addresses whose membership holds it
	for _, ms := range memberships {
		for _, m := range membersOf(ms) {
			if _, ok := answeredAt[m.id]; ok {
				continue
			}
			if holders[m] == nil {
				order = append(order, m)
			}
			holders[m] = append(holders[m], heldBy[ms]...)
		}
	}
	var missing []string
	for _, m := range order {
		id, raft := shownWord(m.id), shownWord(m.raft)
		line := fmt.Sprintf("member %s (raft %s) not asked: add its admin address", id, raft)
		if len(unanswered) > 0 {
			line = fmt.Sprintf("member %s (raft %s) gave no state: it may be at %s, or was not asked (add its admin address)", id, raft, strings.Join(unanswered, " or "))
		}
		var not []string // the addresses whose membership does not hold it
		for _, ms := range memberships {
			for _, addr := range heldBy[ms] {
				if !slices.Contains(holders[m], addr) {
					not = append(not, addr+"'s")
				}
			}
		}
		if len(not) > 0 {
			line += fmt.Sprintf(" — in the membership held by %s; not in %s", strings.Join(holders[m], ", "), strings.Join(not, ", "))
		}
		missing = append(missing, line)
	}
	return missing
}

// nodeStatus reads the state of the node whose admin port is addr and
// makes its status line; started is when its process started serving
// (ringex_start_time_seconds, 0 when not given).
func nodeStatus(addr, token string) (st node.NodeState, line, stalled string, started float64, err error) {
	var state, metrics bytes.Buffer
	if err := adminDo("GET", addr, "/state", token, &state); err != nil {
		return st, "", "", 0, err
	}
	if err := json.Unmarshal(state.Bytes(), &st); err != nil {
		return st, "", "", 0, fmt.Errorf("GET /state: %w", err)
	}
	if err := adminDo("GET", addr, "/metrics", token, &metrics); err != nil {
		return st, "", "", 0, err
	}
	line, stalled, started, err = statusLine(addr, st, metrics.Bytes())
	return st, line, stalled, started, err
}

// statusLine is nodeStatus's reading of the node at addr, whose GET
// /state answered st and GET /metrics answered metrics (the Prometheus
// text format): its status line, the writes stalled on its disks, and
// when its process started.
func statusLine(addr string, st node.NodeState, metrics []byte) (line, stalled string, started float64, err error) {
	families, err := (&expfmt.TextParser{}).TextToMetricFamilies(bytes.NewReader(metrics))
	if err != nil {
		return "", "", 0, fmt.Errorf("GET /metrics: %w", err)
	}
	role, term := "standalone", "-"
	if c := st.Cluster; c != nil {
		role, term = shownWord(strings.ToLower(c.State)), shownWord(c.Term)
		if c.Isolated {
			role += " (isolated)"
		}
		if c.State == "Leader" && !c.Ready {
			role += " (not ready)"
		}
		if c.Joining {
			role += " (joining)"
		}
	}
	since := "-"
	if v, ok := gaugeValue(families["ringex_inputs_since_snapshot"], nil); ok {
		since = fmt.Sprintf("%.0f", v)
	}
	up := "-"
	if v, ok := gaugeValue(families["ringex_start_time_seconds"], nil); ok {
		up, started = upFor(time.Since(time.Unix(0, int64(v*1e9)))), v
	}
	line = fmt.Sprintf("%-4d %-21s %-*s %5s %6s %12d %-16s %14s  %-16s  %s", st.Node, addr, roleWidth, role, term, up, st.Seq, shownWord(st.Hash), since,
		fmt.Sprintf("%d/%d", len(st.Halted), len(st.Suspended)), diskFree(families))
	if v, ok := gaugeValue(families["ringex_dropped_inputs"], nil); ok && v > 0 {
		line += fmt.Sprintf("; %.0f dropped input(s)", v) // ringex journal drop: its engine rejects them
	}
	return line, diskStalled(families), started, nil
}

// shownText is s, words an answer at --admin carried (a refusal's
// body, an error quoting the node), as a line shows them: as they are
// when every rune is printable (spaces included: they end a line), else
// quoted (Go syntax, ASCII), as shownWord quotes a word — a newline in
// them printed a line of ringex status' own, forging another node's, and
// a control sequence acted on the terminal.
func shownText(s string) string {
	if !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.QuoteToASCII(s)
	}
	return s
}

// roleWidth is the ROLE column's: "candidate (isolated)", the longest
// role of one state and one mark, fits, so the columns after it stay
// under their headings during a fault drill or a member's join.
const roleWidth = 20

// upFor writes how long a node has served, the larger unit first, in at
// most six characters: "42s", "3m07s", "5h12m", "12d03h". A node whose
// clock is ahead of the reader's by more than it has served shows "0s".
func upFor(d time.Duration) string {
	s := int64(max(d, 0) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	default:
		return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
	}
}

// stalledAfter is how long a write (or a raft log read) may wait for the disk before status
// calls it stalled: RingexDiskStalled's threshold.
const stalledAfter = time.Second

// diskStalled names the writes (raft_log: or reads) that have waited
// over stalledAfter for the disk (ringex_disk_waiting_seconds), as "a
// journal write has waited 12.3 s for the disk: …"; "" when none has.
func diskStalled(families map[string]*dto.MetricFamily) string {
	var stalled []string
	for _, m := range families["ringex_disk_waiting_seconds"].GetMetric() {
		if w := m.GetGauge().GetValue(); w > stalledAfter.Seconds() {
			files := labelValue(m, "files")
			op := "write"
			if files == "raft_log" { // its reads of entries count too (replicator.LogStore.Pending)
				op = "write or read"
			}
			stalled = append(stalled, fmt.Sprintf("a %s %s has waited %.1f s for the disk", shownWord(files), op, w))
		}
	}
	if len(stalled) == 0 {
		return ""
	}
	slices.Sort(stalled)
	return strings.Join(stalled, "; ") + ": the disk stopped answering? (docs/runbook.md, RingexDiskStalled)"
}

// diskFree gives each directory's free share and bytes, as "journal,
// snapshots 19 % (52.3 GiB)", from ringex_disk_free_bytes and
// ringex_disk_size_bytes: directories on one filesystem are named
// together.
func diskFree(families map[string]*dto.MetricFamily) string {
	free, size := families["ringex_disk_free_bytes"], families["ringex_disk_size_bytes"]
	if free == nil {
		return "-"
	}
	dirs := map[string][]string{} // what is free → the directories
	for _, m := range free.GetMetric() {
		dir := labelValue(m, "dir")
		f := m.GetGauge().GetValue()
		what := "?"
		if s, ok := gaugeValue(size, map[string]string{"dir": dir}); ok && s > 0 && !math.IsNaN(f) {
			what = fmt.Sprintf("%.0f %% (%s)", 100*f/s, freeBytes(f))
		}
		dirs[what] = append(dirs[what], shownWord(dir))
	}
	var parts []string
	for what, names := range dirs {
		slices.Sort(names)
		parts = append(parts, strings.Join(names, ", ")+" "+what)
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// freeBytes gives n bytes free in a unit that shows them: GiB from one
// GiB, MiB below (a small disk's 300 MiB read "0.3 GiB", and its last
// 40 MiB "0.0 GiB" — as full as an empty one), with a decimal below 10
// MiB, where a full journal's last segments are counted.
func freeBytes(n float64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", n/(1<<30))
	case n >= 10<<20:
		return fmt.Sprintf("%.0f MiB", n/(1<<20))
	}
	return fmt.Sprintf("%.1f MiB", n/(1<<20))
}

// gaugeValue is the value of the family's sample whose labels include
// want.
func gaugeValue(f *dto.MetricFamily, want map[string]string) (float64, bool) {
	for _, m := range f.GetMetric() {
		match := true
		for k, v := range want {
			match = match && labelValue(m, k) == v
		}
		if match {
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
