package reconcile

import (
	"maps"
	"slices"

	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// input is one exchange input a session caused: the request, and every
// report of it to each trading session.
type input struct {
	seq     int64
	from    *session
	req     *request
	reports map[*session][]proto.Report
}

// inputsOf pairs each trading session's requests with the inputs they
// became. A session's reports come in input order; the first report of
// an input that is not a Fill answers the session's next request. That
// holds while each account trades on one session at a time: then the
// only reports another input causes to a session are its orders' fills
// as the resting side (proto/README.md "ExecutionReport").
func (m *model) inputsOf(sessions []*session) map[int64]*input {
	inputs := map[int64]*input{}
	for _, s := range sessions {
		sent, reports := s.record()
		answered, lastOwn := 0, int64(0)
		for _, r := range reports {
			if r.Account != s.account {
				m.problem("%s: a report of account %d: %+v", s.name, r.Account, r)
			}
			if r.InputSeq < 0 {
				m.problem("%s: the gateway refused request %d (input_seq -1): %+v", s.name, answered, r)
				answered++
				continue
			}
			in := inputs[r.InputSeq]
			if in == nil {
				in = &input{seq: r.InputSeq, reports: map[*session][]proto.Report{}}
				inputs[r.InputSeq] = in
			}
			if len(in.reports[s]) == 0 && r.Kind != wire.ExecKindFill {
				switch {
				case answered == len(sent):
					m.problem("%s: input %d answers no request (all %d answered): %+v", s.name, r.InputSeq, len(sent), r)
				case in.from != nil:
					m.problem("input %d answers a request of %s and of %s", r.InputSeq, in.from.name, s.name)
				case r.InputSeq <= lastOwn:
					m.problem("%s: input %d answers a request sent after input %d's", s.name, r.InputSeq, lastOwn)
				default:
					in.from, in.req, lastOwn = s, &sent[answered], r.InputSeq
					answered++
				}
			}
			in.reports[s] = append(in.reports[s], r)
		}
		if answered != len(sent) {
			m.problem("%s: %d requests sent, %d answered", s.name, len(sent), answered)
		}
	}
	return inputs
}

// run applies the inputs in sequence, then checks what must hold over
// the whole run.
func (m *model) run(inputs map[int64]*input) {
	for _, seq := range slices.Sorted(maps.Keys(inputs)) {
		in := inputs[seq]
		if in.from == nil {
			m.problem("input %d: reports but no request of ours: %+v", seq, in.reports)
			continue
		}
		m.input = seq
		m.stats.inputs++
		m.apply(in)
		m.collectFills(in)
		m.stats.mostLive = max(m.stats.mostLive, len(m.live))
	}
	m.checkTrades()
	m.checkQuantities()
}

// collectFills files the input's fills by trade, and checks that a
// session is told of another's input only through its orders' fills.
func (m *model) collectFills(in *input) {
	for s, reports := range in.reports {
		for _, r := range reports {
			if r.Kind != wire.ExecKindFill {
				if s != in.from {
					m.problem("input %d: %s got a %s report of %s's input: %+v", in.seq, s.name, wire.EnumNamesExecKind[r.Kind], in.from.name, r)
				}
				continue
			}
			m.fillsByTrade[r.TradeID] = append(m.fillsByTrade[r.TradeID], r)
			if o := m.orders[r.OrderID]; o != nil {
				o.reportedFills += r.Quantity
			} else {
				m.problem("input %d: a fill of unknown order %d", in.seq, r.OrderID)
			}
		}
	}
}

// checkTrades: every trade has two fills, one a side, of the same
// price, quantity and instrument, from the input its id names (the high
// bits of a trade id are the input; proto/README.md "ExecutionReport").
// What one side bought the other sold: quantity is conserved.
func (m *model) checkTrades() {
	for id, fills := range m.fillsByTrade {
		if len(fills) != 2 {
			m.problem("trade %d: %d fills: %+v", id, len(fills), fills)
			continue
		}
		a, b := fills[0], fills[1]
		if a.Side == b.Side || a.Price != b.Price || a.Quantity != b.Quantity || a.Instrument != b.Instrument || a.InputSeq != b.InputSeq {
			m.problem("trade %d: the fills disagree: %+v and %+v", id, a, b)
		}
		if int64(id>>16) != a.InputSeq {
			m.problem("trade %d: not an id of input %d", id, a.InputSeq)
		}
	}
}

// checkQuantities: every order's fill reports add up to what it traded;
// a live order's traded and open quantities add up to its total, a
// closed one's traded and cancelled.
func (m *model) checkQuantities() {
	for _, o := range m.orders {
		if o.reportedFills != o.filled {
			m.problem("order %d: fills reported %d, traded %d", o.id, o.reportedFills, o.filled)
		}
		switch {
		case o.live && o.filled+o.leaves != o.qty:
			m.problem("order %d live: traded %d + open %d != total %d", o.id, o.filled, o.leaves, o.qty)
		case o.closed && o.filled+o.cancelled != o.qty:
			m.problem("order %d closed: traded %d + cancelled %d != total %d", o.id, o.filled, o.cancelled, o.qty)
		case !o.live && !o.closed:
			m.problem("order %d neither live nor closed: %+v", o.id, *o)
		}
	}
}
