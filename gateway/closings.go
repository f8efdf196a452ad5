package gateway

import (
	"fmt"
	"slices"
	"time"

	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// closings are the Closing a session ended for a cause is sent last (see
// Outbox.CloseSaying), by cause, as cfg sets its limits: each names the
// limit the client crossed, its setting and value, where one applies. A
// cause with none (the client's own logout or close, or one refused at
// its logon: answered LogonReject) has no entry. The causes' names are
// ClosingCauseName's (TestClosingNamesTheCause).
func closings(cfg Config) map[Cause]proto.Closing {
	return map[Cause]proto.Closing{
		CauseRateLimit:        {Cause: wire.ClosingCauseRateLimit, Text: rateText("gateway.disconnect_rate", cfg.DisconnectRate)},
		CauseFrameTooLarge:    {Cause: wire.ClosingCauseFrameTooLarge, Text: fmt.Sprintf("a frame over gateway.max_frame_bytes (%d bytes)", cfg.MaxFrameBytes)},
		CauseMalformed:        {Cause: wire.ClosingCauseMalformed, Text: "the connection ended in the middle of a frame"},
		CauseSlowConsumer:     {Cause: wire.ClosingCauseSlowConsumer, Text: slowText},
		CauseHeartbeatTimeout: {Cause: wire.ClosingCauseHeartbeatTimeout, Text: fmt.Sprintf("nothing heard from the client for gateway.read_timeout (%v)", cfg.HeartbeatTimeout)},
		CauseOperator:         {Cause: wire.ClosingCauseOperator, Text: "closed by an operator"},
		CauseReplaced:         {Cause: wire.ClosingCauseReplaced, Text: "a newer logon of the client replaced the session"},
		CauseNotLeader:        {Cause: wire.ClosingCauseNotLeader, Text: "this node stopped leading its cluster: log on to the new leader"},
		CauseShutdown:         {Cause: wire.ClosingCauseShutdown, Text: "the node is stopping"},
	}
}

// emptyFrameClosing is the Closing of a session that sent a frame of
// length 0: frame_too_large, as a frame over the maximum is (the cause
// the gateway counts, and clients match on), in a text of its own — one
// text said both, and a client could not tell which it had sent.
var emptyFrameClosing = proto.Closing{Cause: wire.ClosingCauseFrameTooLarge, Text: "a frame of length 0"}

// inputStalledClosing is the Closing of a session whose reader gave up
// publishing into an input ring that stayed full (CauseInputStalled,
// counted input_stalled). The wire has no cause of its own for it (a new
// ClosingCause is a schema change): it is told shutdown, the node
// serving no input as one that stops, in a text saying what happened —
// kept out of closings, whose causes are sent under their own names.
func inputStalledClosing(cfg Config) proto.Closing {
	return proto.Closing{Cause: wire.ClosingCauseShutdown, Text: fmt.Sprintf(
		"the node took no input for gateway.read_timeout (%v): the orders read last were not entered — ask OrderStatus which were", cfg.HeartbeatTimeout)}
}

// slowText is what a slow consumer is told, before the limit it crossed.
const slowText = "the client did not read its reports fast enough"

// rateText says a session was over the disconnect rate key of rate.
func rateText(key string, rate int) string {
	return fmt.Sprintf("more messages a second than %s (%d)", key, rate)
}

// SlowConsumerCuts are the Closings of a client cut as a slow consumer
// (output.SayWhenCut), by the limit it crossed: its send buffer
// (bufferKey, of buffer bytes), nothing taken for the stall time
// (stallKey, stall), or the node's send budget (budget; nil or 0: none)
// spent while it held among the most. slow is what comes before: who did
// not read what. Shared with the market-data port, which words the same
// limits with its own keys.
func SlowConsumerCuts(slow, bufferKey string, buffer int, stallKey string, stall time.Duration, budget *output.Budget) output.CutFrames {
	say := func(text string) []byte {
		return proto.NewEncoder().ClosingOf(proto.Closing{Cause: wire.ClosingCauseSlowConsumer, Text: slow + ": " + text})
	}
	cuts := output.CutFrames{
		Overflow: say(fmt.Sprintf("more than %s (%d bytes) waited unsent", bufferKey, buffer)),
		Stalled:  say(fmt.Sprintf("it took nothing written to it for %s (%v)", stallKey, stall)),
	}
	if budget != nil && budget.Limit() > 0 {
		cuts.OverBudget = say(fmt.Sprintf("the node's send budget, node.send_budget_bytes (%d bytes), was spent, and it held among the most unsent", budget.Limit()))
	}
	return cuts
}

// buildClosings encodes the gateway's Closing frames, once: a close
// picks one (closingOf), building nothing. Each has an encoder of its own:
// an encoder's frame is its buffer, reused by its next.
func (g *Gateway) buildClosings() {
	for cause, c := range closings(g.cfg) {
		g.closings[cause] = proto.NewEncoder().ClosingOf(c)
	}
	g.emptyFrame = proto.NewEncoder().ClosingOf(emptyFrameClosing)
	g.closings[CauseInputStalled] = proto.NewEncoder().ClosingOf(inputStalledClosing(g.cfg))
	// A frame too large is answered LogonReject FrameTooLarge, then the
	// Closing: both the connection's last frames, written once the
	// session is unregistered (Session.unregistered), as both tell its
	// client the session ended.
	tooLarge := proto.NewEncoder().LogonReject(0, wire.LogonRejectReasonFrameTooLarge)
	g.closings[CauseFrameTooLarge] = append(slices.Clip(tooLarge), g.closings[CauseFrameTooLarge]...)
	g.emptyFrame = append(slices.Clip(tooLarge), g.emptyFrame...)
	for id, a := range g.accounts {
		if a.DisconnectRate > 0 {
			a.rateClosing = proto.NewEncoder().ClosingOf(proto.Closing{Cause: wire.ClosingCauseRateLimit,
				Text: rateText("its account's disconnect_rate", a.DisconnectRate)})
			g.accounts[id] = a
		}
	}
	g.cuts = SlowConsumerCuts(slowText, "gateway.send_buffer_bytes", g.cfg.SendBufferBytes, "gateway.read_timeout", g.cfg.HeartbeatTimeout, g.cfg.SendBudget)
}

// closingOf is the Closing of s ended for cause (frame_too_large's after
// its LogonReject); nil for a cause that has none. The frame is shared: callers only hand it to an outbox, which
// copies it (CloseSaying).
func (g *Gateway) closingOf(s *Session, cause Cause) []byte {
	if cause == CauseFrameTooLarge && s != nil && s.emptyFrame.Load() {
		return g.emptyFrame
	}
	if cause == CauseRateLimit && s != nil {
		if own := g.accounts[s.Account].rateClosing; own != nil {
			return own
		}
	}
	return g.closings[cause]
}
