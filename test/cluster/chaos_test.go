package cluster

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

var (
	chaosSeed = flag.Int64("chaos.seed", 0, "TestChaos's seed (0: from the clock)")
	chaosFor  = flag.Duration("chaos.duration", 0, "how long TestChaos injects faults (0: skip it)")
	chaosStep = flag.Int("chaos.only", -1, "TestChaos: only this fault kind (0 kill, 1 isolate, 2 kill two, 3 sigterm restart)")
)

// rkey identifies an execution report for duplicate detection.
type rkey struct {
	input     int64
	kind      wire.ExecKind
	order, cl uint64
	trade     uint64
}

// chaosAck is one Accepted a trader read.
type chaosAck struct {
	at      time.Time
	gateway string
}

// trader is one account's client: it sends resting orders (and cancels
// its order of 100 ids before), carries on with Redial after every broken
// connection, and records every report it is returned.
type trader struct {
	t       *testing.T
	account uint32
	addrs   []string
	rng     *rand.Rand

	paused  atomic.Bool
	stopped atomic.Bool
	auditQ  chan chan []string // a request to audit; the answer is the violations found
	done    chan struct{}

	mu          sync.Mutex
	gen         int
	gateway     string
	next        uint64
	sentGen     map[uint64]int    // new order id -> connection generation sent on
	cancelSent  map[uint64]int    // cancelled order id -> generation
	accepted    map[uint64]uint64 // client order id -> exchange order id
	cancelled   map[uint64]bool
	rejected    map[uint64]uint8 // new orders rejected: reason
	cancelRejs  map[uint64]bool  // cancels rejected (unknown order)
	seen        map[rkey]string  // report -> how it came first
	violations  []string
	acks        []chaosAck
	redials     int
	maxRedial   time.Duration
	resendAsks  []int64 // busy / refused resends to ask again (from the reader)
	openResends int
	resendBad   []string
	status      chan client.Message // Status / StatusDone / refused status while auditing
	auditing    bool
	audited     int // live orders the last audit listed
}

func newTrader(t *testing.T, account uint32, addrs []string, seed uint64) *trader {
	return &trader{t: t, account: account, addrs: addrs, rng: rand.New(rand.NewPCG(seed, uint64(account))),
		auditQ: make(chan chan []string), done: make(chan struct{}), next: 1,
		sentGen: map[uint64]int{}, cancelSent: map[uint64]int{}, accepted: map[uint64]uint64{}, cancelled: map[uint64]bool{},
		rejected: map[uint64]uint8{}, cancelRejs: map[uint64]bool{}, seen: map[rkey]string{}, status: make(chan client.Message, 4096)}
}

func (tr *trader) violate(format string, args ...any) {
	tr.mu.Lock()
	tr.violations = append(tr.violations, fmt.Sprintf("account %d: ", tr.account)+fmt.Sprintf(format, args...))
	tr.mu.Unlock()
}

// read reads c until its connection ends.
func (tr *trader) read(c *client.Client, gen int, gw string, done chan struct{}) {
	defer close(done)
	for {
		m, err := c.Next()
		if err != nil {
			return
		}
		switch m.Type {
		case wire.MessageResendDone:
			d := m.ResendDone
			tr.mu.Lock()
			switch d.Reason {
			case proto.ResendBusy:
				tr.resendAsks = append(tr.resendAsks, d.AfterInputSeq)
			case proto.ResendComplete:
			default:
				tr.resendBad = append(tr.resendBad, fmt.Sprintf("gen %d: resend %+v", gen, d))
			}
			tr.openResends = max(0, tr.openResends-1)
			tr.mu.Unlock()
			continue
		case wire.MessageExecutionReport:
		default:
			continue
		}
		r := m.Report
		tr.mu.Lock()
		auditing := tr.auditing
		tr.mu.Unlock()
		if r.Kind == wire.ExecKindStatus || r.Kind == wire.ExecKindStatusDone {
			if auditing {
				tr.status <- m
			}
			continue
		}
		if r.Kind == wire.ExecKindRejected && r.InputSeq < 0 {
			if m.Seq != 0 && m.Seq == r.ClientOrderID { // a resend refused (rate-limited): ask again
				tr.mu.Lock()
				tr.resendAsks = append(tr.resendAsks, int64(r.OrderID))
				tr.openResends = max(0, tr.openResends-1)
				tr.mu.Unlock()
				continue
			}
			if auditing {
				tr.status <- m // a refused OrderStatus
				continue
			}
		}
		how := fmt.Sprintf("gen %d via %s seq %d", gen, gw, m.Seq)
		k := rkey{r.InputSeq, r.Kind, r.OrderID, r.ClientOrderID, r.TradeID}
		tr.mu.Lock()
		if first, dup := tr.seen[k]; dup && r.InputSeq >= 0 {
			tr.violations = append(tr.violations, fmt.Sprintf("account %d: report %s of order %d (input %d, exchange id %d) returned twice: first %s, again %s",
				tr.account, wire.EnumNamesExecKind[r.Kind], r.ClientOrderID, r.InputSeq, r.OrderID, first, how))
		} else {
			tr.seen[k] = how
		}
		switch r.Kind {
		case wire.ExecKindAccepted:
			if prev, ok := tr.accepted[r.ClientOrderID]; ok && prev != r.OrderID {
				tr.violations = append(tr.violations, fmt.Sprintf("account %d: order %d accepted twice: exchange ids %d and %d", tr.account, r.ClientOrderID, prev, r.OrderID))
			}
			tr.accepted[r.ClientOrderID] = r.OrderID
			tr.acks = append(tr.acks, chaosAck{at: time.Now(), gateway: gw})
		case wire.ExecKindCancelled:
			tr.cancelled[r.ClientOrderID] = true
		case wire.ExecKindRejected:
			if r.Reason == 14 { // unknown-order: a cancel
				tr.cancelRejs[r.ClientOrderID] = true
			} else {
				tr.rejected[r.ClientOrderID] = r.Reason
			}
		case wire.ExecKindFill:
			tr.violations = append(tr.violations, fmt.Sprintf("account %d: order %d filled (resting orders never cross)", tr.account, r.ClientOrderID))
		}
		tr.mu.Unlock()
	}
}

// run is the trader's sending side.
func (tr *trader) run() {
	defer close(tr.done)
	opts := client.Options{Timeout: time.Second, ReadTimeout: 15 * time.Second}
	c, err := client.DialCluster(tr.addrs, tr.account, secrets[tr.account], opts, 30*time.Second)
	if err != nil {
		tr.violate("first logon: %v", err)
		return
	}
	reader := make(chan struct{})
	tr.mu.Lock()
	tr.gen, tr.gateway = 1, c.RemoteAddr()
	tr.mu.Unlock()
	go tr.read(c, 1, c.RemoteAddr(), reader)
	defer func() { c.Close(); <-reader }()
	lastBeat := time.Now()
	for !tr.stopped.Load() {
		broken := false
		select {
		case <-reader:
			broken = true
		case ans := <-tr.auditQ:
			var v []string
			v, broken = tr.audit(c, reader)
			ans <- v
		default:
		}
		if !broken {
			tr.mu.Lock()
			asks := tr.resendAsks
			tr.resendAsks = nil
			tr.mu.Unlock()
			for _, after := range asks {
				time.Sleep(100 * time.Millisecond)
				if _, err := c.Resend(after); err != nil {
					broken = true
					break
				}
				tr.mu.Lock()
				tr.openResends++
				tr.mu.Unlock()
			}
		}
		if !broken {
			var err error
			if tr.paused.Load() {
				if time.Since(lastBeat) > 500*time.Millisecond {
					err = c.Heartbeat()
					if err == nil {
						err = c.Flush()
					}
					lastBeat = time.Now()
				}
				time.Sleep(5 * time.Millisecond)
			} else {
				err = tr.sendOne(c)
				time.Sleep(time.Millisecond)
			}
			broken = err != nil
		}
		if !broken {
			continue
		}
		// The connection broke: carry on with Redial.
		c.Close()
		<-reader
		began := time.Now()
		var nc *client.Client
		for {
			var err error
			nc, _, err = c.Redial(tr.addrs, 30*time.Second)
			if err == nil {
				break
			}
			if tr.stopped.Load() {
				return
			}
			tr.violate("Redial failed after %v: %v", time.Since(began).Round(time.Millisecond), err)
			if time.Since(began) > 2*time.Minute {
				return
			}
		}
		c = nc
		tr.mu.Lock()
		tr.gen++
		tr.gateway = c.RemoteAddr()
		tr.redials++
		tr.openResends = 1 // Redial's resend; those of the old connection are not coming
		tr.resendAsks = nil
		tr.maxRedial = max(tr.maxRedial, time.Since(began))
		gen := tr.gen
		tr.mu.Unlock()
		reader = make(chan struct{})
		go tr.read(c, gen, c.RemoteAddr(), reader)
	}
}

// sendOne sends the next order and, once it is 100 ids on, cancels the
// order 100 before if it is live.
func (tr *trader) sendOne(c *client.Client) error {
	tr.mu.Lock()
	id := tr.next
	tr.next++
	tr.sentGen[id] = tr.gen
	var cancel uint64
	if old := id - 100; id > 100 && tr.accepted[old] != 0 && !tr.cancelled[old] {
		if _, asked := tr.cancelSent[old]; !asked {
			cancel = old
			tr.cancelSent[old] = tr.gen
		}
	}
	tr.mu.Unlock()
	err := c.NewOrder(testkit.RestingOrder(id, int64(1+tr.rng.IntN(50)), int64(1+tr.rng.IntN(9))))
	if err == nil && cancel != 0 {
		err = c.Cancel(proto.Cancel{OrigClientOrderID: cancel, Instrument: testkit.DemoInstrument})
	}
	if err == nil {
		err = c.Flush()
	}
	return err
}

// audit (the trader paused) waits until every order and cancel sent on
// the current connection is answered and no resend is open, then lists
// the account's live orders with OrderStatus and compares them with the
// reports read: accepted and not cancelled. broken: the connection ended.
func (tr *trader) audit(c *client.Client, reader chan struct{}) (v []string, broken bool) {
	deadline := time.Now().Add(15 * time.Second)
	lastBeat := time.Now()
	for {
		tr.mu.Lock()
		var open []uint64
		for id, g := range tr.sentGen {
			if g == tr.gen && tr.accepted[id] == 0 {
				if _, rej := tr.rejected[id]; !rej {
					open = append(open, id)
				}
			}
		}
		for id, g := range tr.cancelSent {
			if g == tr.gen && !tr.cancelled[id] && !tr.cancelRejs[id] {
				open = append(open, id)
			}
		}
		resends, asks := tr.openResends, len(tr.resendAsks)
		tr.mu.Unlock()
		if len(open) == 0 && resends == 0 && asks == 0 {
			break
		}
		select {
		case <-reader:
			return nil, true
		default:
		}
		if asks > 0 {
			return nil, false // run asks again first; audited next time
		}
		if time.Since(lastBeat) > 500*time.Millisecond { // or the gateway times the session out
			if c.Heartbeat() != nil || c.Flush() != nil {
				return nil, true
			}
			lastBeat = time.Now()
		}
		if time.Now().After(deadline) {
			slices.Sort(open)
			return []string{fmt.Sprintf("account %d: %d orders/cancels sent on a live connection unanswered after 15 s (%v…), %d resends open",
				tr.account, len(open), open[:min(5, len(open))], resends)}, false
		}
		time.Sleep(10 * time.Millisecond)
	}
	tr.mu.Lock()
	tr.auditing = true
	tr.mu.Unlock()
	defer func() {
		tr.mu.Lock()
		tr.auditing = false
		tr.mu.Unlock()
	drain:
		for {
			select {
			case <-tr.status:
			default:
				break drain
			}
		}
	}()
	live := map[uint64]int{}
	after := uint64(0)
	for page := 0; ; page++ {
		if err := c.OrderStatus(proto.OrderStatus{AfterOrderID: after}); err != nil {
			return nil, true
		}
		if err := c.Flush(); err != nil {
			return nil, true
		}
		var done *proto.Report
		timeout := time.After(10 * time.Second)
		for done == nil {
			select {
			case m := <-tr.status:
				switch m.Report.Kind {
				case wire.ExecKindStatus:
					live[m.Report.ClientOrderID]++
				case wire.ExecKindStatusDone:
					done = &m.Report
				case wire.ExecKindRejected: // rate-limited
					time.Sleep(200 * time.Millisecond)
					done = &proto.Report{Reason: 1, OrderID: after}
				}
			case <-reader:
				return nil, true
			case <-timeout:
				return []string{fmt.Sprintf("account %d: OrderStatus page %d unanswered for 10 s", tr.account, page)}, false
			}
		}
		if done.Reason != 1 {
			break
		}
		after = done.OrderID
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	v = []string{} // audited (nil: audit again)
	tr.audited = len(live)
	var lost, unreported, dups []uint64
	for id, oid := range tr.accepted {
		if oid != 0 && !tr.cancelled[id] && live[id] == 0 {
			lost = append(lost, id)
		}
	}
	for id, n := range live {
		if n > 1 {
			dups = append(dups, id)
		}
		if tr.accepted[id] == 0 || tr.cancelled[id] {
			unreported = append(unreported, id)
		}
	}
	for _, s := range []struct {
		what string
		ids  []uint64
	}{{"acknowledged (and not reported cancelled) but not live on the leader", lost},
		{"live on the leader but never reported accepted, or reported cancelled", unreported},
		{"listed twice", dups}} {
		if len(s.ids) > 0 {
			slices.Sort(s.ids)
			v = append(v, fmt.Sprintf("account %d (at %s): %d orders %s: %v", tr.account, tr.gateway, len(s.ids), s.what, s.ids[:min(10, len(s.ids))]))
		}
	}
	return v, false
}

// chaos is the test's view of the cluster.
type chaos struct {
	*cluster
	t       *testing.T
	traders []*trader
	// procs is each member's process, nil while it is down: the monitor
	// reads it as the steps replace it. A restart in place keeps the
	// process and moves its admin port (Proc.Admin follows).
	procs []atomic.Pointer[testkit.Proc]

	mu           sync.Mutex
	violations   []string
	noLeaderFrom time.Time
	longestGap   time.Duration
	gapAt        string
	failovers    int
	lastLeader   uint32
	expectedDown atomic.Int32 // >0 while a majority is down on purpose
	unexpected   []string
	restarts     int
}

func (ch *chaos) violate(format string, args ...any) {
	ch.mu.Lock()
	ch.violations = append(ch.violations, fmt.Sprintf(format, args...))
	ch.mu.Unlock()
	ch.t.Logf("VIOLATION: "+format, args...)
}

func (ch *chaos) setProc(m *member) {
	var p *testkit.Proc
	if m.proc != nil && m.proc.Alive() {
		p = m.proc
	}
	ch.procs[m.id-1].Store(p)
}

func (ch *chaos) start(m *member) {
	ch.restartedInPlace(0, m) // the process replaced: its restarts in place since the last look (step unknown: 0)
	ch.cluster.start(m)
	ch.setProc(m)
	ch.mu.Lock()
	ch.restarts++
	ch.mu.Unlock()
}

// kill stops m with SIGKILL; a stop of its own that came first, or
// that the kill cut short, is accounted for (killed).
func (ch *chaos) kill(step int, m *member) {
	m.proc.Kill9()
	ch.killed(step, m)
	ch.setProc(m)
}

// killed accounts for m's stop of its own after the test killed it: an
// exit that came before the kill (ownExit), or a fatal stop the kill cut
// short (fatalStopCut), whose exit reads as the kill's. Either is
// recorded under the same rule (ownStop).
func (ch *chaos) killed(step int, m *member) {
	if ch.ownExit(step, m) {
		return
	}
	if e, err := m.fatalStopCut(); err != nil {
		ch.ownStop(step, m, "was stopping when killed", e, err)
	}
}

// Chaos checks a member it kills in the middle of a fatal stop of its
// own as TestKillDuringAFatalStopIsChecked's cluster does, under its own
// rule: the stop is listed among the stops by themselves, and one on an
// error not expected is a violation naming it, reported at the end. A
// process that exited by itself before the kill is accounted for once,
// as an exit (ownExit), not again as a stop cut short.
func TestChaosKillDuringAFatalStopIsChecked(t *testing.T) {
	for _, tc := range killedLogs {
		ch := &chaos{cluster: &cluster{t: t}, t: t}
		ch.killed(3, &member{id: 2, proc: fakeProc(t, false, tc.lines...)})
		want := 0
		if tc.cut {
			want = 1
		}
		if len(ch.unexpected) != want {
			t.Errorf("%s: stops by themselves %q, want %d", tc.name, ch.unexpected, want)
		}
		if !tc.fails && len(ch.violations) != 0 {
			t.Errorf("%s: violations %q", tc.name, ch.violations)
		}
		if tc.fails && (len(ch.violations) != 1 || !strings.Contains(ch.violations[0], "step 3: node 2 was stopping on a fatal error of its own when the test killed it") ||
			!strings.Contains(ch.violations[0], stopOther)) {
			t.Errorf("%s: violations %q; want the stop and its error named", tc.name, ch.violations)
		}
	}
	ch := &chaos{cluster: &cluster{t: t}, t: t}
	ch.killed(3, &member{id: 2, proc: fakeProc(t, true, fatalStop(stopOther))})
	if len(ch.unexpected) != 1 || !strings.Contains(ch.unexpected[0], "exited") || len(ch.violations) != 1 || !strings.Contains(ch.violations[0], "node 2 exited by itself") {
		t.Errorf("an exit of its own before the kill: stops by themselves %q, violations %q; want the exit, once", ch.unexpected, ch.violations)
	}
}

// monitor polls every member's /state: the longest time with no ready
// leader (outside a deliberate loss of the majority) and leader changes.
func (ch *chaos) monitor(stop chan struct{}) {
	hc := http.Client{Timeout: 300 * time.Millisecond}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		leader := uint32(0)
		for i := range ch.procs {
			p := ch.procs[i].Load()
			if p == nil {
				continue
			}
			resp, err := hc.Get("http://" + p.Admin() + "/state")
			if err != nil {
				continue
			}
			var st node.NodeState
			json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if st.Cluster != nil && st.Cluster.Ready {
				leader = uint32(i + 1)
			}
		}
		now := time.Now()
		ch.mu.Lock()
		if leader == 0 {
			if ch.noLeaderFrom.IsZero() && ch.expectedDown.Load() == 0 {
				ch.noLeaderFrom = now
			}
		} else {
			if !ch.noLeaderFrom.IsZero() {
				if gap := now.Sub(ch.noLeaderFrom); gap > ch.longestGap {
					ch.longestGap, ch.gapAt = gap, ch.noLeaderFrom.Format("15:04:05.000")
				}
				ch.noLeaderFrom = time.Time{}
			}
			if leader != ch.lastLeader {
				if ch.lastLeader != 0 {
					ch.failovers++
				}
				ch.lastLeader = leader
			}
		}
		if ch.expectedDown.Load() > 0 {
			ch.noLeaderFrom = time.Time{}
		}
		ch.mu.Unlock()
	}
}

// expectedStop lists the fatal errors a member may stop with after it
// lost the lead with inputs in flight (the README: it stops rather than
// guess; a restart is clean, and it restarts in place).
var expectedStop = []string{"does not follow the local inputs", "would take ring slot", "were never proposed",
	"lost with the leadership", "would take the place of an uncommitted input", "not known committed"}

// isExpectedStop reports whether the fatal error e is one of expectedStop's.
func isExpectedStop(e string) bool {
	return slices.ContainsFunc(expectedStop, func(s string) bool { return strings.Contains(e, s) })
}

// restartedInPlace accounts for m's restarts in place since the last
// look: each must follow an expected stop, or the staging of a raft
// snapshot (a member too far behind after a kill).
func (ch *chaos) restartedInPlace(step int, m *member) {
	errs := m.newRestartsInPlace()
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for _, e := range errs {
		ch.unexpected = append(ch.unexpected, fmt.Sprintf("step %d: node %d restarted in place: %s", step, m.id, e))
		if !isExpectedStop(e) && !strings.Contains(e, "installed the leader's snapshot") {
			ch.violations = append(ch.violations, fmt.Sprintf("step %d: node %d restarted in place after an unexpected stop (log %s): %q", step, m.id, m.proc.LogPath, e))
		}
	}
}

// revive restarts every member that is down; a member that stopped by
// itself must have stopped for an expected reason (ownExit).
func (ch *chaos) revive(step int) {
	for _, m := range ch.members {
		ch.restartedInPlace(step, m)
		if m.proc.Alive() {
			continue
		}
		ch.ownExit(step, m)
		ch.start(m)
	}
}

// ownExit accounts for m's exit by itself, if its process had one —
// also one just before the test stopped it (Proc.ExitedByItself) — on
// its last run's fatal error (ownStop), and reports whether it had one.
// The exit is checked either way (checkedExit): start may replace the
// process.
func (ch *chaos) ownExit(step int, m *member) bool {
	err := m.exitedByItself()
	if err == nil {
		return false
	}
	e := lastError(m.proc, "fatal: stopping") // its last run's: earlier ones restarted in place
	ch.ownStop(step, m, fmt.Sprintf("exited %d", m.proc.Cmd.ProcessState.ExitCode()), e, err)
	m.checkedExit()
	return true
}

// ownStop records m's stop by itself on the fatal error e (how it
// ended: "exited 1", …) among the stops the run reports at the end: a
// stop for an expected reason (isExpectedStop) is logged, any other is
// a violation with err, which names the stop and the log's end. It
// shadows the cluster's ownStop, which fails the test at once.
func (ch *chaos) ownStop(step int, m *member, how, e string, err error) {
	ch.mu.Lock()
	ch.unexpected = append(ch.unexpected, fmt.Sprintf("step %d: node %d %s: %s", step, m.id, how, e))
	ch.mu.Unlock()
	if isExpectedStop(e) {
		ch.t.Logf("step %d: node %d stopped (expected): %s", step, m.id, e)
	} else {
		ch.violate("step %d: %v", step, err)
	}
}

// checkpoint: a ready leader; every trader acknowledged again within a
// bound of it; then, paused, every trader's reports agree with its live
// orders on the leader and every member reaches the same state.
func (ch *chaos) checkpoint(step int, what string) {
	t := ch.t
	ch.revive(step)
	l := ch.leader(30 * time.Second)
	ready, found := time.Now(), time.Now()
	for _, tr := range ch.traders {
		for {
			tr.mu.Lock()
			ok := len(tr.acks) > 0 && tr.acks[len(tr.acks)-1].at.After(ready) && tr.acks[len(tr.acks)-1].gateway == l.gateway
			tr.mu.Unlock()
			if ok {
				break
			}
			if time.Since(ready) > 20*time.Second {
				ch.violate("step %d (%s): account %d acknowledged nothing by leader %d for 20 s after it was ready", step, what, tr.account, l.id)
				break
			}
			// A pause of a loaded machine may move the lead after it was
			// found, and the traders follow it: a leader without the
			// trader's ack for 2 s is looked for again.
			if time.Since(found) > 2*time.Second {
				if now := ch.leader(30 * time.Second); now != l {
					t.Logf("step %d: node %d leads now, not %d; waiting for account %d's acks there", step, now.id, l.id, tr.account)
					l = now
				}
				found = time.Now()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	resumed := time.Since(ready)
	for _, tr := range ch.traders {
		tr.paused.Store(true)
	}
	for _, tr := range ch.traders {
		for try := 0; ; try++ {
			ans := make(chan []string, 1)
			select {
			case tr.auditQ <- ans:
			case <-time.After(30 * time.Second):
				ch.violate("step %d: account %d's trader does not answer", step, tr.account)
				return
			}
			v := <-ans
			if v == nil && try < 50 { // the connection broke, or a resend is asked again: audit again
				time.Sleep(200 * time.Millisecond)
				continue
			}
			if v == nil {
				v = []string{fmt.Sprintf("account %d: no audit possible in 50 tries", tr.account)}
			}
			for _, s := range v {
				ch.violate("step %d (%s): %s", step, what, s)
			}
			break
		}
	}
	seq, hash := ch.sameStateSoft(step, 30*time.Second)
	var audited []int
	for _, tr := range ch.traders {
		tr.mu.Lock()
		audited = append(audited, tr.audited)
		tr.mu.Unlock()
	}
	for _, tr := range ch.traders {
		tr.paused.Store(false)
	}
	t.Logf("step %d (%s): leader %d; traders acknowledged again %v after it was ready; all at input %d hash %.12s; live orders checked %v",
		step, what, l.id, resumed.Round(time.Millisecond), seq, hash, audited)
}

// sameStateSoft is sameState reporting a violation instead of failing.
func (ch *chaos) sameStateSoft(step int, within time.Duration) (int64, string) {
	deadline := time.Now().Add(within)
	for {
		ch.revive(step) // a healed leader may stop only now, its in-flight inputs lost
		var seqs []int64
		var hashes []string
		for _, m := range ch.members {
			st, err := m.state()
			if err != nil {
				seqs = append(seqs, -1)
				continue
			}
			seqs, hashes = append(seqs, st.Seq), append(hashes, st.Hash)
		}
		if len(hashes) == 3 && slices.Min(seqs) == slices.Max(seqs) && len(slices.Compact(slices.Clone(hashes))) == 1 {
			return seqs[0], hashes[0]
		}
		if time.Now().After(deadline) {
			ch.violate("step %d: members did not converge within %v:\n%s", step, within, ch.describe())
			return -1, ""
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A bounded randomized fault run on a three-node cluster under steady
// load (three traders, ~1000 orders/s each, resuming with Redial): kill -9
// of a random member, isolation of the leader, loss of the majority, and
// clean restarts, checking after each step that every acknowledged order
// is live on the leader, none is duplicated, no report is returned twice,
// the members converge, and the traders carry on. Skipped unless
// -chaos.duration is set; -chaos.seed replays a run's choices.
func TestChaos(t *testing.T) {
	if *chaosFor <= 0 {
		t.Skip("set -chaos.duration to run")
	}
	seed := *chaosSeed
	if seed == 0 {
		seed = time.Now().UnixNano() % 1000000
	}
	t.Logf("chaos seed %d: go test ./test/cluster -run TestChaos -v -chaos.duration=%v -chaos.seed=%d", seed, *chaosFor, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	c := startCluster(t)
	ch := &chaos{cluster: c, t: t, procs: make([]atomic.Pointer[testkit.Proc], 3)}
	for _, m := range c.members {
		ch.setProc(m)
	}
	stopMon := make(chan struct{})
	go ch.monitor(stopMon)
	defer close(stopMon)
	for account := uint32(1); account <= 3; account++ {
		tr := newTrader(t, account, c.gateways(), uint64(seed))
		ch.traders = append(ch.traders, tr)
		go tr.run()
	}
	defer func() {
		for _, tr := range ch.traders {
			tr.stopped.Store(true)
		}
		for _, tr := range ch.traders {
			select {
			case <-tr.done:
			case <-time.After(10 * time.Second):
				t.Errorf("account %d's trader did not stop within 10 s", tr.account)
			}
		}
	}()
	ch.checkpoint(0, "start")
	end := time.Now().Add(*chaosFor)
	kinds := map[string]int{}
	step := 1
	for ; time.Now().Before(end); step++ {
		kind := rng.IntN(4)
		if *chaosStep >= 0 {
			kind = *chaosStep
		}
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond) // trade a while
		l := ch.leader(30 * time.Second)
		var what string
		switch kind {
		case 0: // kill -9 a random member, restart it after a while
			m := ch.members[rng.IntN(3)]
			delay := time.Duration(rng.IntN(2000)) * time.Millisecond
			what = fmt.Sprintf("kill -9 node %d (leader %d), restart after %v", m.id, l.id, delay)
			t.Logf("step %d: %s", step, what)
			ch.kill(step, m)
			time.Sleep(delay)
			ch.start(m)
		case 1: // isolate the leader, heal it
			delay := time.Duration(300+rng.IntN(2200)) * time.Millisecond
			what = fmt.Sprintf("isolate leader %d for %v", l.id, delay)
			t.Logf("step %d: %s", step, what)
			l.admin(t, "/cluster/isolate?on=true")
			time.Sleep(delay)
			if l.proc.Alive() {
				resp, err := http.Post("http://"+l.proc.Admin()+"/cluster/isolate?on=false", "", nil)
				if err == nil {
					resp.Body.Close()
				}
			}
		case 2: // kill two members: the survivor acknowledges nothing
			var down []*member
			survivor := ch.members[rng.IntN(3)]
			for _, m := range ch.members {
				if m != survivor {
					down = append(down, m)
				}
			}
			delay := time.Duration(500+rng.IntN(2500)) * time.Millisecond
			what = fmt.Sprintf("kill -9 nodes %d and %d (leader %d) for %v", down[0].id, down[1].id, l.id, delay)
			t.Logf("step %d: %s", step, what)
			ch.expectedDown.Add(1)
			for _, m := range down {
				ch.kill(step, m)
			}
			killed := time.Now()
			time.Sleep(delay)
			// Acks from the survivor well after the kill: not committed on a majority.
			for _, tr := range ch.traders {
				tr.mu.Lock()
				for _, a := range tr.acks {
					if a.gateway == survivor.gateway && a.at.After(killed.Add(time.Second)) {
						ch.violate("step %d: account %d acknowledged by node %d %v after the majority was killed", step, tr.account, survivor.id, a.at.Sub(killed))
						break
					}
				}
				tr.mu.Unlock()
			}
			if delay > time.Second {
				if st, err := survivor.state(); err == nil && st.Cluster.Ready {
					ch.violate("step %d: node %d still a ready leader %v after the majority was killed", step, survivor.id, time.Since(killed))
				}
			}
			for _, m := range down {
				ch.start(m)
			}
			ch.expectedDown.Add(-1)
		case 3: // clean restart of a random member (SIGTERM), same data dir
			m := ch.members[rng.IntN(3)]
			what = fmt.Sprintf("SIGTERM restart of node %d (leader %d)", m.id, l.id)
			t.Logf("step %d: %s", step, what)
			m.proc.StopWith(syscall.SIGTERM)
			select {
			case <-m.proc.Exited:
				if m.proc.ExitedByItself() {
					ch.ownExit(step, m) // before the SIGTERM came
				} else if code := m.proc.Cmd.ProcessState.ExitCode(); code != 0 {
					e, _ := m.proc.Logged("fatal: stopping")["error"].(string)
					ch.violate("step %d: node %d exited %d after SIGTERM: %s (log %s)", step, m.id, code, e, m.proc.LogPath)
				}
			case <-time.After(30 * time.Second):
				ch.violate("step %d: node %d did not stop within 30 s of SIGTERM", step, m.id)
				ch.kill(step, m)
			}
			ch.setProc(m)
			ch.start(m)
		}
		kinds[[]string{"kill", "isolate", "kill-two", "restart"}[kind]]++
		ch.checkpoint(step, what)
		if len(ch.violations) > 0 {
			break
		}
	}
	// The end: every trader's acknowledged orders live on the last leader.
	ch.checkpoint(step, "final")
	ch.scanLogs()
	acked, redials := 0, 0
	var maxRedial time.Duration
	for _, tr := range ch.traders {
		tr.mu.Lock()
		acked += len(tr.accepted)
		redials += tr.redials
		maxRedial = max(maxRedial, tr.maxRedial)
		for _, s := range tr.resendBad {
			t.Logf("account %d: %s", tr.account, s)
		}
		ch.violations = append(ch.violations, tr.violations...)
		tr.mu.Unlock()
	}
	ch.mu.Lock()
	t.Logf("seed %d: %d steps %v; %d orders acknowledged; %d failovers; %d redials (longest %v); longest without a ready leader %v (from %s); member starts %d; stops by themselves (exits and restarts in place): %v",
		seed, step, kinds, acked, ch.failovers, redials, maxRedial.Round(time.Millisecond), ch.longestGap.Round(time.Millisecond), ch.gapAt, ch.restarts, ch.unexpected)
	v := slices.Clone(ch.violations)
	ch.mu.Unlock()
	if len(v) > 0 {
		t.Errorf("seed %d: %d violations:\n%s", seed, len(v), strings.Join(v[:min(40, len(v))], "\n"))
	}
}

// scanLogs looks through every run's log for panics and stops.
func (ch *chaos) scanLogs() {
	for _, m := range ch.members {
		for run := 1; run <= m.starts; run++ {
			path := filepath.Join(m.dir, fmt.Sprintf("serve-%d.log", run))
			b, _ := os.ReadFile(path)
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:") || strings.Contains(l, "DATA RACE") {
					ch.violate("node %d run %d: %s", m.id, run, l)
				}
				if strings.Contains(l, "fatal: stopping") || strings.Contains(l, `"level":"error"`) && !strings.Contains(l, `"component":"raft"`) {
					ch.t.Logf("node %d run %d: %.400s", m.id, run, l)
				}
			}
		}
	}
}
