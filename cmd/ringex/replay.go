package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/replay"
	"github.com/ringex/ringex/snapshot"
)

type replayCounts struct {
	w           io.Writer
	printEvents bool
	// account, when non-zero, limits the printed events to those of the
	// account's orders (either side of a trade).
	account               uint32
	accepted, trades, rej int64
	line                  []byte // the event being printed
	// writing is the time Emit spent formatting and writing the printed
	// events: inside the engine's apply calls, yet not the engine's, so
	// the replay takes it out of replay.Stats.Applying.
	writing time.Duration
}

func (r *replayCounts) Emit(ev *engine.Event) {
	switch ev.Type {
	case engine.EvAccepted:
		r.accepted++
	case engine.EvTrade:
		r.trades++
	case engine.EvRejected:
		r.rej++
	}
	if r.printEvents && (r.account == 0 || ev.Account == r.account || (ev.Type == engine.EvTrade && ev.MakerAccount == r.account)) {
		began := time.Now()
		r.line = append(appendReplayEvent(r.line[:0], ev), '\n')
		r.w.Write(r.line)
		r.writing += time.Since(began)
	}
}

// appendReplayEvent appends one line of `replay --events`: what an
// operator looks for in an incident — which book, whose order, why
// (lines.go: the 10 M records BenchmarkRestart journals print in 4–6 s,
// 17 s through fmt and a builder per line, on M207).
func appendReplayEvent(b []byte, ev *engine.Event) []byte {
	b = strconv.AppendInt(append(b, "seq="...), ev.Seq, 10)
	b = append(append(b, ' '), ev.Type.String()...)
	if ev.Instrument != 0 {
		b = appendUnum(b, "instrument=", uint64(ev.Instrument))
	}
	switch ev.Type {
	case engine.EvTrade:
		b = appendUnum(b, "trade=", ev.TradeID)
		b = appendNum(b, "qty=", ev.Quantity)
		b = appendNum(b, "price=", ev.Price)
		b = appendUnum(b, "taker=", ev.OrderID)
		b = strconv.AppendUint(append(b, "/account="...), uint64(ev.Account), 10)
		b = append(append(b, '/'), ev.Side.String()...)
		b = appendNum(b, "leaves=", ev.Leaves)
		b = appendUnum(b, "maker=", ev.MakerOrderID)
		b = strconv.AppendUint(append(b, "/account="...), uint64(ev.MakerAccount), 10)
		b = appendNum(b, "leaves=", ev.MakerLeaves)
	case engine.EvBookLevel:
		b = appendWord(b, "side=", ev.Side.String())
		b = appendNum(b, "price=", ev.Price)
		b = appendNum(b, "qty=", ev.Quantity)
		b = appendUnum(b, "orders=", uint64(ev.Count))
	case engine.EvAccepted, engine.EvRejected, engine.EvCancelled, engine.EvReplaced, engine.EvOrderStatus:
		b = appendUnum(b, "order=", ev.OrderID)
		b = appendUnum(b, "client=", ev.ClientOrderID)
		b = appendUnum(b, "account=", uint64(ev.Account))
		b = appendWord(b, "side=", ev.Side.String())
		b = appendNum(b, "price=", ev.Price)
		b = appendNum(b, "qty=", ev.Quantity)
		b = appendNum(b, "leaves=", ev.Leaves)
	case engine.EvStatusDone, engine.EvMassCancelDone:
		b = appendUnum(b, "account=", uint64(ev.Account))
		b = appendNum(b, "orders=", ev.Quantity)
	case engine.EvResend:
		b = appendUnum(b, "account=", uint64(ev.Account))
		b = appendUnum(b, "session=", ev.Session)
		b = appendUnum(b, "after=", ev.OrderID)
	}
	switch ev.Type {
	case engine.EvRejected:
		b = appendWord(b, "reason=", engine.RejectReason(ev.Reason).String())
	case engine.EvCancelled:
		b = appendWord(b, "reason=", engine.CancelReason(ev.Reason).String())
	}
	return b
}

func newReplayCmd() *cobra.Command {
	var path string
	var sets []string
	var fromSnapshot, books, events bool
	var upTo int64
	var account uint32
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Run a node's journal offline through the engine and print the state hash",
		Long: `Runs the journal of a node's data directory through the engine, offline,
exactly as recovery does — optionally starting from the newest snapshot,
optionally stopping at a sequence — and prints the state hash and a summary.
This is how an operator reproduces production behaviour on a copy of the
data: the same journal always gives the same hash. Segments archived by
snapshot.journal_retention (archive, the default; snapshot.archive_dir)
are read with the journal as one, so a replay from the start works on a
copy of the whole data directory; one whose archive is elsewhere or was
not copied fails naming both directories (set snapshot.archive_dir, or
replay --from-snapshot). The summary and --books
give prices and quantities in the instrument's units, as ringex client
does; --events prints them as journaled, in integer units. A replay that
falls short of what was asked — --to past the journal's end, or a
snapshot past it (the journal lost inputs the snapshot holds; a node
refuses such data) — prints the state it reached and exits non-zero. So
does one stopped by a bad record: it prints the last input applied and
the state hash there, then the error.

From the start, the replay compares its state with each snapshot the
node took on the way (at its input): "is the one snapshot … holds", or
"differs" — the journal holds other inputs than the node applied, or this
build decides them otherwise — which fails the command once the replay
has printed the rest (unless the notes say those inputs were decided
under other rules than the config's: then it is expected). A snapshot
after the journal's end fails it too. A last segment that ends in a torn
tail (a write a crash cut short) is replayed up to it, as a node's start
truncates it, and said.`,
		Example: `  ringex replay --set node.data_dir=/copy/of/data
  ringex replay --from-snapshot --books
  ringex replay --to 1000000 --events | less
  ringex replay --events --account 4     # what happened to account 4's orders`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if upTo < 0 {
				// Not "the end": a typo for an input number would print
				// the journal's end state as if it were the one asked for.
				return fmt.Errorf("--to %d: an input sequence is at least 1 (0, the default: the journal's end)", upTo)
			}
			if account != 0 && !events {
				return fmt.Errorf("--account %d selects the events --events prints: add --events (the summary is of every account)", account)
			}
			cfg, err := loadConfig(path, sets)
			if err != nil {
				return err
			}
			// Buffered: --events prints a line per event, and a write per
			// line took 29 s for the 10 M records BenchmarkRestart journals
			// (12 M lines into a pipe), a third of it in the kernel.
			out := bufio.NewWriterSize(cmd.OutOrStdout(), 1<<20)
			defer out.Flush()
			sink := &replayCounts{w: out, printEvents: events, account: account}
			ecfg := node.EngineConfig(cfg)
			eng, err := engine.NewEngine(ecfg, sink)
			if err != nil {
				return err
			}
			// OpenStore creates a missing directory: replay writes nothing
			// into the data it reads.
			var store *snapshot.Store
			switch _, serr := os.Stat(cfg.SnapshotDir()); {
			case serr == nil:
				if store, err = snapshot.OpenStore(cfg.SnapshotDir(), nil); err != nil {
					return err
				}
			case !errors.Is(serr, fs.ErrNotExist):
				return serr
			}
			from, snapPath := int64(0), "" // the snapshot restored, if any
			if fromSnapshot {
				snap, maxSeq, err := snapshot.Snapshot{}, upTo, error(snapshot.ErrNone)
				// As recovery does: a snapshot that verifies but does not
				// restore gives way to an older one.
				for store != nil {
					var skipped []error
					snap, skipped, err = store.Newest(maxSeq)
					for _, s := range skipped {
						if errors.Is(s, snapshot.ErrNewerVersion) {
							return newerBuildsSnapshot(s)
						}
						fmt.Fprintf(out, "snapshot skipped: %v\n", s)
					}
					if err != nil {
						break
					}
					restored, rerr := engine.RestoreEngine(ecfg, snap.Payload, sink)
					if rerr == nil {
						eng = restored
						break
					}
					if errors.Is(rerr, engine.ErrConfigChanged) {
						return fmt.Errorf("snapshot %s: %w", snap.Path, rerr)
					}
					if errors.Is(rerr, engine.ErrNewerSnapshot) {
						return newerBuildsSnapshot(fmt.Errorf("snapshot %s: %w", snap.Path, rerr))
					}
					fmt.Fprintf(out, "snapshot %s does not restore (%v); trying an older one\n", snap.Path, rerr)
					if maxSeq = snap.Seq - 1; maxSeq < 1 {
						err = snapshot.ErrNone
						break
					}
				}
				switch {
				case errors.Is(err, snapshot.ErrNone):
					fmt.Fprintln(out, "no snapshot: replaying from the start")
				case err != nil:
					return err
				default:
					from, snapPath = snap.Seq, snap.Path
					if snap.InputKnown {
						// As a node's start does: a snapshot of other inputs
						// than the journal's builds a state that never was.
						err := replay.CheckSnapshotInput([]string{cfg.ArchiveDir(), cfg.JournalDir()}, nil, snap.Seq, snap.InputChecksum)
						if errors.Is(err, replay.ErrOtherInputs) {
							return fmt.Errorf("snapshot %s: %w; replay with the journal it was taken on, or without this snapshot", snap.Path, err)
						}
						if errors.Is(err, journal.ErrOtherJournal) {
							// Its own id unknown when no header of its segments reads
							// (a damaged copy): said so, with why; err names both ids.
							id, idErr := journal.DirID(cfg.JournalDir(), nil)
							return replay.OtherJournalSegment(err, snap.Path, snap.Seq, cfg.JournalDir(), id, idErr)
						}
						if err != nil {
							fmt.Fprintf(out, "note: the snapshot's last input could not be read in the journal to check it belongs with it: %v\n", err)
						}
					}
					fmt.Fprintf(out, "restored snapshot at sequence %d (%s)\n", snap.Seq, snap.Path)
					if snap.Rules != 0 && snap.Rules != ecfg.Fingerprint() {
						fmt.Fprintln(out, "note: the snapshot was taken under other instruments, accounts or limits than this config has;"+
							" the inputs after it are replayed under this config and may be decided differently than they were")
					}
				}
			}
			otherRulesAfter, rulesChangedAfter := printRulesNotes(out, store, from, upTo, ecfg.Fingerprint())
			start := time.Now()
			// The archive first: with the default retention the segments
			// before the oldest kept snapshot are there, and a replay from
			// the start (or from snapshot 0) needs them.
			// A cluster member's journal is not fdatasynced: its tail is
			// judged as the member's start judges it.
			unsynced := unsyncedJournal(cfg.JournalDir(), cfg.Cluster.Enabled() || cfg.Journal.Sync == "none")
			fmt.Fprintf(out, "journal %s, archive %s\n", cfg.JournalDir(), cfg.ArchiveDir())
			// From the start, the replay stops at each snapshot it passes to
			// compare its state with the node's there.
			var stops []int64
			if !fromSnapshot { // else every snapshot in reach was restored from or passed over, and said
				stops = snapshotStops(store, from, upTo)
			}
			st, diverged, err := runChecked(out, cfg.JournalDir(), nil, replay.Options{Archive: cfg.ArchiveDir(), Unsynced: unsynced},
				eng, from, upTo, store, stops, ecfg, otherRulesAfter)
			if perr, ok := errors.AsType[*replay.PanicError](err); ok {
				// The stack once, for the report; the error (printed as
				// the command exits non-zero) names the input.
				fmt.Fprintf(cmd.ErrOrStderr(), "the engine's stack at the panic:\n%s\n", perr.Stack)
			}
			if err != nil {
				if st.Last > rulesChangedAfter {
					// A failure past them: the inputs it did replay were
					// still decided under other rules than this config's.
					fmt.Fprintf(out, "note: the inputs after %d were decided under other instruments, accounts or limits than this config has;"+
						" the ones before the failure, replayed through input %d, were replayed under this config and may have been decided differently than they were\n",
						rulesChangedAfter, st.Last)
				}
				if errors.Is(err, replay.ErrMissing) {
					return missingInputs(err, cfg, fromSnapshot)
				}
				if _, panicked := errors.AsType[*replay.PanicError](err); !panicked {
					// The inputs before a bad record were applied, and the
					// state they built is the node's at that input: its hash
					// is what an operator compares with a node's (ringex
					// status). After an engine panic the state is undefined.
					fmt.Fprintf(out, "stopped by the error below: the last input applied was %d (%d records replayed), state hash %016x there — compare it with a node's at that input (ringex status)\n",
						st.Last, st.Records, eng.StateHash())
				}
				return errors.Join(diverged, err) // a divergence before the failure is a failure too
			}
			records, last := st.Records, st.Last
			elapsed := time.Since(start)
			st.Applying -= sink.writing // --events: the lines' writing is not the engine's
			fmt.Fprintf(out, "replayed %d records (to sequence %d) in %s\n", records, last, replayTimes(records, elapsed, st.Applying, len(stops) > 0, events))
			if last > rulesChangedAfter {
				// Only once there are such inputs: a journal ending where
				// the other rules were recorded (a start under them, and
				// no input since) replayed every input under its rules.
				fmt.Fprintf(out, "note: the inputs after %d were decided under other instruments, accounts or limits than this config has;"+
					" they were replayed under this config and may have been decided differently than they were\n", rulesChangedAfter)
			}
			for _, seq := range st.Dropped {
				fmt.Fprintf(out, "dropped input %d: rejected (dropped-by-operator), not applied, as %s lists it\n", seq, journal.DropsFile)
			}
			for _, seq := range st.NotDropped {
				fmt.Fprintf(out, "input %d applied: %s lists its sequence with another checksum (another input than this one)\n", seq, journal.DropsFile)
			}
			// What the replay reached is printed either way; a replay
			// short of what was asked fails after it (a script comparing
			// hashes must not take this one for the state it asked for).
			// Both checks: a snapshot at the journal's very end replays no
			// record and is no shortfall itself, but --to past it is.
			var short error
			pastSnapshot := false // the journal ends before the snapshot restored
			if records == 0 && from > 0 {
				short = snapshotPastJournal(cfg, from, snapPath, unsynced, "the state printed is the snapshot's")
				pastSnapshot = errors.Is(short, errSnapshotPastJournal)
			}
			for i := len(stops) - 1; short == nil && i >= 0 && stops[i] > last; i-- {
				// From the start, past the newest snapshot a node would
				// start from (a damaged one it passes over), taken after
				// the journal's end: the journal lost inputs it holds.
				if store.Verify(stops[i]) == nil {
					short = snapshotPastJournal(cfg, stops[i], store.RecordPath(stops[i]), unsynced, fmt.Sprintf("the state printed is that at input %d", last))
					break
				}
			}
			if short == nil && upTo > 0 && last < upTo {
				short = fmt.Errorf("the journal ends at input %d, before --to %d: the state printed is that at input %d", last, upTo, last)
			}
			if short == nil && upTo == 0 {
				// To the journal's end: the segments alone end at the
				// previous one's end if the newest is gone, as a node's
				// start refuses.
				if err := journal.CheckNewest(nil, cfg.JournalDir(), last); err != nil {
					short = fmt.Errorf("%w: the state printed is that at input %d", err, last)
				}
			}
			if st.TornSegment != "" {
				// After the snapshot a replay restored only if the journal
				// reaches it: past its end, the reader passed the records
				// before it and met the tail earlier.
				where := fmt.Sprintf("after input %d", last)
				if pastSnapshot {
					where = fmt.Sprintf("before the snapshot's input %d", from)
				}
				fmt.Fprintf(out, "torn tail: %s from offset %d, %s, holds no record (a write cut short by a crash, or damage: an unsynced journal ends at its first bad record); not replayed, as a node's start truncates it\n",
					st.TornSegment, st.TornAt, where)
			}
			fmt.Fprintf(out, "orders accepted %d, trades %d, rejects %d, live orders %d\n", sink.accepted, sink.trades, sink.rej, eng.LiveOrders())
			ins := newInstruments(cfg.Instruments)
			for _, id := range eng.Instruments() {
				bid, okb := eng.Best(id, engine.Buy)
				ask, oka := eng.Best(id, engine.Sell)
				fmt.Fprintf(out, "instrument %d (%s): %d bid levels, %d ask levels", id, ins.get(id).Symbol,
					eng.Depth(id, engine.Buy), eng.Depth(id, engine.Sell))
				if okb {
					fmt.Fprintf(out, ", best bid %s×%s", ins.price(id, bid.Price), ins.qty(id, bid.Quantity))
				}
				if oka {
					fmt.Fprintf(out, ", best ask %s×%s", ins.price(id, ask.Price), ins.qty(id, ask.Quantity))
				}
				if eng.Halted(id) {
					fmt.Fprint(out, ", halted")
				}
				fmt.Fprintln(out)
				if books {
					for _, s := range []engine.Side{engine.Sell, engine.Buy} {
						eng.Levels(id, s, func(l engine.LevelInfo) bool {
							fmt.Fprintf(out, "  %s %s qty=%s orders=%d\n", s, ins.price(id, l.Price), ins.qty(id, l.Quantity), l.Count)
							return true
						})
					}
				}
			}
			if s := eng.SuspendedAccounts(); len(s) > 0 {
				fmt.Fprintf(out, "suspended accounts: %v\n", s)
			}
			fmt.Fprintf(out, "state hash %016x\n", eng.StateHash())
			return errors.Join(diverged, short)
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "YAML config file (default: the embedded demo config)")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override one setting, key=value (repeatable)")
	cmd.Flags().BoolVar(&fromSnapshot, "from-snapshot", false, "start from the newest valid snapshot")
	cmd.Flags().Int64Var(&upTo, "to", 0, "stop after this sequence (0: the journal's end)")
	cmd.Flags().BoolVar(&books, "books", false, "print the final books")
	cmd.Flags().BoolVar(&events, "events", false, "print every event")
	cmd.Flags().Uint32Var(&account, "account", 0, "with --events: only the events of this account's orders (what its sessions heard, or would have)")
	return cmd
}

// rateFloor is the fewest records a replay prints rates for: below it
// the time is mostly the reading of whole segments (and the clock's
// grain), and a rate of it said nothing about the engine or the disk
// ("0 records in 501ms").
const rateFloor = 100_000

// replayTimes says what a replay of records in elapsed spent it on:
// the engine's share (applying, replay.Stats.Applying) and the reading of
// the journal, which reads every segment whole — a young journal's one
// segment is mostly its preallocated tail, checked to be zeros — and,
// checked set, the comparing with the snapshots it passed, and, events
// set (--events), the writing of the event lines.
func replayTimes(records int64, elapsed, applying time.Duration, checked, events bool) string {
	reading := "reading the journal, each segment whole (journal.segment_bytes, preallocated: its unused tail is checked to be zeros)"
	if checked {
		reading += " and comparing with the snapshots passed"
	}
	if events {
		reading += " and writing the events"
	}
	if records == 0 {
		return fmt.Sprintf("%v, %s", elapsed.Round(time.Millisecond), reading)
	}
	if records < rateFloor {
		return fmt.Sprintf("%v: the engine took %v of it, the rest went on %s",
			elapsed.Round(time.Millisecond), applying.Round(time.Microsecond), reading)
	}
	return fmt.Sprintf("%v (%.0f records/s): the engine took %v of it (%.0f records/s), the rest went on %s",
		elapsed.Round(time.Millisecond), float64(records)/max(elapsed.Seconds(), 1e-9),
		applying.Round(time.Millisecond), float64(records)/max(applying.Seconds(), 1e-9), reading)
}

// printRulesNotes notes where the inputs replayed after from (through
// upTo, 0: the end) were decided under other rules than the config's, or
// under rules nothing records:
// the snapshot of input 0 when the replay starts there (the rules the
// journal began under), and every snapshot or rules mark in between (a
// change of rules and back leaves both ends agreeing with the config).
//
// It returns the input after which the inputs were decided under other
// rules, by those records (noOtherRules: none says so), and the one of
// those that is a snapshot or rules mark (changedAfter, noOtherRules if
// none): its note is the caller's to print once the replay has shown
// there are inputs after it.
func printRulesNotes(out io.Writer, store *snapshot.Store, from, upTo int64, rules uint64) (otherAfter, changedAfter int64) {
	otherAfter, changedAfter = noOtherRules, noOtherRules
	if store == nil { // no snapshot directory
		fmt.Fprintln(out, "note: no snapshot records the rules the journal's inputs were decided under;"+
			" they are replayed under this config and build and may be decided differently than they were")
		return otherAfter, changedAfter
	}
	if from == 0 {
		s0, err := store.Read(0)
		switch {
		case err != nil:
			fmt.Fprintln(out, "note: no snapshot of input 0 records the rules the journal began under (a data directory of a build before 2026-12-03?);"+
				" its inputs are replayed under this config and build and may be decided differently than they were")
		case s0.Rules != 0 && s0.Rules != rules:
			fmt.Fprintln(out, "note: the journal began under other instruments, accounts or limits than this config has;"+
				" its inputs are replayed under this config and may be decided differently than they were")
			otherAfter = 0
		}
	}
	before := int64(math.MaxInt64)
	if upTo > 0 {
		before = upTo
	}
	recs, err := store.RulesBetween(from, before)
	for _, r := range recs {
		if r.Rules != 0 && r.Rules != rules {
			otherAfter = min(otherAfter, r.Seq)
			changedAfter = r.Seq
			break
		}
	}
	if err != nil {
		fmt.Fprintf(out, "note: %v: the inputs after it may have been decided under other rules than this config's\n", err)
	}
	return otherAfter, changedAfter
}

// snapshotPastJournal returns an error when the journal (with the
// archive) holds segments but ends before input snapSeq, of the snapshot
// at path a replay started from or passed: the journal lost inputs the
// snapshot holds, and a node refuses to start on such data, where the
// replay printed the snapshot's state as if nothing were amiss (printed:
// which state the replay printed). The error names the snapshot's file:
// a replay from the start restored none, and said only its input. A
// journal holding nothing (only snapshots were copied) is not refused,
// as a node does not.
func snapshotPastJournal(cfg *config.Config, snapSeq int64, path string, unsynced bool, printed string) error {
	r, err := journal.NewReaderOf([]string{cfg.ArchiveDir(), cfg.JournalDir()}, nil, snapSeq)
	if err != nil {
		return err
	}
	defer r.Close()
	if unsynced {
		r.SetUnsynced()
	}
	var rec journal.Record
	switch err := r.Next(&rec); {
	case err == nil, r.Start() == 0:
		return nil
	case errors.Is(err, io.EOF) && journalBegunAt(cfg.JournalDir(), snapSeq+1):
		// Its only segment names the input after the snapshot and holds
		// no record yet (journal.BeginAt: an install with no input since,
		// a lost journal accepted): it ends at the snapshot.
		return nil
	case errors.Is(err, io.EOF):
		return fmt.Errorf("the snapshot at input %d is %w: the journal lost inputs the snapshot %s holds, and a node refuses to start on this data (%s)", snapSeq, errSnapshotPastJournal, path, printed)
	default:
		return err
	}
}

// missingInputs says where a replay looked for the inputs its journal
// does not begin with (err wraps replay.ErrMissing), and what to do.
// With the default retention the segments before the oldest kept
// snapshot are in the archive: a copy of the data directory without it
// (snapshot.archive_dir elsewhere, not copied along) has only the newest
// segments, and the replay named neither directory.
func missingInputs(err error, cfg *config.Config, fromSnapshot bool) error {
	archive := cfg.ArchiveDir()
	if _, serr := os.Stat(archive); errors.Is(serr, fs.ErrNotExist) {
		archive += ", which does not exist"
	}
	way := "copy the archive along (set snapshot.archive_dir to where it is) or the missing segments into it"
	if !fromSnapshot {
		way += ", or replay --from-snapshot (from the newest snapshot, which needs only the journal after it)"
	}
	return fmt.Errorf("%w (journal %s, archive %s); %s", err, cfg.JournalDir(), archive, way)
}

// errSnapshotPastJournal is snapshotPastJournal's refusal.
var errSnapshotPastJournal = errors.New("past the journal's end")

// journalBegunAt reports whether the journal in dir holds the segment
// whose first input is first (its name: the format's, journal/doc.go).
func journalBegunAt(dir string, first int64) bool {
	_, err := os.Stat(filepath.Join(dir, journal.SegmentName(first)))
	return err == nil
}

// newerBuildsSnapshot refuses to replay past a snapshot a later build
// wrote, as a node refuses to start: an older snapshot and the inputs
// after it would be decided here by this build's engine, not the one
// that decided them — a replay that reports what never happened.
func newerBuildsSnapshot(err error) error {
	return fmt.Errorf("%w: replay with the build that wrote it (not falling back to an older snapshot: the inputs after it were decided by that build)", err)
}
