package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/replicator"
)

// FuzzStatusAnswer: whatever a node's admin port answers to GET /state
// and GET /metrics, ringex status's reading of it never panics: a state
// that decodes gives a line naming the node and the address, or an error
// naming GET /metrics; the membership it holds is checked against the
// member's own raft address and the members that answered
// (notWhereHeld, notAnswered) without a panic either. What it prints —
// the line, the writes stalled, each problem — is printable runes only:
// a newline or terminal escape the node sent is shown quoted
// (shownWord), forging no line and reaching no terminal.
func FuzzStatusAnswer(f *testing.F) {
	const metrics = memberMetrics + `# TYPE ringex_start_time_seconds gauge
ringex_start_time_seconds 1.8e+09
# TYPE ringex_disk_waiting_seconds gauge
ringex_disk_waiting_seconds{files="raft_log"} 12.5
# TYPE ringex_dropped_inputs gauge
ringex_dropped_inputs 2
`
	member := fakeState(2, &replicator.Status{State: "Leader", Term: "7", RaftAddr: "10.0.0.2:7000", ClusterID: "prod-eu",
		Membership: "1=10.0.0.1:7000,2=10.0.0.2:7000,3=10.0.0.3:7000"})
	member.Halted = []uint32{3}
	f.Add([]byte(stateJSON(f, member)), []byte(metrics))
	f.Add([]byte(stateJSON(f, fakeState(1, nil))), []byte(""))
	f.Add([]byte(`{"node":1,"cluster":{"membership":"=,==,1="}}`), []byte("ringex_start_time_seconds 1e300\n"))
	f.Add([]byte(`null`), []byte("ringex_disk_free_bytes{dir=\"\"} -Inf\n"))
	forged := fakeState(3, &replicator.Status{State: forging, Term: forging, RaftAddr: forging, ClusterID: forging,
		Membership: "1=" + forging + "," + forging + "=10.0.0.2:7000"})
	forged.Hash = forging
	f.Add([]byte(stateJSON(f, forged)), []byte("ringex_disk_free_bytes{dir=\"a\\nb\x1b[2J\"} 1\n"+
		"ringex_disk_waiting_seconds{files=\"a\\nb\x1b[2J\"} 9\n"))
	const addr = "127.0.0.1:7481"
	f.Fuzz(func(t *testing.T, state, metrics []byte) {
		var st node.NodeState
		if json.Unmarshal(state, &st) != nil {
			return // refused: "GET /state: …"
		}
		line, stalled, started, err := statusLine(addr, st, metrics)
		switch {
		case err != nil && !strings.HasPrefix(err.Error(), "GET /metrics: "):
			t.Fatalf("refused with %v", err)
		case err == nil && !strings.HasPrefix(line, fmt.Sprintf("%-4d %-21s ", st.Node, addr)):
			t.Fatalf("the line %q does not begin with node %d at %s", line, st.Node, addr)
		}
		onlyPrintable(t, "the line", line)
		onlyPrintable(t, "the writes stalled", stalled)
		c := st.Cluster
		if c == nil || c.Membership == "" {
			return
		}
		heldBy := map[string][]string{c.Membership: {addr}}
		problems := notWhereHeld([]raftAt{{admin: addr, id: st.Node, raft: c.RaftAddr}}, []string{c.Membership}, heldBy)
		answered := map[string]memberAnswer{fmt.Sprint(st.Node): {admin: addr, raft: c.RaftAddr, started: started}}
		problems = append(problems, notAnswered(answered, []string{c.Membership}, heldBy, []string{"127.0.0.1:7482 (down)"})...)
		for _, p := range problems {
			onlyPrintable(t, "a problem", p)
		}
	})
}
