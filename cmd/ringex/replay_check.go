package main

import (
	"fmt"
	"io"
	"math"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/replay"
	"github.com/ringex/ringex/snapshot"
)

// snapshotStops are the inputs of the snapshots a replay from the start
// (from 0) passes, through upTo (0: the journal's end), ascending: where
// it stops to compare its state with the node's (runChecked). A replay
// --from-snapshot has none to compare (its caller does not ask): it
// restored the newest one in reach, and passed over every one after it
// (or all, to start from the beginning) as damaged or not restoring.
func snapshotStops(store *snapshot.Store, from, upTo int64) []int64 {
	if store == nil || from > 0 {
		return nil
	}
	seqs, err := store.List()
	if err != nil {
		return nil
	}
	var stops []int64
	for _, s := range seqs {
		if s > from && (upTo == 0 || s <= upTo) {
			stops = append(stops, s)
		}
	}
	return stops
}

// runChecked replays the journal in dir from input from+1 through upTo
// (0: its end) into eng, as one replay.RunWith would, stopping after each
// of stops (snapshotStops) to compare eng's state with that snapshot's.
// diverged is the first snapshot whose state the replay did not rebuild
// (compareSnapshot); err is the replay's.
func runChecked(out io.Writer, dir string, opts replay.Options, eng *engine.Engine, from, upTo int64,
	store *snapshot.Store, stops []int64, ecfg engine.Config, otherRulesAfter int64) (total replay.Stats, diverged, err error) {
	total.Last = from
	next := from + 1
	for i := 0; ; i++ {
		to := upTo
		if i < len(stops) {
			to = stops[i]
		} else if upTo > 0 && next > upTo {
			return total, diverged, nil // the last stop was --to: nothing after it to read
		}
		st, err := replay.RunWith(dir, nil, next, to, eng, opts)
		total.Records += st.Records
		total.Last = max(total.Last, st.Last)
		total.Dropped = append(total.Dropped, st.Dropped...)
		total.NotDropped = append(total.NotDropped, st.NotDropped...)
		total.TornSegment, total.TornAt = st.TornSegment, st.TornAt
		if err != nil || i == len(stops) || st.Last < to {
			return total, diverged, err // the journal ends before the next snapshot: past its end (snapshotPastJournal)
		}
		if d := compareSnapshot(out, store, eng, to, ecfg, otherRulesAfter); diverged == nil {
			diverged = d
		}
		next = to + 1
	}
}

// compareSnapshot compares eng's state, after input seq, with the state
// the snapshot of seq holds, and says which. Another state is a
// divergence (the error) unless the inputs before seq were decided under
// other rules than ecfg's (the snapshot's own, or a rules record's after
// otherRulesAfter, an input: printRulesNotes), which the replay does not
// have.
func compareSnapshot(out io.Writer, store *snapshot.Store, eng *engine.Engine, seq int64, ecfg engine.Config, otherRulesAfter int64) error {
	snap, err := store.Read(seq)
	if err != nil {
		fmt.Fprintf(out, "the state at input %d is not compared with its snapshot: %v\n", seq, err)
		return nil
	}
	h := eng.StateHash()
	same := h == snap.Hash
	if !same {
		// The same state in another encoding — a snapshot an earlier
		// build wrote, of an older version — hashes otherwise: the
		// state it restores to is compared.
		restored, err := engine.RestoreEngine(ecfg, snap.Payload, discard{})
		same = err == nil && restored.StateHash() == h
	}
	if same {
		fmt.Fprintf(out, "the state at input %d is the one snapshot %s holds (hash %016x)\n", seq, snap.Path, h)
		return nil
	}
	rules := ecfg.Fingerprint()
	fmt.Fprintf(out, "the state at input %d differs from the one snapshot %s holds: hash %016x, the snapshot's %016x", seq, snap.Path, h, snap.Hash)
	if snap.Rules != 0 && snap.Rules != rules || seq > otherRulesAfter {
		fmt.Fprintln(out, " (the node decided the inputs before it under other instruments, accounts or limits than this config has)")
		return nil
	}
	fmt.Fprintln(out, "; this replay does not rebuild the state the node had there")
	return fmt.Errorf("the replay diverged from the node's snapshot at input %d (%s): state hash %016x, the snapshot's %016x;"+
		" the journal holds other inputs than the node applied, or this build decides them otherwise", seq, snap.Path, h, snap.Hash)
}

// discard is the sink of an engine restored only to be compared.
type discard struct{}

func (discard) Emit(*engine.Event) {}

// noOtherRules is printRulesNotes' answer when no record says inputs were
// decided under other rules than the config's.
const noOtherRules = math.MaxInt64
