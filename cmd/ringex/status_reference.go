package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/ringex/ringex/config"
)

// otherReference says how the member at addr, whose GET /state reference
// (config.Config.ReferenceFingerprint) is ref, differs from the member at
// firstAt, whose reference is first: the first instrument, in id order,
// that the two serve under another symbol or other decimals, from each
// one's GET /instruments — or, when either does not answer it, the two
// fingerprints. No raft entry carries them, so the two run on together,
// and a client failing over from one to the other reads the other's.
func otherReference(token, addr, ref, firstAt, first string) string {
	const remedy = ": a client failing over between them reads other symbols or decimals — give every member the same ones " +
		"(they decide no input: restarting the member that serves the wrong ones with the others' is enough)"
	fingerprints := fmt.Sprintf("%s serves other reference data (symbols, decimals) than %s: reference %s there, %s on %s", addr, firstAt, ref, first, firstAt)
	mine, err := instrumentsAt(addr, token)
	if err != nil {
		return fingerprints + remedy
	}
	theirs, err := instrumentsAt(firstAt, token)
	if err != nil {
		return fingerprints + remedy
	}
	if diff := referenceDiff(addr, firstAt, mine, theirs); diff != "" {
		return diff + remedy
	}
	// The lists agree where the fingerprints differ: a member restarted
	// with other instruments between the reads.
	return fingerprints + ", though their GET /instruments agree (restarted since?): ask again"
}

// referenceDiff names the first instrument, in id order, that the member
// at addr (mine) serves under another symbol or other decimals than the
// member at firstAt (theirs), or listed by one only; "" when none is. A
// symbol that is not one word of printable ASCII (none a node serves:
// config's symbolFault) is quoted (shownWord).
func referenceDiff(addr, firstAt string, mine, theirs map[uint32]config.Instrument) string {
	served := func(in config.Instrument, ok bool) string {
		if !ok {
			return "not listed"
		}
		return fmt.Sprintf("%s (price decimals %d, qty decimals %d)", shownWord(in.Symbol), in.PriceDecimals, in.QtyDecimals)
	}
	ids := slices.AppendSeq(slices.Collect(maps.Keys(mine)), maps.Keys(theirs))
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		a, aok := mine[id]
		b, bok := theirs[id]
		if aok != bok || a.Symbol != b.Symbol || a.PriceDecimals != b.PriceDecimals || a.QtyDecimals != b.QtyDecimals {
			return fmt.Sprintf("%s serves other reference data than %s: instrument %d is %s there, %s on %s", addr, firstAt, id, served(a, aok), served(b, bok), firstAt)
		}
	}
	return ""
}

// instrumentsAt reads the instruments the node at addr serves (GET
// /instruments), by id.
func instrumentsAt(addr, token string) (map[uint32]config.Instrument, error) {
	var body bytes.Buffer
	if err := adminDo("GET", addr, "/instruments", token, &body); err != nil {
		return nil, err
	}
	return instrumentsAnswer(body.Bytes())
}

// instrumentsAnswer reads a node's answer to GET /instruments: the
// instruments it serves, by id.
func instrumentsAnswer(body []byte) (map[uint32]config.Instrument, error) {
	var answer struct {
		Instruments []config.Instrument `json:"instruments"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return nil, fmt.Errorf("GET /instruments: %w", err)
	}
	byID := map[uint32]config.Instrument{}
	for _, in := range answer.Instruments {
		byID[in.ID] = in
	}
	return byID, nil
}
