package replicator

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// ErrIsolated is what every RPC returns while a transport is cut off.
var ErrIsolated = errors.New("replicator: transport isolated")

// cutTransport wraps a raft transport with a switch that isolates the
// node: while cut, outgoing RPCs fail at once and incoming ones are
// answered with ErrIsolated, as if the network between this node and its
// peers were down. Operators and tests use it to check that a leader cut
// off from its peers steps down.
type cutTransport struct {
	inner raft.Transport
	cut   atomic.Bool
	out   chan raft.RPC
	stop  chan struct{}
	once  sync.Once
}

func newCutTransport(inner raft.Transport) *cutTransport {
	t := &cutTransport{inner: inner, out: make(chan raft.RPC), stop: make(chan struct{})}
	go t.forward()
	return t
}

// forward passes incoming RPCs on unless the transport is cut.
func (t *cutTransport) forward() {
	in := t.inner.Consumer()
	for {
		select {
		case rpc := <-in:
			if t.cut.Load() {
				rpc.Respond(nil, ErrIsolated)
				continue
			}
			select {
			case t.out <- rpc:
			case <-t.stop:
				rpc.Respond(nil, raft.ErrTransportShutdown)
				return
			}
		case <-t.stop:
			return
		}
	}
}

func (t *cutTransport) Consumer() <-chan raft.RPC     { return t.out }
func (t *cutTransport) LocalAddr() raft.ServerAddress { return t.inner.LocalAddr() }

func (t *cutTransport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	if t.cut.Load() {
		return nil, ErrIsolated
	}
	p, err := t.inner.AppendEntriesPipeline(id, target)
	if err != nil {
		return nil, err
	}
	return cutPipeline{AppendPipeline: p, t: t}, nil
}

func (t *cutTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	if t.cut.Load() {
		return ErrIsolated
	}
	return t.inner.AppendEntries(id, target, args, resp)
}

func (t *cutTransport) RequestVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	if t.cut.Load() {
		return ErrIsolated
	}
	return t.inner.RequestVote(id, target, args, resp)
}

func (t *cutTransport) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	pv, ok := t.inner.(raft.WithPreVote)
	if !ok {
		return errors.New("replicator: transport has no pre-vote")
	}
	if t.cut.Load() {
		return ErrIsolated
	}
	return pv.RequestPreVote(id, target, args, resp)
}

func (t *cutTransport) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	if t.cut.Load() {
		return ErrIsolated
	}
	return t.inner.InstallSnapshot(id, target, args, resp, data)
}

func (t *cutTransport) EncodePeer(id raft.ServerID, addr raft.ServerAddress) []byte {
	return t.inner.EncodePeer(id, addr)
}

func (t *cutTransport) DecodePeer(b []byte) raft.ServerAddress { return t.inner.DecodePeer(b) }

// SetHeartbeatHandler wraps the fast path too: heartbeats bypass Consumer.
func (t *cutTransport) SetHeartbeatHandler(cb func(rpc raft.RPC)) {
	if cb == nil {
		t.inner.SetHeartbeatHandler(nil)
		return
	}
	t.inner.SetHeartbeatHandler(func(rpc raft.RPC) {
		if t.cut.Load() {
			rpc.Respond(nil, ErrIsolated)
			return
		}
		cb(rpc)
	})
}

func (t *cutTransport) TimeoutNow(id raft.ServerID, target raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	if t.cut.Load() {
		return ErrIsolated
	}
	return t.inner.TimeoutNow(id, target, args, resp)
}

// Close stops forwarding and closes the inner transport.
func (t *cutTransport) Close() error {
	t.once.Do(func() { close(t.stop) })
	if c, ok := t.inner.(raft.WithClose); ok {
		return c.Close()
	}
	return nil
}

// cutPipeline stops an established pipeline when the transport is cut.
type cutPipeline struct {
	raft.AppendPipeline
	t *cutTransport
}

func (p cutPipeline) AppendEntries(args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) (raft.AppendFuture, error) {
	if p.t.cut.Load() {
		return nil, ErrIsolated
	}
	return p.AppendPipeline.AppendEntries(args, resp)
}
