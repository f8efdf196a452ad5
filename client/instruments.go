package client

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// ErrNoInstrumentList: the order-entry port refused ListInstruments
// unknown-command, as a node built before the request (2026-12-07) does.
// Its market-data port skips the request unanswered: Instruments then
// fails with its timeout.
var ErrNoInstrumentList = errors.New("client: the node does not know ListInstruments (a build before it): take the instruments from its config")

// ErrInstrumentsRefused: a node that knows ListInstruments refused this
// one (over the account's gateway.status_rate): the list exists, and may
// differ from any config the caller holds — ask again later.
var ErrInstrumentsRefused = errors.New("client: the node refused the instrument list")

// maxInstruments bounds the instruments a client gathers of one unfinished
// answer: a server that never ended its list would otherwise grow the
// client's memory without end. A variable for tests.
var maxInstruments = 1 << 20

// ListInstruments asks the node for the instruments it trades, on either
// port (after the logon, where the port wants one). The answer comes as
// one Message from Next: Type wire.MessageInstrumentsDone, its
// Instruments set, in no order with the reports or market data around it.
func (c *Client) ListInstruments() error { return c.send(c.enc.ListInstruments(c.next())) }

// Instruments asks the node for its instruments and waits for them, at
// most the Options.Timeout the client was dialled with (or until an
// earlier SetReadDeadline): ids, symbols, tick and lot sizes, decimals,
// price bands and reference prices, in increasing id. It writes and reads:
// call it where no other goroutine does either (before trading or
// subscribing, or between). What it reads before the answer — reports,
// market data — is kept, and Next returns it afterwards, in order — after
// Instruments failed too, before the error that ended it; or, Redialled
// without a Next, the new client's Next returns it first.
//
// A node built before the request answers it on order entry with a
// refusal (ErrNoInstrumentList) and skips it on the market-data port (an
// error wrapping os.ErrDeadlineExceeded, after the timeout).
func (c *Client) Instruments() ([]proto.InstrumentInfo, error) {
	if err := c.ListInstruments(); err != nil {
		return nil, err
	}
	if err := c.Flush(); err != nil {
		return nil, err
	}
	caller := c.readDeadline.Load()
	until := time.Now().Add(c.timeout)
	if caller != 0 && caller < until.UnixNano() {
		until = time.Unix(0, caller)
	}
	c.SetReadDeadline(until)
	defer func() {
		if caller == 0 {
			c.SetReadDeadline(time.Time{})
		} else {
			c.SetReadDeadline(time.Unix(0, caller))
		}
	}()
	for {
		var m Message
		// Before what read let go after m (the live reports an undecided
		// Redial held back: decide), as NextInto returns them.
		at := len(c.held)
		if err := c.read(&m); err != nil {
			return nil, fmt.Errorf("client: instruments not listed: %w", err)
		}
		switch r := &m.Report; {
		case m.Type == wire.MessageInstrumentsDone:
			return m.Instruments, nil
		case m.Type == wire.MessageExecutionReport && m.Seq == 0 && r.Kind == wire.ExecKindRejected && r.InputSeq < 0 &&
			r.OrderID == 0 && r.ClientOrderID == 0 && r.Instrument == 0:
			// The gateway's refusal of a message naming no order: this
			// request's (no order has ids 0).
			if engine.RejectReason(r.Reason) == engine.ReasonUnknownCommand {
				return nil, ErrNoInstrumentList
			}
			return nil, fmt.Errorf("%w: %s", ErrInstrumentsRefused, engine.RejectReason(r.Reason))
		}
		if len(c.held) >= maxReturned {
			return nil, fmt.Errorf("client: instruments not listed: %d messages came before the answer", maxReturned)
		}
		c.held = slices.Insert(c.held, at, m)
	}
}
