package unmarshal

import (
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// Decode fills s.Cmd from the slot's header and raw frame. seq is the
// slot's input sequence number.
func Decode(seq int64, s *input.Slot) {
	c := &s.Cmd
	*c = engine.Command{Seq: seq, Timestamp: s.RecvTime, Session: s.Session, Account: s.Account}
	n := int(s.Len)
	if n > len(s.Raw) {
		invalid(c, engine.ReasonMalformedFrame)
		return
	}
	buf := s.Raw[:n]
	var m proto.Msg
	if err := proto.VerifyMsg(buf, &m); err != nil {
		invalid(c, engine.ReasonMalformedFrame)
		return
	}
	switch typ := m.Type; typ {
	case wire.MessageNewOrder:
		var o proto.NewOrder
		m.ReadNewOrder(buf, &o)
		c.Type = engine.CmdNewOrder
		c.ClientOrderID = o.ClientOrderID
		c.Instrument = o.Instrument
		c.Side = engine.Side(o.Side)
		c.OrderType = engine.OrderType(o.Type)
		c.TIF = engine.TimeInForce(o.TIF)
		c.PostOnly = o.PostOnly
		c.STP = engine.STP(o.STP)
		c.Price = o.Price
		c.Quantity = o.Quantity
		if r := checkEnums(c); r != engine.ReasonNone {
			invalid(c, r)
		}
	case wire.MessageCancel:
		o := m.Cancel(buf)
		c.Type = engine.CmdCancel
		c.OrderID = o.OrderID
		c.OrigClientOrderID = o.OrigClientOrderID
		c.Instrument = o.Instrument
	case wire.MessageReplace:
		var o proto.Replace
		m.ReadReplace(buf, &o)
		c.Type = engine.CmdReplace
		c.OrderID = o.OrderID
		c.OrigClientOrderID = o.OrigClientOrderID
		c.ClientOrderID = o.ClientOrderID
		c.Price = o.Price
		c.Quantity = o.Quantity
		c.Instrument = o.Instrument
	case wire.MessageMassCancel:
		c.Type = engine.CmdMassCancel
		c.Instrument = m.Instrument(buf)
	case wire.MessageOrderStatus:
		o := m.OrderStatus(buf)
		c.Type = engine.CmdOrderStatus
		c.OrderID = o.OrderID
		c.OrigClientOrderID = o.OrigClientOrderID
		c.Instrument = o.Instrument
		c.ClientOrderID = o.AfterOrderID // the page cursor (engine.CmdOrderStatus)
	case wire.MessageResendReports:
		c.Type = engine.CmdResend
		// After this input sequence (engine.CmdResend); a negative one is
		// the start, as 0 (proto/README.md), and the answer names 0.
		c.OrderID = uint64(max(m.ResendReports(buf), 0))
		c.ClientOrderID = m.Seq // the answers' tag; the engine refuses 0 (a query's refusal)
	case wire.MessageHalt, wire.MessageResume, wire.MessageSnapshotRequest, wire.MessageSuspendAccount,
		wire.MessageResumeAccount:
		if s.Kind != input.KindControl {
			invalid(c, engine.ReasonUnknownCommand)
			return
		}
		switch typ {
		case wire.MessageHalt:
			c.Type = engine.CmdHalt
			c.Instrument, c.CancelOrders = m.Halt(buf) // false in a Halt journaled before the field
		case wire.MessageResume:
			c.Type = engine.CmdResume
			c.Instrument = m.Instrument(buf)
		case wire.MessageSuspendAccount: // of the slot's account, stamped by the node
			c.Type = engine.CmdSuspendAccount
		case wire.MessageResumeAccount:
			c.Type = engine.CmdResumeAccount
		default:
			c.Type = engine.CmdSnapshot
		}
	case wire.MessageHeartbeat, wire.MessageLogout, wire.MessageSubscribe, wire.MessageUnsubscribe:
		c.Type = engine.CmdNoop
	default: // exchange-to-client messages, Logon: not order entry
		invalid(c, engine.ReasonUnknownCommand)
	}
}

// checkEnums rejects enum codes no order can ever have (contract 6); the
// combinations that depend on each other or on state stay the engine's.
func checkEnums(c *engine.Command) engine.RejectReason {
	switch {
	case c.Side != engine.Buy && c.Side != engine.Sell:
		c.Side = engine.SideNone // not echoed in the reject: it is no side
		return engine.ReasonInvalidSide
	case c.OrderType != engine.Limit && c.OrderType != engine.Market:
		return engine.ReasonInvalidOrderType
	case c.TIF < engine.GTC || c.TIF > engine.FOK:
		return engine.ReasonInvalidTimeInForce
	case c.STP > engine.STPAllow:
		return engine.ReasonInvalidSTP
	}
	return engine.ReasonNone
}

// invalid turns c into a reject. The decoded fields stay, so the engine's
// reject echoes the client order id, instrument, price and quantity.
func invalid(c *engine.Command, r engine.RejectReason) {
	c.Type = engine.CmdInvalid
	c.Reason = r
}

// Drop decodes s as Decode does, then turns its command into the reject
// of an input the operator dropped (journal.DropsFile): the engine
// applies nothing of it and answers its session with
// engine.ReasonDroppedByOperator, echoing the client order id it
// carried. A message the engine answers nothing for (CmdNoop) stays
// one. A query (CmdOrderStatus, CmdResend) keeps its type with the
// reason set: the engine refuses it as a query (Event.Query: to the
// asker alone, never resent) — as CmdInvalid its refusal went to every
// session of the account and into every resend, its cursor or tag
// echoed as a client order id. A node-issued input (input.KindControl:
// a halt, a suspension, a cancel-on-disconnect's mass cancel) becomes a
// CmdNoop: no client sent it, and its refusal — from session 0,
// stamped with the account it was about — went to every session of
// that account and into every resend, a reject of nothing they sent.
// The caller decides that seq is dropped (and logs it).
func Drop(seq int64, s *input.Slot) {
	Decode(seq, s)
	switch {
	case s.Cmd.Type == engine.CmdNoop:
	case s.Kind == input.KindControl:
		s.Cmd.Type, s.Cmd.Reason = engine.CmdNoop, engine.ReasonNone
	case s.Cmd.Type == engine.CmdOrderStatus || s.Cmd.Type == engine.CmdResend:
		s.Cmd.Reason = engine.ReasonDroppedByOperator
	default:
		invalid(&s.Cmd, engine.ReasonDroppedByOperator)
	}
}
