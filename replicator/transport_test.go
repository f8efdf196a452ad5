package replicator

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
)

// inmemTo is an in-memory transport connected to one at address to,
// which answers every RPC with answer until the test ends.
func inmemTo(t *testing.T, to raft.ServerAddress, answer raft.AppendEntriesResponse) *raft.InmemTransport {
	_, local := raft.NewInmemTransport("a")
	_, peer := raft.NewInmemTransport(to)
	local.Connect(to, peer)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			select {
			case rpc := <-peer.Consumer():
				rpc.Respond(&answer, nil)
			case <-stop:
				return
			}
		}
	}()
	return local
}

// A pipeline send that waits for good — raft's decoder of its answers
// gone, its queues full — ends once the transport closes its pipelines,
// which the member's Close does right after raft's shutdown begins: the
// shutdown waits for the goroutine that sends.
func TestClosedPipelinesEndABlockedSend(t *testing.T) {
	local := inmemTo(t, "b", raft.AppendEntriesResponse{Success: false})
	tr := newCutTransport(local, nil)
	defer tr.Close()
	pipe, err := tr.AppendEntriesPipeline(serverID(2), "b")
	if err != nil {
		t.Fatal(err)
	}
	// Nobody reads pipe.Consumer(): raft's decoder ended at the first
	// failed answer.
	sends := make(chan error, 1)
	go func() {
		for {
			if _, err := pipe.AppendEntries(&raft.AppendEntriesRequest{}, &raft.AppendEntriesResponse{}); err != nil {
				sends <- err
				return
			}
		}
	}()
	tr.closePipelines()
	select {
	case err := <-sends:
		if !errors.Is(err, raft.ErrPipelineShutdown) {
			t.Fatalf("the send ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a pipeline send still waits after the pipelines were closed")
	}
	if _, err := tr.AppendEntriesPipeline(serverID(2), "b"); !errors.Is(err, raft.ErrPipelineShutdown) {
		t.Fatalf("a pipeline opened after they were closed: %v", err)
	}
}

// Raft logs each vote a member holding back (or joining) does not ask
// for as a failed RPC at error level; those are info, a fault here
// stays an error (a call to a peer that failed is a warning:
// TestAPeerStoppedIsNoErrorHere).
func TestVotesNotAskedOnPurposeAreNotErrors(t *testing.T) {
	var buf testkit.SyncBuffer
	writeRaftLines(t, zerologWriter{log: zerolog.New(&buf)},
		"[ERROR] raft: failed to make requestVote RPC: target=b error=\""+errBehind.Error()+"\"",
		"[ERROR] raft: failed to make requestVote RPC: target=b error=\""+errJoining.Error()+"\"",
		"[ERROR] raft: failed to get log: index=5 error=\"replicator: a disk error\"")
	var levels []string
	for _, l := range loggedLines(t, buf.String()) {
		levels = append(levels, l.Level)
	}
	if want := []string{"info", "info", "error"}; !slices.Equal(levels, want) {
		t.Fatalf("levels %v, want %v", levels, want)
	}
}
