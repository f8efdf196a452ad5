package config

import (
	"cmp"
	"encoding/binary"
	"hash/fnv"
	"slices"
)

// ReferenceFingerprint is a hash of the reference data a client reads
// of each instrument (ListInstruments) that the matching rules
// (engine.Config.Fingerprint) leave out: its id, symbol, price decimals
// and quantity decimals, in id order, so that listing the instruments
// in another order changes nothing. Never 0.
//
// It decides no input, and no snapshot, journal or raft entry records
// it: a node restarted with a symbol renamed or other decimals starts as
// before. The members of one cluster must serve the same — a client
// that fails over to another member reads its prices and quantities
// with that member's decimals, its instruments by that member's symbols
// — which nothing in the log can check: each member's GET /state gives
// it, and `ringex status` compares them.
func (c *Config) ReferenceFingerprint() uint64 {
	ins := slices.SortedFunc(slices.Values(c.Instruments), func(a, b Instrument) int { return cmp.Compare(a.ID, b.ID) })
	le := binary.LittleEndian
	b := le.AppendUint32(nil, uint32(len(ins)))
	for _, in := range ins {
		b = le.AppendUint32(b, in.ID)
		b = le.AppendUint32(b, uint32(len(in.Symbol)))
		b = append(b, in.Symbol...)
		b = append(b, byte(in.PriceDecimals), byte(in.QtyDecimals)) // 0…18: Validate
	}
	h := fnv.New64a()
	h.Write(b)
	return max(h.Sum64(), 1)
}
