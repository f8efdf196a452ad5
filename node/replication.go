package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/replicator"
)

// Replication (cluster.peers set). The replicator stage proposes each
// input-ring batch as raft log entries and returns only when a majority
// holds them; the journaller and the engine come after it, so in a
// cluster:
//
//  1. The journal holds committed inputs only, and is written without
//     fsync: the raft log (fsynced once per batch on each member) is the
//     durable record, so an input is fsynced once per node, not twice. A
//     node whose journal lost its tail in a machine crash gets the
//     missing batches again from the raft log, which is kept whole.
//  2. Only the leader takes inputs (Publish refuses them elsewhere), and
//     only once every entry of earlier terms is in its ring.
//  3. A follower's raft FSM delivers each committed batch into its input
//     ring with the leader's receive times and sessions, so it assigns
//     the same input sequences and reaches the same state. Its execution
//     reports go nowhere: no session logs on to a follower, which answers
//     Logon with Redirect{leader gateway} or LogonReject{NotLeader}.
//  4. A leader that loses leadership while a batch of its own is in
//     flight cannot tell whether that batch will be committed; it fails
//     stop (its journal holds only committed inputs, so a restart is
//     clean). Without a batch in flight it becomes a follower in place
//     and drops its trading sessions.

// proposeChunk bounds the inputs of one raft entry (~100 bytes each).
const proposeChunk = 2048

// cluster is the node's replication state.
type cluster struct {
	r           *replicator.Replicator // set by Start
	incarnation uint64
	// committed is the last input sequence known committed and present
	// in the input ring: the replicator stage writes it for its own
	// batches, the FSM goroutine for delivered ones (before publishing
	// them). Invariant: committed <= base + published cursor, except
	// while a delivery is being published.
	committed atomic.Int64
	accepting atomic.Bool // leader and caught up: Publish takes inputs
	proposed  atomic.Int64
	entries   atomic.Int64
}

// ErrNotLeader: a clustered node that is not the ready leader refuses
// inputs.
var ErrNotLeader = errors.New("node: not the leader")

// stateView lets the admin endpoint read the engine between batches.
type stateView struct {
	mu  sync.Mutex // held by the engine stage for each batch
	seq int64      // last input sequence the engine applied; under mu
}

func newCluster(n *Node) *cluster {
	if !n.cfg.Cluster.Enabled() {
		return nil
	}
	return &cluster{incarnation: uint64(time.Now().UnixNano())}
}

// journalAfter makes the journaller follow the replicator in a cluster.
func (n *Node) journalAfter(r *consumer) []*consumer {
	if n.cl == nil {
		return nil
	}
	return []*consumer{r}
}

// startCluster opens the raft member; the input ring is running, the
// gateway not yet listening.
func (n *Node) startCluster() error {
	cl := n.cl
	cl.committed.Store(n.base - 1)
	var peers []replicator.Peer
	for _, p := range n.cfg.Cluster.Peers {
		peers = append(peers, replicator.Peer{ID: p.ID, Raft: p.Raft, Gateway: p.Gateway})
	}
	r, err := replicator.Open(replicator.Config{
		NodeID: n.cfg.Node.ID, Listen: n.cfg.Cluster.RaftListen, Peers: peers,
		Dir: filepath.Join(n.cfg.Node.DataDir, "raft"), Incarnation: cl.incarnation, Applied: n.base - 1,
		Deliver: n.deliverBatch, OnRole: n.onRole, OnFatal: n.fail, Logger: n.log,
	})
	if err != nil {
		return err
	}
	cl.r = r
	return nil
}

func (n *Node) stopCluster() error {
	if n.cl == nil || n.cl.r == nil {
		return nil
	}
	n.cl.accepting.Store(false)
	return n.cl.r.Close()
}

// replicateBatch is the replicator stage: it commits the batch through
// raft, in entries of at most proposeChunk inputs, and returns when all
// are committed. Slots the FSM delivered are committed already.
func (n *Node) replicateBatch(lo, hi int64) error {
	cl := n.cl
	if cl == nil {
		return nil
	}
	done := cl.committed.Load() - n.base
	if hi <= done {
		return nil
	}
	lo = max(lo, done+1)
	for lo <= hi {
		end := min(hi, lo+proposeChunk-1)
		count := end - lo + 1
		// raft keeps the entry: a fresh buffer per entry, not per input.
		entry := make([]byte, 0, 32+count*96)
		entry = replicator.AppendHeader(entry, replicator.Header{Origin: n.cfg.Node.ID, Incarnation: cl.incarnation,
			First: n.base + lo, Count: uint32(count)})
		for s := lo; s <= end; s++ {
			slot := n.in.slots.At(s)
			entry = replicator.AppendInput(entry, &replicator.Input{RecvTime: slot.RecvTime, Session: slot.Session,
				Account: slot.Account, Kind: uint8(slot.Kind), Payload: slot.Payload()})
		}
		if err := cl.r.Propose(entry); err != nil {
			// The batch's fate is unknown here: fail stop.
			return fmt.Errorf("node: replicating inputs %d…%d: %w", n.base+lo, n.base+end, err)
		}
		cl.committed.Store(n.base + end)
		cl.proposed.Add(count)
		cl.entries.Add(1)
		lo = end + 1
	}
	return nil
}

// deliverBatch puts a batch committed by another leader into the input
// ring (raft's FSM goroutine).
func (n *Node) deliverBatch(b *replicator.Batch) error {
	cl := n.cl
	cl.committed.Store(b.Last())
	var in replicator.Input
	next := b.First
	for left := int64(b.Count); left > 0; {
		k := min(left, int64(n.in.slots.Size()/2))
		hi, err := n.in.seq.Next(k)
		if err != nil {
			return err // halted: the node is stopping
		}
		lo := hi - k + 1
		for s := lo; s <= hi; s++ {
			ok, err := b.Next(&in)
			if err == nil && !ok {
				err = fmt.Errorf("%w: batch ended early", replicator.ErrEntry)
			}
			if err == nil && n.base+s != next {
				err = fmt.Errorf("%w: input %d would take ring slot of input %d", replicator.ErrDiverged, next, n.base+s)
			}
			slot := n.in.slots.At(s)
			if err != nil {
				slot.Kind, slot.Len = input.KindControl, 0 // every claimed slot is published; the node stops
				n.in.seq.Publish(lo, hi)
				return err
			}
			slot.RecvTime, slot.Session, slot.Account, slot.Kind = in.RecvTime, in.Session, in.Account, input.Kind(in.Kind)
			if !slot.SetPayload(in.Payload) {
				slot.Len = 0
			}
			next++
		}
		n.in.seq.Publish(lo, hi)
		left -= k
	}
	return nil
}

// onRole follows leadership: a ready leader takes sessions and inputs; a
// node that stops being leader drops its sessions, whose clients are
// redirected on reconnect.
func (n *Node) onRole(leader bool) {
	n.cl.accepting.Store(leader)
	id, _ := n.cl.r.Leader()
	n.log.Info().Bool("leader", leader).Uint32("leader_id", id).Msg("cluster role")
	if !leader && n.gw != nil {
		n.gw.DropSessions()
	}
}

// standby is the gateway's logon check: the leader's gateway address to
// redirect to, "" when none is known.
func (n *Node) standby() (string, bool) {
	cl := n.cl
	if cl.accepting.Load() {
		return "", false
	}
	id, addr := cl.r.Leader()
	if id == n.cfg.Node.ID {
		return "", true // elected, not yet caught up
	}
	return addr, true
}

// refuseInput reports whether Publish must refuse an input.
func (n *Node) refuseInput() bool { return n.cl != nil && !n.cl.accepting.Load() }

// NodeState is the admin /state answer.
type NodeState struct {
	Node      uint32             `json:"node"`
	Seq       int64              `json:"seq"`  // last input sequence the engine applied
	Hash      string             `json:"hash"` // engine state hash after it
	Proposed  int64              `json:"proposed_inputs,omitempty"`
	Entries   int64              `json:"proposed_entries,omitempty"`
	Committed int64              `json:"committed_seq,omitempty"`
	Cluster   *replicator.Status `json:"cluster,omitempty"`
	Ports     map[string]bool    `json:"ports"`
}

// State reads the engine's sequence and state hash between two batches
// (it holds the engine stage for the time a snapshot encoding takes).
func (n *Node) State() NodeState {
	n.view.mu.Lock()
	st := NodeState{Node: n.cfg.Node.ID, Seq: n.view.seq, Hash: fmt.Sprintf("%016x", n.eng.StateHash())}
	n.view.mu.Unlock()
	if cl := n.cl; cl != nil && cl.r != nil {
		s := cl.r.Status()
		st.Cluster, st.Committed, st.Proposed, st.Entries = &s, cl.committed.Load(), cl.proposed.Load(), cl.entries.Load()
	}
	st.Ports = n.ports.snapshot()
	return st
}

// clusterAdmin adds GET /state and, in a cluster, POST
// /cluster/isolate?on=true|false (cuts the consensus transport: a fault
// drill for operators and tests).
func (n *Node) clusterAdmin(mux *http.ServeMux) {
	mux.Handle("GET /state", n.auth(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(n.State())
	})))
	if n.cl == nil {
		return
	}
	mux.Handle("POST /cluster/isolate", n.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		on, err := strconv.ParseBool(r.URL.Query().Get("on"))
		if err != nil {
			http.Error(w, "on=true|false required", http.StatusBadRequest)
			return
		}
		n.cl.r.Isolate(on)
		n.log.Warn().Bool("isolated", on).Msg("cluster: consensus transport isolation changed by operator")
		w.WriteHeader(http.StatusAccepted)
	})))
}
