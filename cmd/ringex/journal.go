package main

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/snapshot"
)

func newJournalCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "journal", Short: "Work with a node's journal",
		Example: "  ringex journal inspect ./data/journal"}
	var verbose, unsynced, archive bool
	inspect := &cobra.Command{
		Use:   "inspect DIR",
		Short: "Verify every record of a journal and report its sequence range",
		Long: `Reads every segment of the journal in DIR (a node's <data_dir>/journal),
checks every record's CRC and sequence, and prints the range. Exits non-zero
naming the file and offset of the first corrupt record.

The journal's last segment may end in a torn tail, a write a crash cut
short: it is reported, not an error, for the node's start truncates it.
A last segment whose file ends inside a record was cut short after it
was written (a copy that did not finish, a truncation; segments are
preallocated, so no crash does that): an error, as the node's start
refuses it. A journal that lacks the newest segment it rolled to (the
newest-segment file in DIR records each roll: the segment deleted, or
left out of a copy) is an error naming it and the remedies, as the
node's start refuses it. A last segment whose data runs to its file's end in a file
smaller than the segment before it — what a copy cut short exactly
between two records leaves, its records sound — is reported, not an
error (the node's start takes it): compare the range with the source's.
It prints the journal's cluster id (cluster.id), which every segment
carries: segments of two ids — one copied in from another cluster's or
node's journal — are an error naming a segment of each and both ids.
The archive beside the journal (<data_dir>/archive, where
snapshot.journal_retention: archive moves retired segments), if there is
one, is read first, as one journal with it — as replay and a client's
resend read them — so a gap or damage where the two meet is found too.

DIR may be an archive: <data_dir>/archive, or any directory with --archive
(a snapshot.archive_dir elsewhere, a copy shipped off). Its segments were
retired whole and fdatasynced, and no node truncates them: it has no last
segment, and a bad record anywhere in it, at the end of its newest segment
too, is corrupt.`,
		Example: "  ringex journal inspect ./data/journal\n  ringex journal inspect -v ./data/journal | head\n" +
			"  ringex journal inspect ./data/archive\n  ringex journal inspect --archive /backup/ringex-archive",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := bufio.NewWriterSize(cmd.OutOrStdout(), 1<<20) // -v: a line per record
			var each func(*journal.Record)
			if verbose {
				var line []byte
				each = func(rec *journal.Record) {
					line = append(appendJournalRecord(line[:0], rec), '\n')
					out.Write(line)
				}
			}
			var opts journal.InspectOptions
			switch {
			case archiveDir(args[0], archive):
				if unsynced {
					return errors.New("--unsynced: DIR is an archive, whose segments were fdatasynced whole when retired")
				}
				opts.DirIsArchive = true
				fmt.Fprintln(out, "archive (<data_dir>/archive, or --archive): its segments were retired whole and fdatasynced, and no node truncates them: a bad record anywhere is damage")
			default:
				if opts.Unsynced = unsyncedJournal(args[0], unsynced); opts.Unsynced {
					fmt.Fprintln(out, "unsynced journal (a cluster member's: raft/ beside it, or --unsynced): a bad record in the last segment ends it, as the member's start judges it")
				}
				opts.Archive = archiveBeside(args[0])
			}
			st, err := journal.InspectWith(args[0], nil, opts, each)
			if st.Segments == 0 {
				// No range to print: a summary of zeros read as a journal
				// that was checked.
				if opts.DirIsArchive && errors.Is(err, journal.ErrNoSegments) {
					// A node retires segments only once they are wholly
					// before its oldest kept snapshot: a young node's
					// archive is empty, and that is no damage.
					fmt.Fprintf(out, "segments 0: nothing retired to %s yet (snapshot.journal_retention moves a segment here once it is wholly before the oldest kept snapshot)\n", args[0])
					err = nil
				}
				out.Flush()
				return err
			}
			if st.Records == 0 {
				fmt.Fprintf(out, "segments %d, no record yet: the journal begins at input %d (its first segment is named for it; a node started on a snapshot of input %d)\n",
					st.Segments, st.Begins, st.Begins-1)
			} else {
				fmt.Fprintf(out, "segments %d, records %d, sequences %d…%d, payload %d bytes\n",
					st.Segments, st.Records, st.FirstSeq, st.LastSeq, st.PayloadBytes)
			}
			switch {
			case st.ID != "":
				fmt.Fprintf(out, "cluster id %s: every segment carries it (cluster.id; a segment of another journal is refused)\n", st.ID)
			case st.Segments == 1 && st.TornFile != "" && st.TornAt == 0:
				fmt.Fprintln(out, "cluster id: none yet, its one segment's header never reached the disk (the start writes it)")
			case st.Segments > 0 && err == nil:
				fmt.Fprintln(out, "cluster id: none, its segments were written before segments carried one")
			}
			if st.ArchiveSegments > 0 {
				fmt.Fprintf(out, "of them %d segments in the archive %s, read first as one journal with this one\n", st.ArchiveSegments, opts.Archive)
			}
			if st.TornFile != "" && st.TornAt == 0 {
				fmt.Fprintf(out, "torn tail: %s holds no record and its header never wholly reached the disk (all zeros, or part of a header: a crash just after the journal rolled to it); a node's start writes the header again and appends there, after sequence %d, dropping nothing\n",
					st.TornFile, st.LastSeq)
			} else if st.TornFile != "" {
				fmt.Fprintf(out, "torn tail: %s from offset %d holds no valid record after sequence %d (a write cut short by a crash, or a damaged last record); a node's start truncates it\n",
					st.TornFile, st.TornAt, st.LastSeq)
			}
			if st.ShortFile != "" {
				fmt.Fprintf(out, "cut short? %s: its data runs to its file's end, %d bytes, smaller than the segment before it (%d bytes); segments are preallocated, "+
					"so a copy of the journal cut short between two records reads so (or, journal.segment_bytes lowered since, a full segment): its records are sound, "+
					"and a node refuses to start on it (journal.segment_bytes larger than the file) — check that the range above ends where the source's does (ringex journal inspect on the source) before accepting it as the node's refusal says\n",
					st.ShortFile, st.ShortSize, st.BeforeSize)
			}
			if !opts.DirIsArchive {
				drops, derr := journal.ReadDrops(nil, args[0])
				if derr != nil {
					fmt.Fprintf(out, "dropped inputs: %v\n", derr)
					err = cmp.Or(err, derr)
				}
				for _, d := range drops.Entries() {
					fmt.Fprintf(out, "dropped input %d (checksum %08x): %s\n", d.Seq, d.Checksum, dropState(args[0], d))
				}
			}
			out.Flush()
			return err // printed once, by main
		},
	}
	inspect.Flags().BoolVarP(&verbose, "verbose", "v", false, "print every record")
	inspect.Flags().BoolVar(&archive, "archive", false, "DIR is an archive (snapshot.archive_dir): any bad record is corrupt, none a torn tail; <data_dir>/archive is detected by its name")
	inspect.Flags().BoolVar(&unsynced, "unsynced", false, "the journal was written without fdatasync (journal.sync none; a cluster member's is, and <data_dir>/journal is detected by <data_dir>/raft beside it)")
	cmd.AddCommand(inspect, newJournalCutCmd(), newJournalUncutCmd(), newJournalDropCmd())
	return cmd
}

func newJournalCutCmd() *cobra.Command {
	var (
		yes     bool
		snapDir string
	)
	cut := &cobra.Command{
		Use:   "cut DIR",
		Short: "Cut a last batch a power loss left half written, so the node starts",
		Long: `A node whose journal is fdatasynced per batch (journal.sync: batch) refuses
to start when its last segment holds a bad record with well-formed records
after it ("record fails its check, valid records follow at offset …"). A
power loss while the last batch was written can leave that — a later page
of the batch on disk, an earlier one not — and then no client was
acknowledged for any of it. So can damage to records clients were
acknowledged for, which the node cannot tell apart; you can.

Without --yes, cut says where the journal in DIR (a node's <data_dir>/journal)
would be cut and which records the cut takes out, and changes nothing. With
--yes it copies the bytes it cuts to <segment>.cut-<offset> beside the
segment (<segment>.cut-<offset>.2 and on when an earlier cut there kept
its bytes: the batch after a cut is written at the same offset), fsynced, then zeros the segment from that offset on, so the node
starts with the journal ending at the last record before it. Any other
damage (a bad header, sequences out of order) is reported and left alone.
The node must be stopped: cut takes the directory's lock.

cut refuses, with --yes or without, to take out inputs the node's newest
snapshot holds (of <data_dir>/snapshots beside a DIR <data_dir>/journal,
or of --snapshots DIR): the engine applied them, so they were durable and
acknowledged, and the bad record is damage, not a torn batch. It says when
it found no snapshots to check. A node started on a journal cut behind its
snapshot refuses to start, naming the kept file: journal uncut puts its
bytes back.

cut mends the last segment of DIR only. When it has nothing to cut there
it reads the journal through, with the archive beside it
(<data_dir>/archive), as journal inspect does, and says where any damage
is: cut does not touch an earlier segment or the archive, and the message
says how to restore the segment (docs/runbook.md, RingexNodeDown).

Exit status: 0 when cut said what it would cut (without --yes) or cut it
(--yes); 1 when it cut nothing otherwise — nothing to cut (the journal
opens as it is: the message says whether it reads clean or where the
damage is), a refusal (the snapshot holds the inputs), the directory in
use (stop the node first), or an error.`,
		Example: "  ringex journal cut ./data/journal\n  ringex journal cut --yes ./data/journal",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// A mistyped path is refused before the lock, which would
			// create it (and a LOCK file in it).
			if st, err := os.Stat(args[0]); err != nil || !st.IsDir() {
				return fmt.Errorf("journal cut: %s is no journal directory (%v)", args[0], cmp.Or(err, errors.New("not a directory")))
			}
			release, err := lockJournal(args[0], "cut", "nothing cut")
			if err != nil {
				return err
			}
			defer release()
			c, err := journal.CutTornBatch(args[0], nil, false)
			if errors.Is(err, journal.ErrNothingToCut) {
				return nothingToCut(args[0])
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			checked, err := refuseCutTheStateHolds(args[0], snapDir, c)
			if err != nil {
				return err
			}
			if checked == "" {
				fmt.Fprintf(out, "not checked against the node's snapshots: none beside %s (<data_dir>/snapshots); "+
					"where snapshot.dir names another directory, give it with --snapshots\n", args[0])
			}
			if yes {
				if c, err = journal.CutTornBatch(args[0], nil, true); err != nil {
					return err
				}
			}
			fmt.Fprintf(out, "%s: a bad record at offset %d, %d bytes of data from there", c.File, c.Offset, c.Bytes)
			if c.Records > 0 {
				fmt.Fprintf(out, " holding %d well-formed records, sequences %d…%d", c.Records, c.FirstCut, c.LastCut)
			}
			fmt.Fprintf(out, "\nonce cut, the journal ends at sequence %d\n", c.LastSeq)
			if c.SavedTo == "" {
				fmt.Fprintln(out, "nothing changed: run again with --yes to cut (if any client was acknowledged for those records, recover them from the client, a drop copy or a replica first)")
				return nil
			}
			fmt.Fprintf(out, "cut: the bytes are kept in %s\n", c.SavedTo)
			return nil
		},
	}
	cut.Flags().BoolVar(&yes, "yes", false, "cut (without it: say what would be cut)")
	cut.Flags().StringVar(&snapDir, "snapshots", "", "the node's snapshot directory (default: <data_dir>/snapshots beside a journal DIR <data_dir>/journal): cut refuses to take out inputs its newest snapshot holds")
	return cut
}

// lockJournal takes the lock of dir, a journal directory a journal
// command changes (the node must be stopped), and gives the lock file
// the owner of the journal's files at once, whatever follows — a dry
// run, a refusal: one made as root (sudo; a member's journal made for
// its first start has none yet) was root's, 0600, and the node could
// not open it. verb names the command, undone what its error says it
// left undone.
func lockJournal(dir, verb, undone string) (release func(), err error) {
	release, err = node.LockDir(dir)
	if err != nil {
		return nil, err
	}
	if err := ownLikeNode(dir, node.LockName); err != nil {
		release()
		return nil, fmt.Errorf("journal %s: %s keeps this user's ownership: %w; give it the owner of the journal's segments (chown) before the node starts; %s",
			verb, filepath.Join(dir, node.LockName), err, undone)
	}
	return release, nil
}

func newJournalUncutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "uncut KEPT",
		Short: "Put back the records a journal cut took out, from the file it kept them in",
		Long: `journal cut --yes keeps the bytes it cuts in KEPT, <segment>.cut-<offset>
(or .cut-<offset>.N) beside the segment. uncut writes them back into the
segment at that offset and fsyncs it: the segment reads as it did before
the cut. A node started on a journal cut behind its snapshot refuses to
start, naming KEPT: the records cut were acknowledged, not a torn batch,
and putting them back is the way to keep them; the next start then names
the damage the cut was run for (restore that segment from a backup:
docs/runbook.md).

uncut writes only over what the cut left: each byte there zero, or
already the kept byte (put back before: nothing changes). It refuses,
changing nothing, when a node appended to the segment at the offset since
the cut, or wrote segments after it: the kept bytes would overwrite
records, or repeat their sequences. KEPT is left where it is.
The node must be stopped: uncut takes the directory's lock.

Exit status: 0 when the bytes are back; 1 when they are not (a refusal,
the directory in use, an error).`,
		Example: "  ringex journal uncut ./data/journal/00000000000000000001.journal.cut-8192",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// A mistyped path is refused before the lock, which would
			// create its directory (and a LOCK file in it).
			if st, err := os.Stat(args[0]); err != nil || !st.Mode().IsRegular() {
				return fmt.Errorf("journal uncut: %s is no file a journal cut kept (%v)", args[0], cmp.Or(err, errors.New("not a regular file")))
			}
			release, err := lockJournal(filepath.Dir(args[0]), "uncut", "nothing put back")
			if err != nil {
				return err
			}
			defer release()
			c, err := journal.Uncut(nil, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: the %d bytes a cut took out at offset %d are back, from %s (left in place); "+
				"the journal reads as before the cut: ringex journal inspect %s names what the cut was run for\n",
				c.File, c.Bytes, c.Offset, c.SavedTo, filepath.Dir(c.File))
			return nil
		},
	}
}

func newJournalDropCmd() *cobra.Command {
	var r dropRequest
	drop := &cobra.Command{
		Use:   "drop DIR --input N",
		Short: "Take an input the engine cannot apply out of what it applies",
		Long: `An input the engine panics on is journaled before the engine sees it, so a
node that meets it refuses every start ("the engine panicked applying input
N (journal segment …, offset …, checksum C)"), and so does every cluster
member. The way that loses nothing is a build that fixes the panic; drop is
the way to trade again before one exists.

drop lists input N in DIR/` + journal.DropsFile + ` (DIR: a node's <data_dir>/journal)
with the checksum the journal stores with its record. From its next start
the node rejects the input instead of applying it — reject reason
dropped-by-operator, to the session that sent it (an input the node issued
itself, a halt or a cancel-on-disconnect, answers no one), in the node's
replay, its resends and ringex replay alike; a start that replays it writes
a snapshot past it.
The journal's segments are not changed. The entry drops only that input:
another one journaled under the same sequence later (after a journal cut)
has another checksum, and is applied.

List it on every cluster member: a member without the entry meets the
panic when it reaches the input. A member whose journal does not hold
the input yet (it was down) takes --checksum, the one the refusal names.

drop refuses an input the node's newest snapshot is past (the engine
applied it): the snapshots are those of <data_dir>/snapshots beside a DIR
<data_dir>/journal, or of --snapshots DIR; drop says when it found none.
--behind-snapshot lists such an input all the same, for one the engine
rejected when it met it, changing nothing: an input of a message type
newer than the build that journaled it (proto/ringex.fbs; journal
inspect -v names the type), which a later build knowing the type would
apply. A restart from the newest snapshot does not replay it; a start
from an older one, ringex replay and resends do, and reject it
(dropped-by-operator) instead. Listed, an input the engine applied keeps
its effects in the snapshots while those replays reject it: another state.

Without --yes, drop says which input it would list and changes nothing.
The node must be stopped: drop takes the directory's lock.`,
		Example: "  ringex journal drop ./data/journal --input 1200391\n" +
			"  ringex journal drop ./data/journal --input 1200391 --yes\n" +
			"  ringex journal drop ./data/journal --input 1200391 --checksum 3fa2c9d1 --yes   # a member that lacks it\n" +
			"  ringex journal drop ./data/journal --input 4711 --behind-snapshot --yes   # journaled of a type newer than its build",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r.dir = args[0]
			return r.run(cmd.OutOrStdout())
		},
	}
	drop.Flags().Int64Var(&r.seq, "input", 0, "the input's sequence (the refusal names it)")
	drop.Flags().StringVar(&r.checksum, "checksum", "", "its record's checksum, 8 hex digits: needed where DIR does not hold the input; checked where it does")
	drop.Flags().StringVar(&r.note, "note", "", "a note kept with the entry (default: when it was dropped)")
	drop.Flags().BoolVar(&r.yes, "yes", false, "list it (without it: say what would be listed)")
	drop.Flags().StringVar(&r.snapshots, "snapshots", "", "the node's snapshot directory (default: <data_dir>/snapshots beside a journal DIR <data_dir>/journal): drop refuses an input its newest snapshot is past")
	drop.Flags().BoolVar(&r.behind, "behind-snapshot", false,
		"list an input the newest snapshot is past: only one the engine rejected, changing nothing (a type newer than the build that journaled it); replays from before the snapshot reject it")
	return drop
}

// dropRequest is one `ringex journal drop`: its directory and flags.
type dropRequest struct {
	dir       string
	seq       int64
	checksum  string // as given: "" none
	note      string
	snapshots string
	behind    bool // --behind-snapshot
	yes       bool
}

// run lists the input, or with no --yes says what it would list.
func (r dropRequest) run(out io.Writer) error {
	given, err := r.checkArgs()
	if err != nil {
		return err
	}
	release, err := lockJournal(r.dir, "drop", "nothing listed")
	if err != nil {
		return err
	}
	defer release()
	d, err := r.entry(out, given)
	if err != nil {
		return err
	}
	checked, past, err := refuseAppliedDrop(r.dir, r.snapshots, d, r.behind)
	if err != nil {
		return err
	}
	if checked == "" {
		fmt.Fprintf(out, "not checked against the node's snapshots: none beside %s (<data_dir>/snapshots); "+
			"where snapshot.dir names another directory, give it with --snapshots\n", r.dir)
	}
	if past != "" {
		fmt.Fprintf(out, "input %d is behind the newest snapshot (%s): listed, it leaves the state the node restores as it is — "+
			"right only for an input the engine rejected (--behind-snapshot); a start from an older snapshot, ringex replay and resends reject it (dropped-by-operator) instead of applying it\n",
			d.Seq, past)
	}
	file := filepath.Join(r.dir, journal.DropsFile)
	if !r.yes {
		fmt.Fprintf(out, "nothing changed: run again with --yes to list it in %s; then do the same on every cluster member:\n"+
			"  ringex journal drop <journal dir> --input %d --checksum %08x%s --yes\n", file, d.Seq, d.Checksum, r.behindFlag())
		return nil
	}
	if d.Note == "" {
		d.Note = "dropped " + time.Now().UTC().Format(time.RFC3339)
	}
	added, err := journal.AddDrop(nil, r.dir, d)
	// The node runs as its own user, its files 0600: written by root
	// (sudo), the file was root's, and the node refused every start.
	if oerr := ownLikeNode(r.dir, journal.DropsFile); err == nil && oerr != nil {
		return fmt.Errorf("journal drop: listed, but %s keeps this user's ownership: %w; give it the owner of the journal's segments (chown) before the node starts", file, oerr)
	}
	if err != nil {
		return err
	}
	if !added {
		fmt.Fprintf(out, "input %d is listed already in %s\n", d.Seq, file)
		return nil
	}
	fmt.Fprintf(out, "listed in %s: from its next start the node rejects input %d (dropped-by-operator) instead of applying it.\n"+
		"On every other cluster member:\n  ringex journal drop <journal dir> --input %d --checksum %08x%s --yes\n",
		file, d.Seq, d.Seq, d.Checksum, r.behindFlag())
	return nil
}

// behindFlag is " --behind-snapshot" when it was given, for the command
// drop tells to run on the other members, whose snapshots are past the
// input as well; "" otherwise.
func (r dropRequest) behindFlag() string {
	if r.behind {
		return " --behind-snapshot"
	}
	return ""
}

// checkArgs refuses what no lock is needed to refuse, and parses
// --checksum.
func (r dropRequest) checkArgs() (given uint32, err error) {
	if st, err := os.Stat(r.dir); err != nil || !st.IsDir() {
		return 0, fmt.Errorf("journal drop: %s is no journal directory (%v)", r.dir, cmp.Or(err, errors.New("not a directory")))
	}
	if r.seq < 1 {
		return 0, errors.New("journal drop: --input N names the input to drop (N > 0: the sequence the refusal names)")
	}
	if err := refuseNotJournalDir(r.dir); err != nil {
		return 0, err
	}
	if r.checksum == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(r.checksum, 16, 32)
	if err != nil || len(r.checksum) != 8 {
		return 0, fmt.Errorf("journal drop: --checksum %q is not 8 hex digits", r.checksum)
	}
	return uint32(v), nil
}

// entry is the drops file entry of the input: its record's checksum
// where the journal holds it (checked against --checksum), the one
// given where it does not. It says which.
func (r dropRequest) entry(out io.Writer, given uint32) (journal.Drop, error) {
	rec, found, err := journalRecord(r.dir, r.seq)
	if err != nil {
		return journal.Drop{}, fmt.Errorf("journal drop: reading input %d: %w", r.seq, err)
	}
	d := journal.Drop{Seq: r.seq, Note: r.note}
	switch {
	case found && r.checksum != "" && journal.Checksum(&rec) != given:
		return d, fmt.Errorf("journal drop: %s holds input %d with checksum %08x, not %08x: another input than the one named; nothing changed",
			r.dir, r.seq, journal.Checksum(&rec), given)
	case found:
		d.Checksum = journal.Checksum(&rec)
		fmt.Fprintf(out, "input %d: %s, checksum %08x\n", r.seq, appendJournalRecord(nil, &rec), d.Checksum)
	case r.checksum != "":
		d.Checksum = given
		fmt.Fprintf(out, "input %d: not in %s (it ends before it, or begins after it); listed by the checksum given, %08x\n", r.seq, r.dir, given)
	default:
		return d, fmt.Errorf("journal drop: %s does not hold input %d: give --checksum, the one the refusal on a member that holds it names "+
			"(or that drop prints there); nothing changed", r.dir, r.seq)
	}
	return d, nil
}

// refuseAppliedDrop refuses to list d when the node's newest snapshot
// (in snapDir; "": <data_dir>/snapshots beside a journal in the default
// layout, the path made absolute — "." named none) is of d's input or a
// later one: the engine applied that input, or dropped it, before the
// snapshot — it panics only on an input after its newest snapshot, one
// it never got past. Listed, the entry changed nothing the node holds,
// but resends replaying across the input answered it rejected while its
// effects (an order on the book) stayed, and a start from an earlier
// snapshot built another state. An entry the file has already (drop run
// again after the restart) passes. behind (--behind-snapshot) lets such an
// input pass, past naming the snapshot: the operator says the engine
// rejected it (a type newer than the build that journaled it), so the
// entry changes no state and the replays across it reject it as the
// engine did. checked is the directory looked in, "" when there is none
// to look in (nodeSnapshots).
func refuseAppliedDrop(journalDir, snapDir string, d journal.Drop, behind bool) (checked, past string, err error) {
	store, checked, err := nodeSnapshots(journalDir, snapDir, "journal drop")
	if store == nil {
		return checked, "", err
	}
	seq, path, found, err := newestSnapshotFrom(store, d.Seq)
	if err != nil || !found {
		return checked, "", err
	}
	if drops, err := journal.ReadDrops(nil, journalDir); err == nil {
		if crc, ok := drops.Listed(d.Seq); ok && crc == d.Checksum {
			return checked, "", nil
		}
	}
	if behind {
		return checked, fmt.Sprintf("%s, input %d", path, seq), nil
	}
	return checked, "", fmt.Errorf("journal drop: the node's state is past input %d already (snapshot %s, input %d): the engine applied it before that snapshot. "+
		"Listed, resends replaying across it would answer it rejected while its effects stay, and a start from an earlier snapshot would build another state. "+
		"Nothing changed: check --input — the input the engine panics on is after the newest snapshot (the refusal names it). "+
		"An input the engine rejected when it met it, of a message type newer than the build that journaled it (proto/ringex.fbs; journal inspect -v names the type), "+
		"changed nothing: to keep a later build from applying it in a replay from before the snapshot, list it with --behind-snapshot", d.Seq, path, seq)
}

// nodeSnapshots opens the snapshot store of the node whose journal is
// journalDir: snapDir as given (--snapshots), or for "" the
// <data_dir>/snapshots beside a journal in the default layout, the path
// made absolute ("." named none). checked is the directory opened; a nil
// store with no error means there is none to look in. cmd prefixes its
// errors.
func nodeSnapshots(journalDir, snapDir, cmd string) (store *snapshot.Store, checked string, err error) {
	if snapDir == "" {
		abs, err := filepath.Abs(journalDir)
		if err != nil || filepath.Base(abs) != "journal" {
			return nil, "", nil // not the default layout: no snapshots known
		}
		snapDir = filepath.Join(filepath.Dir(abs), "snapshots")
		if st, err := os.Stat(snapDir); err != nil || !st.IsDir() {
			return nil, "", nil // OpenStore would create it
		}
	} else if st, err := os.Stat(snapDir); err != nil || !st.IsDir() {
		return nil, "", fmt.Errorf("%s: --snapshots %s: %w; nothing changed", cmd, snapDir, cmp.Or(err, errors.New("not a directory")))
	}
	store, err = snapshot.OpenStore(snapDir, nil)
	if err != nil {
		return nil, "", err
	}
	return store, snapDir, nil
}

// newestSnapshotFrom finds the newest snapshot in store of input from or
// later that verifies, as the node would restore it (one that does not
// verify the node skips too): found is false when there is none. The
// snapshots are verified a chunk at a time, as the node verifies them,
// not read into memory (a snapshot can be gigabytes).
func newestSnapshotFrom(store *snapshot.Store, from int64) (seq int64, path string, found bool, err error) {
	seqs, err := store.List()
	if err != nil {
		return 0, "", false, err
	}
	for i := len(seqs) - 1; i >= 0 && seqs[i] >= from; i-- {
		if store.Verify(seqs[i]) == nil {
			return seqs[i], store.RecordPath(seqs[i]), true, nil
		}
	}
	return 0, "", false, nil
}

// refuseCutTheStateHolds refuses cut c when the node's newest snapshot
// (nodeSnapshots) is of an input c takes out of the journal, one after
// c.LastSeq: the engine applied it, so it was journaled whole and
// fdatasynced, and clients were acknowledged for it — the bad record is
// damage, not a last batch a power loss left half written. Cut, the node
// would refuse to start (its snapshot past the journal's end). checked is
// the directory looked in, "" when there is none to look in.
func refuseCutTheStateHolds(journalDir, snapDir string, c journal.Cut) (checked string, err error) {
	store, checked, err := nodeSnapshots(journalDir, snapDir, "journal cut")
	if store == nil {
		return checked, err
	}
	seq, path, found, err := newestSnapshotFrom(store, c.LastSeq+1)
	if err != nil || !found {
		return checked, err
	}
	return checked, fmt.Errorf("journal cut: the node's snapshot %s holds the state up to input %d, past the sequence %d the cut would end the journal at "+
		"(the cut takes out %s from offset %d): the engine applied those inputs, so they were durable and acknowledged, and the bad record is damage, not a torn batch. "+
		"Nothing cut: keep a copy of the data directory and restore %s from a backup (a replica's copy of the segment)",
		path, seq, c.LastSeq, c.File, c.Offset, c.File)
}

// nothingToCut is cut's answer when the last segment of the journal in
// dir holds no bad record (journal.ErrNothingToCut: the journal opens as
// it is). The operator came for damage ringex journal inspect reported,
// so the journal is read through as inspect reads it — the archive
// beside it first — and the damage named with what to do: cut mends
// only a torn last batch in dir's last segment, never an earlier segment
// or the archive. It said "nothing to cut: the journal opens as it is"
// right after inspect called an archived segment corrupt.
func nothingToCut(dir string) error {
	opts := journal.InspectOptions{Archive: archiveBeside(dir), Unsynced: unsyncedJournal(dir, false)}
	st, err := journal.InspectWith(dir, nil, opts, nil)
	switch archived := st.FailedIn != "" && opts.Archive != "" && filepath.Dir(st.FailedIn) == filepath.Clean(opts.Archive); {
	case err == nil && st.ArchiveSegments == 0:
		return fmt.Errorf("%w: %s holds no bad record in its last segment, and it reads clean through, as ringex journal inspect reads it; "+
			"no archive beside it was read: one elsewhere (snapshot.archive_dir) cut does not touch, and ringex journal inspect --archive checks it", journal.ErrNothingToCut, dir)
	case err == nil:
		return fmt.Errorf("%w: %s holds no bad record in its last segment, and it reads clean through with the archive %s before it, as ringex journal inspect reads them",
			journal.ErrNothingToCut, dir, opts.Archive)
	case archived:
		return fmt.Errorf("%w in %s; the damage ringex journal inspect finds is in the archive, which cut does not touch (it mends only a torn last batch in the journal's last segment): %w. "+
			"Restore the segment it names from a copy — the archive's shipped copy, or the segment of that name from another cluster member — and check it with ringex journal inspect --archive %s. "+
			"A node's start from a snapshot after it does not read it; until then a resend reaching back into it, and ringex replay from the start, fail on it",
			journal.ErrNothingToCut, dir, err, opts.Archive)
	case st.FailedIn != "":
		return fmt.Errorf("%w in its last segment (%s), and cut mends nothing else; the damage ringex journal inspect finds is before it: %w. "+
			"Restore the segment it names from a copy — a backup, or the segment of that name from another cluster member — and check it with ringex journal inspect %s",
			journal.ErrNothingToCut, dir, err, dir)
	}
	return fmt.Errorf("%w in its last segment (%s), and cut mends nothing else; reading the journal through, as ringex journal inspect does: %w", journal.ErrNothingToCut, dir, err)
}

// refuseNotJournalDir refuses a directory whose dropped-inputs no node
// reads (only <journal dir>'s is read): an archive, or a data directory
// — one with a journal directory in it.
func refuseNotJournalDir(dir string) error {
	if archiveDir(dir, false) {
		return fmt.Errorf("journal drop: %s is an archive, whose %s no node reads: give the journal directory (%s, or journal.dir); nothing changed",
			dir, journal.DropsFile, filepath.Join(filepath.Dir(filepath.Clean(dir)), "journal"))
	}
	inner := filepath.Join(dir, "journal")
	if st, err := os.Stat(inner); err == nil && st.IsDir() {
		return fmt.Errorf("journal drop: %s is a data directory, whose %s no node reads: give its journal, %s; nothing changed", dir, journal.DropsFile, inner)
	}
	return nil
}

// dropState says what entry d of dir's drops file does with the journal
// in dir: an entry whose checksum is not the record's drops nothing.
func dropState(dir string, d journal.Drop) string {
	rec, found, err := journalRecord(dir, d.Seq)
	switch {
	case err != nil:
		return fmt.Sprintf("the journal's record of it cannot be read (%v)", err)
	case !found:
		return "not in this journal: dropped when it comes (from a leader's log)"
	case journal.Checksum(&rec) != d.Checksum:
		return fmt.Sprintf("the journal holds another input there (checksum %08x): this entry drops nothing", journal.Checksum(&rec))
	}
	return "the engine rejects it instead of applying it (" + journal.DropsFile + ")"
}

// journalRecord reads the record of input seq from the journal in dir,
// and the archive beside it in the default layout, as a node reads them.
// found is false when neither holds it.
func journalRecord(dir string, seq int64) (rec journal.Record, found bool, err error) {
	dirs := []string{dir}
	if a := archiveBeside(dir); a != "" {
		dirs = []string{a, dir}
	}
	r, err := journal.NewReaderOf(dirs, nil, seq)
	if err != nil {
		return rec, false, err
	}
	defer r.Close()
	if unsyncedJournal(dir, false) {
		r.SetUnsynced()
	}
	if r.Start() > seq {
		return rec, false, nil
	}
	err = r.Next(&rec)
	if errors.Is(err, io.EOF) || (err == nil && rec.Seq != seq) {
		return journal.Record{}, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	rec.Payload = append([]byte(nil), rec.Payload...) // the reader's buffer goes with it
	return rec, true, nil
}

// appendJournalRecord appends one line of `journal inspect -v`: the
// record's header and what its payload is — the message type, or why it
// is none. A sound frame of a type newer than this build reads "type N
// (newer than this build)", not "unverifiable": an operator looking for
// the inputs an older build journaled of a type it did not know
// (proto/ringex.fbs's rule for appending a member) tells them from damage.
func appendJournalRecord(b []byte, rec *journal.Record) []byte {
	var kind string
	switch input.Kind(rec.Kind) {
	case input.KindClient:
		kind = "client"
	case input.KindControl:
		kind = "control"
	default:
		kind = "kind-" + strconv.Itoa(int(rec.Kind))
	}
	msg := "unverifiable"
	switch typ, _, err := proto.Verify(rec.Payload); {
	case err == nil:
		if name, ok := wire.EnumNamesMessage[typ]; ok {
			msg = name
		}
	case errors.Is(err, proto.ErrUnknownType):
		msg = "type " + strconv.Itoa(int(typ)) + " (newer than this build)"
	}
	b = strconv.AppendInt(append(b, "seq="...), rec.Seq, 10)
	b = appendNum(b, "recv=", rec.RecvTime)
	b = appendUnum(b, "session=", rec.Session)
	b = appendUnum(b, "account=", uint64(rec.Account))
	b = appendWord(appendWord(b, "", kind), "", msg)
	b = strconv.AppendInt(append(b, " payload="...), int64(len(rec.Payload)), 10)
	return append(b, 'B')
}

// archiveDir reports whether dir holds archived segments
// (snapshot.journal_retention: archive): said so (--archive, for a
// snapshot.archive_dir of any name or a copy of one), or named as the
// default <data_dir>/archive is.
func archiveDir(dir string, said bool) bool {
	return said || filepath.Base(filepath.Clean(dir)) == "archive"
}

// archiveBeside returns the archive a node in the default layout keeps
// beside its journal — <data_dir>/archive for <data_dir>/journal — or ""
// for a journal named otherwise. It need not exist.
func archiveBeside(journalDir string) string {
	journalDir = filepath.Clean(journalDir)
	if filepath.Base(journalDir) != "journal" {
		return ""
	}
	return filepath.Join(filepath.Dir(journalDir), "archive")
}

// unsyncedJournal reports whether the journal in dir was written without
// fdatasync: said so (a cluster member's config, journal.sync none), or a
// cluster member's journal in the default layout — <data_dir>/journal
// with <data_dir>/raft beside it. Not its archive (<data_dir>/archive):
// archived segments were retired whole and synced, and damage in them is
// damage.
func unsyncedJournal(dir string, said bool) bool {
	if said {
		return true
	}
	dir = filepath.Clean(dir)
	if filepath.Base(dir) != "journal" {
		return false
	}
	st, err := os.Stat(filepath.Join(filepath.Dir(dir), "raft"))
	return err == nil && st.IsDir()
}
