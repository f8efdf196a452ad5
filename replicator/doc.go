// Package replicator replicates ringex's input stream with raft
// (github.com/hashicorp/raft): the leader commits each input-ring batch as
// one log entry (two or more for a batch above the entry bound), and every
// member's state machine is its node's input ring.
//
// Contract:
//
//  1. Propose returns nil only when a majority of members hold the entry
//     durably and this member applied it; the node's replicator stage
//     advances its sequence only then, and the engine is gated on it.
//     ErrNotLeader means this member cannot know the entry's fate: raft
//     appended it and lost leadership, and the next leader may still
//     commit it. ErrNotProposed, which wraps it, means raft never
//     appended the entry (it was no longer leader, or was handing
//     leadership over): no member can ever commit it.
//  2. Every committed entry is applied on every member in log order. An
//     entry proposed by this process (same origin and incarnation) is
//     already in the local input ring and is only counted; any other is
//     handed to Config.Deliver, which publishes its inputs into the ring.
//     Inputs at or below Config.Applied (the node recovered them from its
//     own journal, which may end inside an entry) are skipped; an entry
//     that does not continue the applied sequence is ErrDiverged and
//     stops the node. Every entry carries its proposer's matching rules
//     (Header.Rules, engine.Config.Fingerprint); one proposed under
//     other rules than Config.Rules is ErrRulesDiffer and stops the node
//     before it delivers an input of it. A Deliver answering
//     ErrDeliveryStopped (the node's ring halted for a stop) ends
//     delivery: that entry and every later one wait for the next start,
//     and nothing is fatal.
//  3. Ready is true only on the leader after a barrier appended in the
//     term it leads in: every entry of earlier terms is applied
//     (delivered) before the leader takes inputs of its own, so input
//     sequences never collide. Each leadership signal ends the one ready
//     was set for (raft keeps only the latest: lost and won again reads as
//     true after true). OnRole reports each change, from one goroutine.
//  4. Membership is Config.Peers. The members of a new cluster
//     form it on their first start (Config.Bootstrap); a member with no
//     raft state started without it joins — it neither votes nor
//     campaigns until it holds what the leader had committed — and a
//     member refuses raft state of another member or whose membership is
//     not Config.Peers (once joined: a joining member's raft state is what
//     the leader sent so far, which may predate a replace the peers
//     hold; joining, it refuses raft state first started under another
//     cluster id, Config.Cluster: ErrOtherCluster), and a raft log or
//     snapshot without the stable
//     store's file (ErrStableLost: raft writes the term before either, so
//     the file was lost with the term and vote, and the member could vote
//     twice in one term). The one change is Replace, on the ready leader:
//     a lost member (silent for liveWindow) moves to a new raft address
//     under its id, one committed change at a time, when the others make
//     a majority (ReplaceIf: and when the caller's check of the members
//     it reads allows it). A member that applied the committed change refuses
//     raft RPCs from the moved member's former address (fence; kept in
//     the raft directory's "fenced" file across restarts: a member that
//     cannot write or fsync it is cut off and goes to OnFatal with
//     ErrFenceNotWritten, fail stop, takes no raft snapshot after, and
//     restarted applies the move from its raft log again — a move a
//     leader's raft snapshot brought, in no entry, from the file's text
//     written aside ("fenced.aside"), which its next start takes first;
//     one that could write neither is told the text) — as does one
//     that learned of it from a leader's raft snapshot, the entry
//     compacted away: a member the snapshot has at another address than
//     its raft state's membership did was moved (compared again at each
//     start from such a snapshot, with raft's membership before it in
//     its log or older snapshot: a member killed after raft stored the
//     snapshot, before the comparison, wrote the move nowhere, and its
//     log is kept whole until the install returns) — and a process
//     refused so stops (ErrFenced): the old one came back (a raft
//     snapshot it sends, like any refused unread, is read to its end
//     and dropped before the answer, which it lost otherwise; a sender
//     that stalls in a request, its data included, has its connection
//     closed once no byte came for the transport's timeout). Such a
//     member also starts with the peers it ran with (a restart in
//     place, or one before they were edited): peers that name another
//     member at an address it fenced for that member are stale, and the
//     raft state's membership is used (stalePeers). Raft
//     replicates by its membership, so members running
//     with the old peers go on; Leader names no gateway for a leader
//     whose raft address in the membership is not the one in this
//     member's peers (moved since they were written) rather than the
//     lost one's. The name lookups that takes are kept once answered; a
//     lookup that failed (a timeout) is made again at the next call. A
//     lookup's caller waits for it up to fenceResolveWithin, however
//     long the resolver takes, and a name is looked up once at a time:
//     a caller asking for one under way waits for that lookup.
//     LeaderID, the leader's id alone, looks nothing up.
//  5. Durability: the log store fsyncs once per StoreLogs call (one raft
//     batch of entries; once per segment when the batch fills one) and
//     the stable store on every term or vote change. The node's journal
//     is then written without fsync: an input is fsynced once per
//     member, in the raft log. A write a crash tore before its fsync
//     returned (a later page of it on disk, an earlier one not) was never
//     acknowledged, and OpenLogStore drops it from its first bad entry on
//     (Dropped reports what; Open logs it at warn level)
//     — each entry records the first index of its write; a bad entry
//     before an entry of a later write is damage to what the member
//     acknowledged, and the log refuses to open (ErrCorrupt). So does
//     Open a log whose membership entry raft would read at its start
//     does not decode (raft panics on it), naming the entry; and a
//     member refuses a leader's request carrying such a membership (an
//     entry, a raft snapshot's), or an AppendEntries with an empty (nil)
//     entry, on which raft panics too, before raft stores it, and logs the
//     refusal at warn, once per sender and what it refused (the
//     leader's retries held back as raft's lines about a peer). Fail
//     stop: a log store write or sync error goes to Config.OnFatal (raft
//     alone would keep the member on as a follower that can store
//     nothing), and so does a stable store write error (raft refuses a
//     vote it could not write and goes on); the stable store keeps only
//     what it wrote, so no vote is ever answered from memory alone. Two
//     paths inside raft (v1.7.1) panic instead, before OnFatal is heard:
//     a stable store write of a new term (setCurrentTerm), and a log
//     read that fails for an entry past raft's cache (processLogs, once
//     the log store has failed). The process then dies rather than
//     logging "fatal: stopping" — still a stop, and the service manager
//     restarts it.
//  6. Log compaction: Compact (the node calls it after writing a snapshot)
//     takes a raft snapshot — Config.Snapshot writes the node's state at
//     the applied input: its newest snapshot and the inputs after it — and
//     drops the log before it except TrailingEntries entries. A member
//     whose log ends before the leader's first entry is sent that
//     snapshot: Config.Install stages it, the member stops with
//     ErrInstalled and loads it at its next start (raft never restores an
//     FSM at start: NoSnapshotRestoreOnStart); Close lets raft answer the
//     leader the install done before it shuts raft down, or the leader
//     would send the same state again at that start. Raft restarts after the
//     member's own newest snapshot; if the first entry it applies then
//     starts past Config.Applied (the journal was removed or cut short,
//     the raft directory kept), the member installs that snapshot of its
//     own the same way instead of stopping as diverged at every start.
//     And Open, before raft runs, stages its newest snapshot and returns
//     ErrInstalled when that snapshot reaches past Config.Applied
//     (Config.SnapshotApplied reads how far): raft keeps a snapshot a
//     leader sends before the FSM stages it, and a member killed in
//     between would otherwise vote, and could lead, on its old state.
//     No raft snapshot is taken once an entry was applied that the node
//     did not take (delivery stopped, a fatal Apply, a state staged, a
//     move not written to the "fenced" file):
//     raft labels a snapshot with its applied index and restarts after
//     it, so those entries would never be delivered again (Compact then
//     fails and the log is kept). Without Snapshot/Install the log is
//     kept whole. A raft snapshot whose meta.json does not read (missing,
//     cut, zeroed) raft's store skips as if it was never taken: that
//     costs the member no state and no acknowledged input, at most the
//     leader's install, and Open removes its directory, which raft would
//     keep for good, with a warning naming it; but raft then reads its
//     log from entry 1 (or after an older snapshot) at its start and
//     panics on an entry compaction removed, so Open refuses that start
//     (ErrLogStartsLate), naming the directory and the remedy, and
//     leaves it (checkSnapshotsSkipped). A raft snapshot raft lists but
//     cannot open (its state.bin fails raft's CRC), which raft would
//     start after and fail to send at every try, Open moves aside and
//     removes, with a warning naming it, when the log reaches back to
//     where raft then starts; else it is kept, with a warning, when the
//     node holds every input it reaches, and the start is refused
//     (ErrSnapshotDamaged) when not (checkSnapshotsDamaged). A raft
//     snapshot directory a stop left half written ("*.tmp", which raft
//     neither lists nor removes) Open removes before raft's store is
//     made, logging it and its size at warn (removeSnapshotTemps).
//  7. Isolate cuts the member off (a fault drill): outgoing RPCs fail,
//     incoming ones are refused, heartbeats included. A leader so cut off
//     steps down within LeaderLeaseTimeout and commits nothing more.
//  8. The raft directory (Config.Dir) is closed to other users: the log
//     and every raft snapshot hold every account's orders. Open makes it
//     and what it writes itself 0700 and 0600 (vfs.DirMode,
//     vfs.FileMode), and takes other users' permissions off a directory
//     an earlier build made 0755; raft's snapshot store makes its own
//     directories 0755 and files 0644 (less what the umask takes), which
//     the closed directories above keep from others.
//  9. Disk stalls: with Config.DiskStallTimeout, a member whose raft log
//     write or read (GetLog), stable store write (a term or vote), raft
//     snapshot write, write of the file of fenced addresses (on raft's
//     FSM goroutine, applying a move), or Config.DiskWaiting, has waited
//     longer on the disk cuts itself off (Isolate) and goes to OnFatal
//     with ErrDiskStalled — a
//     raft log write and a raft snapshot's Close, which flush many bytes
//     with one fsync, from once their size at flushFloor has passed. Raft
//     alone keeps a leader whose disk hung: its log write never returns
//     while its heartbeats go on, so no election is called and nothing
//     more commits. Cut off, it is replaced by an election. A wait is
//     judged by the time the process ran, not by the clock alone
//     (diskWatch): a process frozen (SIGSTOP, a paused VM) with a write
//     in flight, whose disk answers once it runs again, is not stopped;
//     a stall is caught at the watch's fifth wake-up (a quarter of the
//     timeout apart) after it began, however late they come.
//  10. Memory: raft queues what it takes for committed for the FSM, in
//     memory, and a member whose node takes inputs slower than raft
//     stores them (catching up, its input ring full) would hold all it
//     is behind by. A follower takes from the leader's commit index only
//     so much that at most Config.FSMBacklogBytes of entries wait for
//     its FSM (commitLimit), and the rest with the leader's later
//     requests; its log is stored and acknowledged as before, so a
//     member slow to apply still counts in a majority. Its log whole, it
//     could also be elected, and be ready only once it applied it all:
//     while its log holds more than that past what its node holds, and
//     it heard from a leader within 10 HeartbeatTimeouts (its commit
//     index or its heartbeats) — or, having heard none, it started
//     within them (a whole-cluster restart) — it neither
//     campaigns nor takes a leadership transfer (holdsBackLead) — until
//     2 HeartbeatTimeouts after a candidate whose log is behind its own
//     first asked it for a vote, which it refuses: with one member lost
//     of three, no other can lead; with all three alive, the third
//     campaigns within that time (a follower's election timer runs out
//     1 to 2 HeartbeatTimeouts after it heard a leader: every member's
//     HeartbeatTimeout must be the same, which no member can check) and
//     is elected.
//     Its cost: a cluster with one member lost, whose survivors are one
//     behind and one with a shorter log, has a leader about 2
//     HeartbeatTimeouts later (300 ms at the default 150 ms). A
//     leader's commit index is what a majority stored, not limited; its
//     FSM is, where raft reads entries for it (fsmReads): elected with a
//     log far past what its node holds — after a whole-cluster restart
//     it re-applies the log since its newest raft snapshot — raft's main
//     loop waits to read an entry while those it read and the FSM has
//     not taken would pass FSMBacklogBytes (at most one raft batch of
//     256 entries more), as it waited before only once 128 batches were
//     queued. Meanwhile, as then, that loop answers no RPC: the member
//     is not ready (it has its backlog to apply) and its followers hear
//     its heartbeats.
//  11. The raft port (stream.go): it holds at most maxAcceptedConns
//     connections at once (more in a cluster of ten members or more),
//     and from one remote address connsPerPeer for each other member
//     (portBounds) — one more is closed as soon as it is accepted,
//     counted (RaftPortRefused), and logged at warn (its repeats held
//     back).
//     A connection's first request must start within
//     firstRequestWithin of its accept (a peer dials only to send one),
//     and each byte of a request under way come within the transport's
//     timeout, and the whole at the pace its sender holds itself to (a
//     timeout per 256 KiB, and one more: requestBound), or the member
//     closes the connection, as it does one whose answer is not taken
//     within the timeout; it counts each (RaftPortCut: silent, no first
//     request; stalled, a request or its answer late), and raft's lines
//     about what then failed on it are warnings (errCutOff), not
//     errors: the member is sound. A connection idle after a request —
//     raft pools them — is held for as long as the peer keeps it.
//     Closing the transport closes every connection it holds, each
//     with a request under way once that is answered: a stopped member
//     leaves no goroutine reading or writing one; one the stream layer
//     hands over after is closed, and counted nowhere. Once raft is told
//     to shut down, the connections the member dialed are closed
//     (cutSends): a raft snapshot's send to a peer reading none of it
//     holds the stop no longer. With TLS, the
//     handshakes under way are bounded as the connections held
//     (handshakeBoundsFor), each to handshakeTimeout; one refused or
//     timed out counts with the port's (full, address; silent).
//
// Entry, log-store and stable-store formats are specified in entry.go,
// logstore.go and stable.go; their constants are part of the formats.
package replicator
