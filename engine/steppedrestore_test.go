package engine

import (
	"bytes"
	"math/rand"
	"slices"
	"testing"
)

// Stepped copies requested at random inputs, with every kind of command
// (halts that clear books, suspensions, mass cancels, replaces, bursts
// that grow the pools) applied between their steps, some copies dropped
// half way, two StateCopies taking turns and each encoded only later (as
// the node's writer does): every finished copy encodes the state of an
// engine that stopped at the input the copy finished at, restores
// (RestoreEngine) to it byte for byte, and the restored engine, given the
// inputs after that one, reaches the state hash of the engine that never
// stopped, event for event.
func TestSteppedCopyRestoresAndReplaysToTheSameState(t *testing.T) {
	seeds := int64(6)
	if raceEnabled {
		seeds = 1 // each finished copy is replayed to the end: slow under -race
	}
	for seed := int64(1); seed <= seeds; seed++ {
		rng := rand.New(rand.NewSource(seed * 7919))
		g := commandGen{rng: rand.New(rand.NewSource(seed))}
		const n = 40000
		cmds := make([]Command, n)
		for i := range cmds {
			c := g.next()
			if r := rng.Intn(1000); r < 150 { // bursts of resting bids: the pools grow during copies
				c = Command{Seq: c.Seq, Timestamp: c.Timestamp, Type: CmdNewOrder, Account: uint32(1 + 3*rng.Intn(2)),
					Instrument: 3, Side: Buy, OrderType: Limit, TIF: GTC, Price: int64(1 + rng.Intn(20000)), Quantity: 1}
			}
			cmds[i] = c
		}
		cfg := randomConfig()
		var live recordSink
		e, _ := NewEngine(cfg, &live)
		eventsBefore := make([]int, n+1) // live events before input i
		applied := 0
		apply := func(k int) {
			for end := min(applied+k, n); applied < end; applied++ {
				eventsBefore[applied] = len(live.events)
				e.Apply(&cmds[applied])
			}
			eventsBefore[applied] = len(live.events)
		}
		type taken struct {
			at   int // commands applied when the copy finished
			snap []byte
		}
		var snaps []taken
		copies := [2]StateCopy{}
		pending := [2]int{-1, -1} // a finished copy not yet encoded: the input it is at
		turn := 0
		finished, dropped := 0, 0
		for applied < n {
			apply(rng.Intn(800))
			c := &copies[turn]
			if pending[turn] >= 0 { // the "writer" encodes it only now, long after
				snaps = append(snaps, taken{at: pending[turn], snap: c.AppendSnapshot(nil)})
				pending[turn] = -1
			}
			if rng.Intn(2) == 0 {
				c.Reserve(e.Sizes())
			}
			e.BeginCopy(c)
			budget := 64 << rng.Intn(9)
			drop := rng.Intn(6) == 0
			for steps := 0; ; steps++ {
				apply(rng.Intn(5))
				if rng.Intn(3) != 0 {
					c.Reserve(e.Sizes())
				}
				swept := e.CopyMore(budget)
				if drop && (steps > 3 || swept) {
					e.DropCopy()
					dropped++
					break
				}
				if swept || steps > 300 {
					break
				}
			}
			if drop {
				if e.Copying() {
					t.Fatal("a copy is open after DropCopy")
				}
				continue
			}
			e.FinishCopy()
			// (Checked first: a copy with broken links would encode forever.)
			if !slices.Equal(c.orders, e.orders) || !slices.Equal(c.levels, e.levels) {
				t.Fatalf("seed %d: the copy finished after input %d: its pools differ from the engine's", seed, applied)
			}
			finished++
			pending[turn] = applied
			turn = 1 - turn
		}
		for i := range copies {
			if pending[i] >= 0 {
				snaps = append(snaps, taken{at: pending[i], snap: copies[i].AppendSnapshot(nil)})
			}
		}
		t.Logf("seed %d: %d copies finished, %d dropped", seed, finished, dropped)
		if finished < 5 || dropped == 0 {
			t.Fatalf("seed %d: %d copies finished, %d dropped: not enough of both", seed, finished, dropped)
		}
		endHash := e.StateHash()
		for _, s := range snaps {
			ref, _ := NewEngine(cfg, discard{})
			for i := range s.at {
				ref.Apply(&cmds[i])
			}
			if want := ref.AppendSnapshot(nil); !bytes.Equal(s.snap, want) {
				t.Fatalf("seed %d: the copy finished after input %d encodes %d bytes, an engine stopped there %d: not the same",
					seed, s.at, len(s.snap), len(want))
			}
			var after recordSink
			restored, err := RestoreEngine(cfg, s.snap, &after)
			if err != nil {
				t.Fatalf("seed %d: restoring the copy at input %d: %v", seed, s.at, err)
			}
			if s.at > 0 {
				restored.SetAppliedSeq(cmds[s.at-1].Seq)
			}
			for i := s.at; i < n; i++ {
				restored.Apply(&cmds[i])
			}
			if got := restored.StateHash(); got != endHash {
				t.Fatalf("seed %d: restored at input %d and replayed: hash %016x, the engine that never stopped %016x", seed, s.at, got, endHash)
			}
			// The replay's events are the live engine's events of those inputs.
			tail := live.events[eventsBefore[s.at]:]
			if len(tail) != len(after.events) {
				t.Fatalf("seed %d: restored at input %d: %d events replayed, %d live", seed, s.at, len(after.events), len(tail))
			}
			for i := range tail {
				if tail[i] != after.events[i] {
					t.Fatalf("seed %d: restored at input %d: event %d is %+v, live %+v", seed, s.at, i, after.events[i], tail[i])
				}
			}
		}
	}
}

// recordSink keeps every event.
type recordSink struct{ events []Event }

func (r *recordSink) Emit(ev *Event) { r.events = append(r.events, *ev) }
