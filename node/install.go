package node

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/replicator"
	"github.com/ringex/ringex/snapshot"
	"github.com/ringex/ringex/vfs"
)

// Raft log compaction and catching up from a snapshot.
//
// After the node writes a snapshot it asks raft to compact its log
// (replicator.Compact). Raft's snapshot of the input stream at input A is
// the node's newest snapshot S ≤ A plus the journaled inputs S+1…A, in
// the stream format below. A member whose log ends before the leader's
// oldest kept entry is sent that stream: it stages it (a journal and a
// snapshot directory beside the live ones, in their own formats, and a
// READY marker written last: see staging) and stops; at its next start
// installStaged swaps them in before recovery, and the member goes on
// from input A with the raft log after it.
//
// Stream format, versions 1 to 3 (constants are part of the format):
//
//	magic     [4]byte "RXRS"
//	version   uint32  1; 2: a stream with a drops section; 3: with a drops
//	                  section and the journal's id
//	snapSeq   int64   S, the snapshot's input (0: none; inputs start at 1)
//	applied   int64   A, the last input of the stream
//	snapLen   uint64  bytes of the snapshot file that follows (0: none, only
//	                  when S is 0 — the snapshot of input 0, which records
//	                  the rules the first inputs were decided under, is sent
//	                  when the sender has it)
//	snapshot  a snapshot file (snapshot package format, own checksum)
//	versions 2 and 3:
//	dropsLen  uint32  bytes of the drops section that follows, at most
//	                  journal.MaxDropsFileSize (0 in version 3: none)
//	drops     a drops file's content (journal.DropsFile, as ParseDrops
//	          reads it): the sender's dropped inputs after S, those in
//	          (S, A] and those after A alike
//	version 3 only:
//	idLen     uint8   bytes of the id that follows, at most 32
//	id        the cluster id the sender's journal segments carry
//	          (journal.ValidID; empty: its segments carry none)
//	entries   until input A, each: uint32 length, then a replicator entry
//	          (AppendHeader/AppendInput) continuing from S+1
//	crc       uint32  CRC-32C of every byte before it
//
// Integers are little-endian.
//
// The member that installs a stream replays S+1…A, and goes on with the
// raft log after A: the inputs the operator dropped there must be dropped
// by it too, or its engine panics on one (or, in a build that fixed the
// panic, applies an input every other member rejected). The drops
// section becomes the staged journal's drops file.
//
// The staged snapshot is the sender's with the member's own highest
// session id taken into its sessions field (withOwnSession): the
// sender's table keeps the sender's member, and the member's snapshots,
// which kept its own, are set aside by the install.
//
// The staged journal's segments carry the id of the sender's journal
// (version 3), not the member's cluster.id: the inputs are the leader's
// journal's, continued, and a journal keeps its id (journal package doc)
// — a member whose cluster.id was renamed alone labelled them with the
// new name, which no other member's journal carries, and its segments
// and theirs each refused the other's (journal.ErrOtherJournal), though
// they hold the same inputs in the same bytes. Refusing the install
// instead would leave the member behind for good over a name, and over
// a rename of every member's cluster.id too (their journals keep the
// old id); adopted, the member's start warns that its journal's id is
// not cluster.id, as for any journal begun before a rename. A stream of
// version 1 or 2 carries no id: staged under the member's cluster.id, as
// the builds that wrote them did.
//
// Senders write version 3. A member of a build before it refuses it
// (ErrInstallStream; one before version 2 refused version 2 so), and
// raft sends it again until it is upgraded: upgrade the members before
// the leader. Raft keeps the stream it refused: restarted on the old
// build, that member starts past its own inputs and stops
// (ErrDiverged); the new build stages the stream it kept
// (stageOwnSnapshotAhead). Upgrade it; do not restart it on the old one.
const (
	installMagic        = "RXRS"
	installVersion      = 1 // no drops section
	installVersionDrops = 2 // version 1 and a drops section
	installVersionID    = 3 // version 2 and the sender journal's id
	installHeader       = 4 + 4 + 8 + 8 + 8
	installChunk        = 2048 // inputs per entry
	installDirName      = "install"
	installReady        = "READY"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrInstallStream marks a malformed or damaged raft snapshot stream.
var ErrInstallStream = errors.New("node: bad snapshot stream")

// raftSnapshot writes the node's state as of input applied (raft's
// snapshot goroutine). The journal may be a little behind the FSM: it
// waits for it, then makes it durable (Checkpoint). Once the snapshot is
// recorded, raft starts over after it at the next start (its applied
// index is the snapshot's) and compacts the entries before it, so the
// journal alone holds inputs up to applied: in a cluster, where it is not
// fsynced per batch, a machine crash soon after could otherwise lose
// inputs neither raft nor the journal would give back, and the member
// would stop at every start (ErrDiverged).
func (n *Node) raftSnapshot(applied int64, w io.Writer) error {
	return n.writeState(applied, n.drops, w)
}

// writeState is raftSnapshot with the list of dropped inputs given (a
// test gives its own: n.drops is the unmarshaler's, read while the node
// runs): its entries after the snapshot are the stream's drops section.
func (n *Node) writeState(applied int64, drops *journal.Drops, w io.Writer) error {
	snap, _, err := n.snaps.Newest(applied)
	found := err == nil
	if errors.Is(err, snapshot.ErrNone) {
		snap, err = snapshot.Snapshot{}, nil
	}
	if err != nil {
		return err
	}
	// The member that installs the stream replays its inputs under the
	// rules its snapshot records: refused when a rules record between
	// them says otherwise (a damaged newer snapshot skipped, across a
	// change of rules and back). Raft keeps its log until the next try.
	if err := n.rulesKeptBetween(snap.Seq, applied); err != nil {
		return fmt.Errorf("node: raft snapshot at input %d from the snapshot at %d: %w", applied, snap.Seq, err)
	}
	for deadline := time.Now().Add(30 * time.Second); n.journal.Durable() < applied; {
		if time.Now().After(deadline) {
			return fmt.Errorf("node: journal at %d, raft snapshot wants %d", n.journal.Durable(), applied)
		}
		select {
		case <-n.stopping():
			return errors.New("node: stopping")
		case <-time.After(time.Millisecond):
		}
	}
	if err := n.journal.Checkpoint(); err != nil {
		return err
	}
	// The snapshot of input 0 too: without it the member installed had
	// no record of the rules its journal's inputs were decided under,
	// and its recovery would refuse that journal.
	var file []byte
	if found {
		file = snapshot.Encode(snap)
	}
	section := dropsSection(drops, snap.Seq)
	id := n.journal.ID()
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<20)
	var head [installHeader]byte
	copy(head[:], installMagic)
	le := binary.LittleEndian
	le.PutUint32(head[4:], installVersionID)
	le.PutUint64(head[8:], uint64(snap.Seq))
	le.PutUint64(head[16:], uint64(applied))
	le.PutUint64(head[24:], uint64(len(file)))
	bw.Write(head[:])
	bw.Write(file)
	bw.Write(le.AppendUint32(nil, uint32(len(section))))
	bw.Write(section)
	bw.Write([]byte{byte(len(id))})
	bw.WriteString(id)
	if err := n.writeInputs(bw, snap.Seq+1, applied); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return binary.Write(w, le, crc.Sum32())
}

// dropsSection is the drops section of a stream from the snapshot of
// input snapSeq: the entries of drops after it, as a drops file; nil (an
// empty section) when there are none. The member replays nothing before snapSeq+1. A list
// whose notes take it past the file's bound (FormatDrops pads the
// fields: a file written by hand can grow) goes without its notes, which
// only say why: it always fits then, MaxDrops short lines.
func dropsSection(drops *journal.Drops, snapSeq int64) []byte {
	var after []journal.Drop
	for _, d := range drops.Entries() {
		if d.Seq > snapSeq {
			after = append(after, d)
		}
	}
	if len(after) == 0 {
		return nil
	}
	b := journal.FormatDrops(after)
	if len(b) > journal.MaxDropsFileSize {
		for i := range after {
			after[i].Note = ""
		}
		b = journal.FormatDrops(after)
	}
	return b
}

// writeInputs streams journaled inputs from…to as entries.
func (n *Node) writeInputs(w io.Writer, from, to int64) error {
	if from > to {
		return nil
	}
	r, err := journal.NewReaderWith([]string{n.cfg.JournalDir()}, n.fs, from, journal.ReaderOptions{Checked: n.streamChecked})
	if err != nil {
		return err
	}
	defer r.Close()
	var body, entry []byte
	first, count := from, 0
	flush := func() error {
		entry = replicator.AppendHeader(entry[:0], replicator.Header{First: first, Count: uint32(count), Rules: n.rules})
		entry = append(entry, body...)
		var l [4]byte
		binary.LittleEndian.PutUint32(l[:], uint32(len(entry)))
		w.Write(l[:])
		_, err := w.Write(entry)
		first, count, body = first+int64(count), 0, body[:0]
		return err
	}
	var rec journal.Record
	for next := from; next <= to; {
		if err := r.Next(&rec); err != nil {
			return fmt.Errorf("node: journal for the raft snapshot, at input %d: %w", next, err)
		}
		if rec.Seq < next {
			continue
		}
		if rec.Seq != next {
			return fmt.Errorf("node: journal for the raft snapshot: input %d, want %d", rec.Seq, next)
		}
		body = replicator.AppendInput(body, &replicator.Input{RecvTime: rec.RecvTime, Session: rec.Session,
			Account: rec.Account, Kind: rec.Kind, Payload: rec.Payload})
		next++
		if count++; count == installChunk || next > to {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// staging is where a raft snapshot stream is staged: a journal and a
// snapshot directory beside the live ones (<journal dir>.staged,
// <snapshot dir>.staged), so that swapping them in renames within one
// filesystem whichever disk journal.dir and snapshot.dir are on, and the
// READY marker, <data_dir>/install/READY, written last.
type staging struct {
	journal, snapshots, ready string
	// journalID is the cluster id the staged journal's segments carry
	// when the stream names none (version 1 or 2): the member's
	// cluster.id. Empty: one of its own.
	journalID string
	// session is the member's highest session id (Node.ownSession; 0:
	// none), taken into the staged snapshot's sessions field.
	session uint64
}

// The directories are clean paths (config cleans them): "<dir>.staged"
// is then a sibling of dir, never something inside it.
func stagingFor(journalDir, snapshotDir, dataDir string) staging {
	return staging{journal: journalDir + ".staged", snapshots: snapshotDir + ".staged",
		ready: filepath.Join(dataDir, installDirName, installReady)}
}

// remove deletes whatever is staged, READY first, durably: a
// half-removed stage is never taken for a whole one — nor, after a power
// cut, is a stage written later beside a READY that came back.
func (st staging) remove() error {
	return errors.Join(vfs.RemoveAllDurable(filepath.Dir(st.ready)), os.RemoveAll(st.journal), os.RemoveAll(st.snapshots))
}

// streamHeader is a state stream's header.
type streamHeader struct {
	raw              [installHeader]byte
	version          uint32
	snapSeq, applied int64
	snapLen          uint64
}

// readStreamHeader reads a state stream's header, checking its magic and
// version.
func readStreamHeader(r io.Reader) (streamHeader, error) {
	var h streamHeader
	if _, err := io.ReadFull(r, h.raw[:]); err != nil {
		return h, fmt.Errorf("%w: header: %v", ErrInstallStream, err)
	}
	le := binary.LittleEndian
	h.version = le.Uint32(h.raw[4:])
	h.snapSeq, h.applied, h.snapLen = int64(le.Uint64(h.raw[8:])), int64(le.Uint64(h.raw[16:])), le.Uint64(h.raw[24:])
	if string(h.raw[:4]) == installMagic && h.version > installVersionID {
		// The leader's build is later than this member's: saying only
		// "not a version 1 to 3 stream" left the operator to guess that.
		return h, fmt.Errorf("%w: version %d, of a later build than this member's (it reads versions %d to %d): upgrade this member (README: members before the leader)",
			ErrInstallStream, h.version, installVersion, installVersionID)
	}
	if string(h.raw[:4]) != installMagic || !knownVersion(h.version) {
		return h, fmt.Errorf("%w: not a version %d to %d stream (header %x)", ErrInstallStream, installVersion, installVersionID, h.raw)
	}
	return h, nil
}

// hasDrops says whether a stream of version v has a drops section.
func hasDrops(v uint32) bool { return v >= installVersionDrops }

// readIDSection reads a version 3 stream's id section: the cluster id
// the sender's journal segments carry, refused (ErrInstallStream) when
// it is not one a segment header can hold.
func readIDSection(r io.Reader) (string, error) {
	var l [1]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return "", fmt.Errorf("%w: journal id: %v", ErrInstallStream, err)
	}
	b := make([]byte, l[0])
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("%w: journal id: %v", ErrInstallStream, err)
	}
	if err := journal.ValidID(string(b)); err != nil {
		return "", fmt.Errorf("%w: journal id: %w", ErrInstallStream, err)
	}
	return string(b), nil
}

// readDropsSection reads a version 2 or 3 stream's drops section: its text and
// the list it parses to, refused (ErrInstallStream) past the drops file's
// bound or when it does not parse.
func readDropsSection(r io.Reader) ([]byte, *journal.Drops, error) {
	var l [4]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, nil, fmt.Errorf("%w: drops: %v", ErrInstallStream, err)
	}
	size := binary.LittleEndian.Uint32(l[:])
	if size > journal.MaxDropsFileSize {
		return nil, nil, fmt.Errorf("%w: drops section of %d bytes, more than %d", ErrInstallStream, size, journal.MaxDropsFileSize)
	}
	text, err := readN(r, uint64(size), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: drops: %v", ErrInstallStream, err)
	}
	list, err := journal.ParseDrops(text)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: drops: %w", ErrInstallStream, err)
	}
	return text, list, nil
}

// streamApplied reads the input a state stream reaches (applied) from
// its header, checking its magic and version; the rest is not read.
func streamApplied(r io.Reader) (int64, error) {
	h, err := readStreamHeader(r)
	return h.applied, err
}

func knownVersion(v uint32) bool { return v >= installVersion && v <= installVersionID }

// streamListsDrops reports whether the stream r lists, in its drops
// section, each input of drops after its snapshot (a version 1 stream
// lists none): a member that installs it replays every input after its
// snapshot it is not told to drop. A raft snapshot taken before the
// drops file listed an input may hold it unlisted — raft snapshots the
// input the replicator applied, ahead of the engine that panicked on it —
// and must not be sent in place of the log (replicator.Config.
// SnapshotListsDrops). It reads up to the drops section.
func streamListsDrops(r io.Reader, drops *journal.Drops) (bool, error) {
	h, err := readStreamHeader(r)
	if err != nil {
		return false, err
	}
	var listed *journal.Drops
	if hasDrops(h.version) {
		if n, err := io.CopyN(io.Discard, r, int64(min(h.snapLen, 1<<62))); err != nil || uint64(n) != h.snapLen {
			return false, fmt.Errorf("%w: snapshot: %v", ErrInstallStream, err)
		}
		if _, listed, err = readDropsSection(r); err != nil {
			return false, err
		}
	}
	for _, d := range drops.Entries() {
		if d.Seq <= h.snapSeq {
			continue
		}
		if crc, ok := listed.Listed(d.Seq); !ok || crc != d.Checksum {
			return false, nil
		}
	}
	return true, nil
}

// installState reads a raft snapshot stream and stages it for the next
// start (raft's FSM goroutine, on a member too far behind). Nothing is
// staged unless the whole stream checks out.
func (n *Node) installState(r io.Reader) (int64, error) {
	st := stagingFor(n.cfg.JournalDir(), n.cfg.SnapshotDir(), n.cfg.Node.DataDir)
	st.journalID = n.cfg.Cluster.JournalID()
	st.session = n.ownSession()
	if err := st.remove(); err != nil {
		return 0, err
	}
	applied, err := stageState(r, st, n.cfg.Journal.SegmentBytes)
	if err != nil {
		st.remove()
		return 0, err
	}
	n.log.Warn().Int64("applied", applied).Str("journal", st.journal).Str("snapshots", st.snapshots).
		Msg("cluster: staged a raft snapshot; stopping to load it")
	return applied, nil
}

// streamBuffer is the size of stageState's buffer for r: a MiB of a
// raft snapshot stream, no more than the whole of one whose length is
// known (in memory: a test's, a fuzzer's input, most of which end at the
// header — a MiB allocated for each was most of its time).
func streamBuffer(r io.Reader) int {
	if l, ok := r.(interface{ Len() int }); ok {
		return min(l.Len(), 1<<20) // bufio raises a size below 16 to 16
	}
	return 1 << 20
}

// stageState writes the stream's snapshot, inputs and drops section into
// st's directories, then the READY marker.
func stageState(r io.Reader, st staging, segmentBytes int64) (int64, error) {
	br, crc := bufio.NewReaderSize(r, streamBuffer(r)), crc32.New(castagnoli)
	cr := io.TeeReader(br, crc) // everything but the trailing checksum
	h, err := readStreamHeader(cr)
	if err != nil {
		return 0, err
	}
	snapSeq, applied, snapLen := h.snapSeq, h.applied, h.snapLen
	if snapSeq < 0 || applied < snapSeq || (snapSeq > 0 && snapLen == 0) {
		return 0, fmt.Errorf("%w: header %x", ErrInstallStream, h.raw)
	}
	le := binary.LittleEndian
	snaps, err := snapshot.OpenStore(st.snapshots, nil)
	if err != nil {
		return 0, err
	}
	if snapLen > 0 {
		file, err := readN(cr, snapLen, nil)
		if err != nil {
			return 0, fmt.Errorf("%w: snapshot: %v", ErrInstallStream, err)
		}
		s, err := snapshot.Decode(file)
		if err != nil || s.Seq != snapSeq {
			return 0, fmt.Errorf("%w: snapshot at %d: %v", ErrInstallStream, snapSeq, err)
		}
		s.Sessions = withOwnSession(s.Sessions, st.session)
		if _, err := snaps.Write(s); err != nil {
			return 0, err
		}
	}
	var drops []byte // the drops section, checked here, written once the whole stream is
	if hasDrops(h.version) {
		text, list, err := readDropsSection(cr)
		if err != nil {
			return 0, err
		}
		if list.Len() > 0 {
			drops = text
		}
	}
	if h.version >= installVersionID {
		// The sender's journal's id: the staged journal continues it.
		id, err := readIDSection(cr)
		if err != nil {
			return 0, err
		}
		if id != "" {
			st.journalID = id
		}
	}
	j, _, err := journal.Open(st.journal, journal.Options{SegmentBytes: segmentBytes, Sync: journal.SyncBatch, ID: st.journalID})
	if err != nil {
		return 0, err
	}
	defer j.Close()
	// The staged journal begins at snapSeq+1 durably, inputs or none: a
	// stream with none after its snapshot staged an empty directory, which
	// a node alone could not tell from a journal moved or lost
	// (checkJournalThere).
	if err := j.BeginAt(snapSeq + 1); err != nil {
		return 0, err
	}
	var entry []byte
	var in replicator.Input
	for next, entries := snapSeq+1, 1; next <= applied; entries++ {
		var l [4]byte
		if _, err := io.ReadFull(cr, l[:]); err != nil {
			return 0, fmt.Errorf("%w: entry at input %d: %v", ErrInstallStream, next, err)
		}
		if entry, err = readN(cr, uint64(le.Uint32(l[:])), entry); err != nil {
			return 0, fmt.Errorf("%w: entry at input %d: %v", ErrInstallStream, next, err)
		}
		b, err := replicator.ParseBatch(entry)
		if err != nil || b.First != next || b.Last() > applied {
			return 0, fmt.Errorf("%w: entry at input %d: %v", ErrInstallStream, next, err)
		}
		for {
			ok, err := b.Next(&in)
			if err != nil {
				return 0, fmt.Errorf("%w: %v", ErrInstallStream, err)
			}
			if !ok {
				break
			}
			rec := journal.Record{Seq: next, RecvTime: in.RecvTime, Session: in.Session, Account: in.Account, Kind: in.Kind, Payload: in.Payload}
			if err := j.Append(&rec); err != nil {
				return 0, err
			}
			next++
		}
		if entries%16 == 0 { // bounds the journal's buffer
			if err := j.Sync(); err != nil {
				return 0, err
			}
		}
	}
	want := crc.Sum32()
	var sum [4]byte
	if _, err := io.ReadFull(br, sum[:]); err != nil || le.Uint32(sum[:]) != want {
		return 0, fmt.Errorf("%w: checksum", ErrInstallStream)
	}
	if err := j.Sync(); err != nil {
		return 0, err
	}
	// Durable before READY (WriteDrops fsyncs the file and the staged
	// journal's directory): installed without it, the member replays the
	// inputs it lists.
	if drops != nil {
		if err := journal.WriteDrops(nil, st.journal, drops); err != nil {
			return 0, err
		}
	}
	// The staged directories' own entries are durable before READY is.
	for _, d := range []string{st.journal, st.snapshots} {
		if err := vfs.Default.SyncDir(filepath.Dir(d)); err != nil {
			return 0, err
		}
	}
	if err := vfs.MkdirAllDurable(filepath.Dir(st.ready)); err != nil {
		return 0, err
	}
	if err := vfs.WriteFileAtomic(st.ready, []byte(fmt.Sprintln(applied))); err != nil {
		return 0, err
	}
	return applied, nil
}

// readN reads exactly n bytes into buf (reused). It grows buf as the
// bytes arrive, so a damaged length cannot make it allocate more than the
// stream holds.
func readN(r io.Reader, n uint64, buf []byte) ([]byte, error) {
	b := bytes.NewBuffer(buf[:0])
	got, err := b.ReadFrom(io.LimitReader(r, int64(min(n, 1<<62))))
	if err == nil && uint64(got) != n {
		err = io.ErrUnexpectedEOF
	}
	return b.Bytes(), err
}

// installStaged swaps a staged state (READY present) in for the node's
// journal and snapshots, before recovery; the replaced ones are kept as
// journal.replaced and snapshots.replaced, and the archive's segments
// (those the replaced journal retired) in the archive's subdirectory
// replaced: they hold inputs the staged journal holds too, cut at other
// sequences, and read with it as one journal (recovery past a damaged
// snapshot, ringex replay, journal inspect --archive) they interleave by
// name into a sequence break. Each step can be repeated, so a crash
// half-way is finished at the next start. A stage that never got its
// READY marker is removed. log says which of the member's dropped inputs
// were not carried (carryDrops).
func installStaged(journalDir, snapshotDir, archiveDir, dataDir string, log zerolog.Logger) (bool, error) {
	st := stagingFor(journalDir, snapshotDir, dataDir)
	if _, err := os.Stat(st.ready); err != nil {
		return false, st.remove() // nothing staged, or staging never finished
	}
	for _, m := range []struct{ staged, live string }{
		{st.journal, journalDir},
		{st.snapshots, snapshotDir},
	} {
		if _, err := os.Stat(m.staged); err != nil {
			continue // moved already
		}
		if m.staged == st.journal {
			// The archive goes aside with the journal it came from,
			// first: once the staged journal is in, nothing repeats this.
			if err := setAside(archiveDir); err != nil {
				return false, err
			}
			skipped, err := carryDrops(m.live, m.staged)
			for _, d := range skipped {
				log.Warn().Int64("seq", d.Seq).Str("checksum", fmt.Sprintf("%08x", d.Checksum)).Str("note", d.Note).
					Msg("cluster: this member dropped an input the installed state's " + journal.DropsFile +
						" lists with another checksum: the leader's entry, of the input its journal holds, is kept; the member's is not carried")
			}
			if err != nil {
				return false, err
			}
		}
		// The live one goes aside only while it is there: after a crash
		// between the two renames, *.replaced is the member's own state.
		old := m.live + ".replaced"
		if _, err := os.Stat(m.live); err == nil {
			if err := os.RemoveAll(old); err != nil {
				return false, err
			}
			if err := os.Rename(m.live, old); err != nil {
				return false, err // the live one untouched (a mount point cannot be renamed)
			}
		} else if !os.IsNotExist(err) {
			return false, err
		}
		if err := os.Rename(m.staged, m.live); err != nil {
			return false, err
		}
		if err := vfs.Default.SyncDir(filepath.Dir(m.live)); err != nil {
			return false, err
		}
	}
	return true, vfs.RemoveAllDurable(filepath.Dir(st.ready))
}

// carryDrops lists the inputs the operator dropped on the member's own
// journal (journal.DropsFile) in the staged one that replaces it: the
// leader's state may be of an input before one the member dropped, and
// the member would meet it again. An entry is of one input (its
// checksum), so one the staged journal does not hold is harmless. The
// staged list is the leader's (the stream's drops section), of the
// inputs the staged journal holds: where it names a sequence with
// another checksum than the member's entry, its entry is kept and the
// member's is skipped — returned, not carried; refusing it left a member
// that could not start. Read from the journal set aside when a crash
// came after that rename; repeated, it adds nothing.
func carryDrops(journalDir, staged string) (skipped []journal.Drop, err error) {
	from := journalDir
	if _, err := os.Stat(from); os.IsNotExist(err) {
		from = journalDir + ".replaced"
	}
	own, err := journal.ReadDrops(nil, from)
	if err != nil {
		return nil, err
	}
	leaders, err := journal.ReadDrops(nil, staged)
	if err != nil {
		return nil, err
	}
	var carried []journal.Drop
	for _, d := range own.Entries() {
		if crc, ok := leaders.Listed(d.Seq); ok && crc != d.Checksum {
			skipped = append(skipped, d)
			continue
		}
		carried = append(carried, d)
	}
	if _, err := journal.AddDrops(nil, staged, carried); err != nil {
		return skipped, err
	}
	return skipped, nil
}

// setAside moves the journal segments of the archive dir, when it exists,
// into its subdirectory "replaced" (which no reader lists), durably. Not
// the directory itself: an archive on a disk of its own is a mount point,
// which cannot be renamed.
func setAside(dir string) error {
	names, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return err
	}
	aside := filepath.Join(dir, "replaced")
	moved := false
	for _, e := range names {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".journal") {
			continue
		}
		if !moved {
			if err := vfs.MkdirAllDurable(aside); err != nil {
				return err
			}
			moved = true
		}
		if err := os.Rename(filepath.Join(dir, e.Name()), filepath.Join(aside, e.Name())); err != nil {
			return err
		}
	}
	if !moved {
		return nil
	}
	if err := vfs.Default.SyncDir(aside); err != nil {
		return err
	}
	return vfs.Default.SyncDir(dir)
}
