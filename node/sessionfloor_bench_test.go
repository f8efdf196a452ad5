package node

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/replay"
	"github.com/ringex/ringex/snapshot"
)

// BenchmarkReplaySessionFloor measures what reading the session ids of
// the replayed inputs (replay.Options.Applied: replayedSessions, one
// call per input, noting each in the sessionFloor and the sessionTable —
// the engine stage's note per input is the same table's) costs a
// restart's replay: the journal of
// BenchmarkRestart's workload replayed from input 1 into a new engine,
// without the callback and with it, in pairs in one process; the claim
// is the ratio (with/without).
//
//	go test ./node -run '^$' -bench ReplaySessionFloor -benchtime 6x
//
// With -restart.dir it replays the directory BenchmarkRestart built
// there (all of its journal); without, a journal of 1 M inputs it builds.
func BenchmarkReplaySessionFloor(b *testing.B) {
	cfg := config.Default()
	cfg.Set("snapshot.schedule", "")
	if dir := *restartKeep; dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "restart-bench.json")); err != nil {
			b.Fatalf("-restart.dir %s: run BenchmarkRestart with it first: %v", dir, err)
		}
		cfg.Set("node.data_dir", dir)
	} else {
		cfg.Set("node.data_dir", b.TempDir())
		writeWorkload(b, cfg, 0, 1_000_000)
	}
	// The process's CPU time as well as the wall clock's: on a shared
	// machine the wall clock carries the other loads' drift.
	cpu := testkit.CPUTime
	type took struct{ wall, cpu time.Duration }
	replayOnce := func(applied func(*engine.Command), into *took) {
		eng, err := engine.NewEngine(EngineConfig(cfg), discard{})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC() // the last replay's engine is not collected during this one
		start, startCPU := time.Now(), cpu()
		if _, err := replay.RunWith(cfg.JournalDir(), nil, 1, 0, eng, replay.Options{Applied: applied}); err != nil {
			b.Fatal(err)
		}
		into.wall += time.Since(start)
		into.cpu += cpu() - startCPU
	}
	f, ids := sessionFloor{member: cfg.Node.ID}, sessionTable{own: cfg.Node.ID}
	applied := replayedSessions(&f, &ids)
	var without, with took
	for i := range b.N {
		// Each pair in turn in either order: the machine's load
		// drifts between replays, not within a pair.
		if i%2 == 0 {
			replayOnce(nil, &without)
			replayOnce(applied, &with)
		} else {
			replayOnce(applied, &with)
			replayOnce(nil, &without)
		}
	}
	b.ReportMetric(without.wall.Seconds()/float64(b.N), "s/replay-without")
	b.ReportMetric(with.wall.Seconds()/float64(b.N), "s/replay-with")
	b.ReportMetric(with.wall.Seconds()/without.wall.Seconds(), "with/without")
	b.ReportMetric(with.cpu.Seconds()/without.cpu.Seconds(), "with/without-cpu")
}

// BenchmarkSessionTableNote is the engine stage's cost per input of
// keeping the snapshots' record of session ids (sessionTable.note, in
// engineBatch): ids of one member (a node alone, or a cluster's leader
// since its start); of the third member to lead, the table holding the
// two before it (a cluster's inputs after two failovers); of three
// taking turns input by input, which no cluster's inputs do (one leader
// at a time): each moves its member to the first slot; and of a leader
// left out of a follower's full table (sixteen other members' ids, all
// above the leader's: its clock behind theirs), each input looked for
// in every slot and then against the one that would give way.
func BenchmarkSessionTableNote(b *testing.B) {
	leftOut := sessionTable{own: 18} // the follower's table
	for m := range uint64(snapshot.SessionSlots) {
		leftOut.ids[m] = 1<<61 | (m + 2)
	}
	for _, bc := range []struct {
		name    string
		from    sessionTable
		members uint64
		first   uint64 // the first input's member
	}{
		{"one-member", sessionTable{}, 1, 1},
		{"third-leader", table(1<<60|1, 1<<60|2), 1, 3},
		{"three-taking-turns", sessionTable{}, 3, 1},
		{"leader-left-out", leftOut, 1, 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ids := make([]uint64, 1024)
			for i := range ids {
				ids[i] = 1<<60 + uint64(i)<<20 | (bc.first + uint64(i)%bc.members)
			}
			t := bc.from
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				t.note(ids[i&1023])
			}
		})
	}
}
