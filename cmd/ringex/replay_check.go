package main

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/replay"
	"github.com/ringex/ringex/snapshot"
	"github.com/ringex/ringex/vfs"
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

// runChecked replays the journal in dir (fs nil: the OS's) from input
// from+1 through upTo (0: its end) into eng, as one replay.RunWith, and
// after each input of stops (snapshotStops) compares eng's state with
// that snapshot's. One pass: a reader opened anew after each stop read
// again from the start of the segment holding the next input, a replay
// of a production journal with its snapshots taking several times as
// long. diverged is the first snapshot whose state the replay did not
// rebuild (compareSnapshot); err is the replay's.
func runChecked(out io.Writer, dir string, fs vfs.FS, opts replay.Options, eng *engine.Engine, from, upTo int64,
	store *snapshot.Store, stops []int64, ecfg engine.Config, otherRulesAfter int64) (st replay.Stats, diverged, err error) {
	var comparing time.Duration // reading and comparing the snapshots
	if len(stops) > 0 {
		next := 0
		opts.Until = func() bool { // after each input: never ends the replay
			if seq := eng.AppliedSeq(); next < len(stops) && seq == stops[next] {
				began := time.Now()
				if d := compareSnapshot(out, store, eng, seq, ecfg, otherRulesAfter); diverged == nil {
					diverged = d
				}
				comparing += time.Since(began)
				next++
			}
			return false
		}
	}
	st, err = replay.RunWith(dir, fs, from+1, upTo, eng, opts)
	st.Applying -= comparing // the engine's time alone: Until's calls are in it
	return st, diverged, err
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
	rules := ecfg.Fingerprint()
	if same && h != snap.Hash && snap.Rules != 0 && snap.Rules != rules {
		// Restored under this config, a snapshot taken under other
		// instruments or limits becomes this config's state: the hash is
		// not the one the node had there (ringex status showed the
		// snapshot's), and an operator comparing the two must be told.
		fmt.Fprintf(out, "the state at input %d is the one snapshot %s holds once restored under this config (hash %016x);"+
			" the node's own was %016x, under other instruments, accounts or limits than this config has\n", seq, snap.Path, h, snap.Hash)
		return nil
	}
	if same {
		fmt.Fprintf(out, "the state at input %d is the one snapshot %s holds (hash %016x)\n", seq, snap.Path, h)
		return nil
	}
	fmt.Fprintf(out, "the state at input %d differs from the one snapshot %s holds: hash %016x, the snapshot's %016x", seq, snap.Path, h, snap.Hash)
	if snap.Rules != 0 && snap.Rules != rules || seq > otherRulesAfter {
		fmt.Fprintln(out, " (the node decided the inputs before it under other instruments, accounts or limits than this config has)")
		return nil
	}
	if snap.Rules == 0 {
		// An earlier build's snapshot, recording no rules: the node may
		// have decided the inputs under another config — not known to
		// differ, so not called a divergence.
		fmt.Fprintln(out, " (the snapshot records no rules — an earlier build's: the node may have decided the inputs before it under another config)")
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
