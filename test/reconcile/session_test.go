package reconcile

import (
	"slices"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// requestKind is which trading message a request is.
type requestKind int

const (
	newOrder requestKind = iota
	cancelOrder
	replaceOrder
	massCancel
	orderStatus
)

// request is one trading message a session sent; the field its kind
// names is set.
type request struct {
	kind         requestKind
	order        proto.NewOrder
	cancel       proto.Cancel
	replace      proto.Replace
	massCancelOf uint32 // the instrument (0: all)
	status       proto.OrderStatus
}

// session is one logged-on order-entry connection: it records every
// request it sent and every execution report it read, in order.
type session struct {
	connection
	name    string
	account uint32

	// Guarded by mu.
	sent    []request
	reports []proto.Report
}

// dial logs a session of account on, with its secret from cfg.
func dial(t testing.TB, cfg *config.Config, gateway string, account uint32, dropCopy bool, name string) *session {
	t.Helper()
	secret := ""
	for _, a := range cfg.Accounts {
		if a.ID == account {
			secret = a.Secret
		}
	}
	c, err := client.Dial(gateway, account, secret, client.Options{DropCopy: dropCopy})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	s := &session{name: name, account: account}
	s.start(t, c, func(m client.Message) {
		if m.Type == wire.MessageExecutionReport {
			s.reports = append(s.reports, m.Report)
		}
	})
	return s
}

// send records and writes req (buffered: Flush sends it).
func (s *session) send(req request) error {
	s.mu.Lock()
	s.sent = append(s.sent, req)
	s.mu.Unlock()
	switch req.kind {
	case newOrder:
		return s.c.NewOrder(req.order)
	case cancelOrder:
		return s.c.Cancel(req.cancel)
	case replaceOrder:
		return s.c.Replace(req.replace)
	case massCancel:
		return s.c.MassCancel(req.massCancelOf)
	default:
		return s.c.OrderStatus(req.status)
	}
}

// sendNow sends req at once; a failure fails the test.
func (s *session) sendNow(t testing.TB, req request) {
	t.Helper()
	if err := s.send(req); err != nil {
		t.Fatalf("%s: send: %v", s.name, err)
	}
	if err := s.c.Flush(); err != nil {
		t.Fatalf("%s: flush: %v", s.name, err)
	}
}

// record returns copies of what the session sent and read so far.
func (s *session) record() (sent []request, reports []proto.Report) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent), slices.Clone(s.reports)
}

// received is how many reports the session has read so far: a mark for
// await.
func (s *session) received() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reports)
}

// await waits until the reports read since mark satisfy until, and
// returns them.
func (s *session) await(t testing.TB, mark int, what string, until func([]proto.Report) bool) []proto.Report {
	t.Helper()
	var since []proto.Report
	if err := s.connection.await(time.Now().Add(hangAfter), func() bool {
		since = slices.Clone(s.reports[mark:])
		return until(since)
	}); err != nil {
		t.Fatalf("%s: no %s: %v; %d reports since, the last: %+v", s.name, what, err, len(since), since[max(0, len(since)-5):])
	}
	return since
}

// atLeast is an await condition: n reports of kind.
func atLeast(n int, kind wire.ExecKind) func([]proto.Report) bool {
	return func(rs []proto.Report) bool {
		seen := 0
		for _, r := range rs {
			if r.Kind == kind {
				seen++
			}
		}
		return seen >= n
	}
}

// liveOrders lists the account's live orders, every page (proto/README.md
// "OrderStatus"). The listing is an input like any other, answered in
// sequence: once it is done, every earlier input's reports to this
// session have arrived too — the test's way to wait for an exchange that
// has caught up with the session.
func (s *session) liveOrders(t testing.TB) []proto.Report {
	t.Helper()
	var live []proto.Report
	cursor := uint64(0)
	for page := 0; ; page++ {
		if page > 0 {
			// gateway.status_rate (20 a second per account) allows a
			// burst of 20; pages beyond it are paced under the rate.
			time.Sleep(60 * time.Millisecond)
		}
		mark := s.received()
		s.sendNow(t, request{kind: orderStatus, status: proto.OrderStatus{AfterOrderID: cursor}})
		answer := s.await(t, mark, "StatusDone", atLeast(1, wire.ExecKindStatusDone))
		var done proto.Report
		for _, r := range answer {
			switch r.Kind {
			case wire.ExecKindStatus:
				live = append(live, r)
			case wire.ExecKindStatusDone:
				done = r
			}
		}
		if done.Reason == 0 { // the list is complete
			return live
		}
		cursor = done.OrderID
	}
}
