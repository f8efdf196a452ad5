package replicator

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// peerCalls are the messages of raft's lines about a call to a peer
// that failed: replicating to it (appendEntries, a pipeline, a
// heartbeat, a snapshot), asking it for a vote, or the leader's lease
// check not having heard it. Raft logs most at error, but a peer that
// stopped, restarts, or is cut off by the network fails them all while
// this member is sound: an operator restarting one member saw errors on
// every other. They are taken at warn, and repeats of a line for one
// peer are held back (raftRepeats): raft logs a failed heartbeat as
// often as every half heartbeat timeout, and the lease check's "failed
// to contact" at each check. A fault here is logged under other
// messages (a log or snapshot it cannot read or write, a vote it cannot
// persist), which keep raft's level.
var peerCalls = []string{
	"failed to start pipeline replication to",
	"failed to appendEntries to",
	"failed to pipeline appendEntries",
	"failed to heartbeat to",
	"failed to send snapshot to",
	"failed to make requestVote RPC",
	"failed to contact",
}

// raftRepeatEvery is how often a line of peerCalls for one peer is let
// through: once when the peer is first missed, then at most once per
// period while it stays so, saying how many were held back.
const raftRepeatEvery = 30 * time.Second

// peerCallKey returns the message of one of raft's lines as hclog writes
// it ("[ERROR] raft: MESSAGE: peer=ADDR error=…") and, for a line of
// peerCalls, the key its repeats are held back under: the message and
// its first field, the peer it names (peer, target, server-id).
func peerCallKey(line string) (key string, ok bool) {
	msg, fields := raftMessage(line)
	if !slices.Contains(peerCalls, msg) {
		return "", false
	}
	name, value, _ := strings.Cut(fields, "=")
	if quoted, ok := strings.CutPrefix(value, `"`); ok { // peer="{Voter 2 127.0.0.1:7002}"
		value, _, _ = strings.Cut(quoted, `"`)
	} else {
		value, _, _ = strings.Cut(value, " ")
	}
	return msg + " " + name + "=" + value, true
}

// raftMessage splits one of raft's lines as hclog writes it ("[ERROR]
// raft: MESSAGE: peer=ADDR error=…") into its message and its fields.
func raftMessage(line string) (msg, fields string) {
	_, rest, _ := strings.Cut(line, "] ")                   // the level
	_, rest, _ = strings.Cut(strings.TrimSpace(rest), ": ") // the logger's name
	msg, fields, _ = strings.Cut(rest, ": ")
	return msg, fields
}

// raftRepeats holds back repeats of a line under one key (peerCallKey):
// one is let through per raftRepeatEvery. The keys are raft's messages
// times the peers: a handful.
type raftRepeats struct {
	mu   sync.Mutex
	seen map[string]*raftRepeat
}

type raftRepeat struct {
	at   time.Time // when the last line under the key was let through
	held int       // lines held back since
}

// allow reports whether a line under key may be logged at now, and if so
// how many were held back before it.
func (r *raftRepeats) allow(key string, now time.Time) (ok bool, heldBack int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]*raftRepeat{}
	}
	s := r.seen[key]
	if s == nil {
		r.seen[key] = &raftRepeat{at: now}
		return true, 0
	}
	if now.Sub(s.at) < raftRepeatEvery {
		s.held++
		return false, 0
	}
	heldBack, s.at, s.held = s.held, now, 0
	return true, heldBack
}
