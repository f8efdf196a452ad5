package engine

// Names used in logs, metrics labels, scenario tests and the protocol
// documentation. Kept in one place so they cannot drift apart.

var rejectNames = [...]string{
	ReasonNone:               "none",
	ReasonUnknownInstrument:  "unknown-instrument",
	ReasonUnknownAccount:     "unknown-account",
	ReasonInvalidQuantity:    "invalid-quantity",
	ReasonInvalidPrice:       "invalid-price",
	ReasonInvalidSide:        "invalid-side",
	ReasonInvalidOrderType:   "invalid-order-type",
	ReasonInvalidTimeInForce: "invalid-time-in-force",
	ReasonInvalidSTP:         "invalid-stp",
	ReasonPriceBand:          "price-band",
	ReasonMaxOrderQty:        "max-order-qty",
	ReasonMaxNotional:        "max-notional",
	ReasonMaxOpenOrders:      "max-open-orders",
	ReasonDuplicateClOrdID:   "duplicate-client-order-id",
	ReasonUnknownOrder:       "unknown-order",
	ReasonInstrumentHalted:   "instrument-halted",
	ReasonPostOnlyWouldTrade: "post-only-would-trade",
	ReasonFOKNotFilled:       "fok-not-filled",
	ReasonOverflow:           "overflow",
	ReasonUnknownCommand:     "unknown-command",
	ReasonMalformedFrame:     "malformed-frame",
	ReasonRateLimited:        "rate-limited",
	ReasonNotLoggedOn:        "not-logged-on",
	ReasonMarketPostOnly:     "market-post-only",
	ReasonNoLiquidity:        "no-liquidity",
	ReasonInvalidSequence:    "invalid-sequence",
	ReasonAccountSuspended:   "account-suspended",
	ReasonDropCopySession:    "drop-copy-session",
	ReasonDroppedByOperator:  "dropped-by-operator",
}

func (r RejectReason) String() string {
	if int(r) < len(rejectNames) {
		return rejectNames[r]
	}
	return "unknown"
}

// RejectReasons lists every reject reason, for documentation and metrics.
func RejectReasons() []RejectReason {
	out := make([]RejectReason, 0, len(rejectNames)-1)
	for r := range rejectNames[1:] {
		out = append(out, RejectReason(r+1))
	}
	return out
}

var cancelNames = [...]string{
	CancelNone:             "none",
	CancelRequested:        "requested",
	CancelMassCancel:       "mass-cancel",
	CancelIOCRemainder:     "ioc-remainder",
	CancelSelfTrade:        "self-trade",
	CancelPriceBand:        "price-band",
	CancelReplacedToZero:   "replaced-to-zero",
	CancelMatchLimit:       "match-limit",
	CancelAccountSuspended: "account-suspended",
	CancelInstrumentHalted: "instrument-halted",
}

func (r CancelReason) String() string {
	if int(r) < len(cancelNames) {
		return cancelNames[r]
	}
	return "unknown"
}

func (s Side) String() string {
	switch s {
	case Buy:
		return "buy"
	case Sell:
		return "sell"
	}
	return "none"
}

var eventNames = [...]string{
	EvNone: "none", EvAccepted: "accepted", EvRejected: "rejected", EvTrade: "trade",
	EvCancelled: "cancelled", EvReplaced: "replaced", EvBookLevel: "level",
	EvHalted: "halted", EvResumed: "resumed", EvSnapshot: "snapshot", EvBookClear: "book-clear",
	EvOrderStatus: "status", EvStatusDone: "status-done", EvResend: "resend", EvMassCancelDone: "mass-cancel-done",
}

func (t EventType) String() string {
	if int(t) < len(eventNames) {
		return eventNames[t]
	}
	return "unknown"
}
