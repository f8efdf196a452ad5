package node

import (
	"fmt"
	"math"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// mdMaxFrameBytes is the largest frame the market-data port reads, but
// for a Logon of a long secret (mdFrameLimit): more than any other
// message a subscriber sends.
const mdMaxFrameBytes = 1024

// mdFrameLimit is the largest frame the market-data port reads, as cfg
// sets it: mdMaxFrameBytes, or the largest Logon of its accounts when
// longer — a secret that logs on to order entry (whose Logon fits
// gateway.max_frame_bytes, 4096 by default: config checks it) logs on
// here too. With 1024 alone, an account of a secret over ~1000 bytes
// had its Logon closed as malformed, and could never follow the market
// with marketdata.require_logon. A larger frame ends the connection
// (mdTooLarge).
func mdFrameLimit(cfg *config.Config) int {
	limit := mdMaxFrameBytes
	for _, a := range cfg.Accounts {
		// The account's largest Logon, as config measures it: a drop
		// copy's (client.DialMarketDataLogon sends one), resuming a
		// session.
		logon := proto.NewEncoder().ResumeLogon(math.MaxUint64, a.ID, a.Secret, true, math.MaxUint64)
		limit = max(limit, len(logon)-proto.PrefixSize)
	}
	return limit
}

// The ends the port tells in words of their own and counts under
// another cause (mdCounted): a malformed frame, told which — a client
// cannot tell what it did wrong from "malformed" alone. Recorded as an
// end (subscriber.endFor) as the causes are; not metric labels.
const (
	mdTooLarge    = mdCauses + iota // a frame over mdFrameLimit
	mdEmptyFrame                    // a frame of length 0
	mdNotAMessage                   // a frame that does not verify
	mdOrderEntry                    // an order-entry message: a program given the wrong port
	mdEnds
)

// mdCounted is the cause an end is counted under
// (ringex_marketdata_closed_total): the ends told in words of their own
// are malformed.
func mdCounted(end int) int {
	if end >= mdCauses {
		return mdMalformed
	}
	return end
}

// mdSlowText is what a slow subscriber is told, before the limit it
// crossed (mdHub.cuts).
const mdSlowText = "the subscriber did not read its updates fast enough"

// mdClosings are the Closings of the port's ends that send one
// (Outbox.CloseSaying), as cfg sets the limits they name: those of a
// connection served, not refused at its logon or evicted (answered
// LogonReject, as before), nor logged out (told nothing: it ended the
// connection, as a session that logs out of the gateway). Each names
// the limit crossed, its setting and value, where one applies; a
// malformed frame is told which (mdTooLarge …). A slow consumer is told
// by its cut, which names the limit (mdHub.cuts); its entry here is the
// words they start with.
func mdClosings(cfg *config.Config) map[int]proto.Closing {
	return map[int]proto.Closing{
		mdIdle:         {Cause: wire.ClosingCauseIdle, Text: fmt.Sprintf("subscribed to nothing for gateway.read_timeout (%v)", cfg.Gateway.ReadTimeout)},
		mdRateLimit:    {Cause: wire.ClosingCauseRateLimit, Text: fmt.Sprintf("more messages a second than marketdata.message_rate (%d)", cfg.MarketData.MessageRate)},
		mdSlowConsumer: {Cause: wire.ClosingCauseSlowConsumer, Text: mdSlowText},
		mdTooLarge:     {Cause: wire.ClosingCauseMalformed, Text: fmt.Sprintf("a frame over %d bytes, the largest the market-data port reads", mdFrameLimit(cfg))},
		mdEmptyFrame:   {Cause: wire.ClosingCauseMalformed, Text: "a frame of length 0"},
		mdNotAMessage:  {Cause: wire.ClosingCauseMalformed, Text: "a frame that is not a valid message"},
		mdOrderEntry:   {Cause: wire.ClosingCauseMalformed, Text: "an order-entry message: this is the market-data port; send orders to the order-entry port"},
		mdNotCurrent:   {Cause: wire.ClosingCauseNotCurrent, Text: "this cluster member is out of touch with the leader: subscribe on another"},
		mdShutdown:     {Cause: wire.ClosingCauseShutdown, Text: "the node is stopping"}, // the order-entry gateway's words for it
	}
}

// buildClosings encodes the port's Closing frames, once: an end or a
// cut picks one, building nothing.
func (h *mdHub) buildClosings() {
	cfg := h.n.cfg
	for end, c := range mdClosings(cfg) {
		h.closings[end] = proto.NewEncoder().ClosingOf(c) // an encoder's frame is its buffer: one each
	}
	h.cuts = gateway.SlowConsumerCuts(mdSlowText, "marketdata.send_buffer_bytes", cfg.MarketData.SendBufferBytes,
		"gateway.read_timeout", cfg.Gateway.ReadTimeout, h.n.sendBudget)
}

// closeSayingFirst closes sub's outbox, once an end is recorded, saying
// the Closing of the first (endFor; mdClosings) after what it holds: a
// refusal (mdRefusal) within mdRefusedLinger, any other end within the
// outbox's close grace. On an outbox closed already it does nothing.
func (h *mdHub) closeSayingFirst(sub *subscriber) {
	first, _ := sub.firstEnd()
	if mdRefusal(first) {
		sub.out.CloseSayingWithin(h.closings[first], mdRefusedLinger)
		return
	}
	sub.out.CloseSaying(h.closings[first])
}

// mdRefusal reports whether end refuses a connection that never made
// its slot its own: its logon refused (LogonReject: a wrong secret, the
// failed-logon guard, the account's connections, a message before the
// Logon), stalled in its Logon, or evicted for a newcomer
// (TooManyConnections). Such a connection is owed its answer and the
// end of the stream, no more.
func mdRefusal(end int) bool {
	switch end {
	case mdLogonFailed, mdLogonThrottled, mdMaxPerAccount, mdNotLoggedOn, mdLogonTimeout, mdEvicted:
		return true
	}
	return false
}

// mdRefusedLinger bounds the close of a refused connection (mdRefusal):
// its answer written and what its client still sends read and dropped
// (output.CloseLingering), so that a client that pipelined messages
// after its Logon reads the answer and then the end, not a reset. It is
// the order-entry port's bound (gateway.RefusedLinger): one constant for
// both ports, so that they cannot drift apart. Short, because the
// connection holds its slot until it is closed (serveConn), off the
// waitlist: within the outbox's close grace (1 s)
// each refusal held one that long, and a client refused again and
// again, sending past each answer, kept the port's slots — and those
// of its address — from everyone else.
const mdRefusedLinger = gateway.RefusedLinger
