package replicator

import (
	"bytes"
	"errors"
	"slices"
	"strings"
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
	tr := newCutTransport(local, nil, zerolog.Nop())
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

// A member refusing a membership that does not decode logs it at warn,
// naming the sender and what it refused — once per cause and sender,
// however often the leader sends it again (its retries), the repeats
// held back as raft's lines about a peer are. Before, only the leader
// logged each retry: the member said nothing.
func TestAnUndecodableMembershipsRefusalIsLoggedOncePerCauseAndPeer(t *testing.T) {
	var buf testkit.SyncBuffer
	member := refusingMember(t, nil, zerolog.New(&buf), transportTimeout)
	from, _ := oneConnTransport(t, member.LocalAddr())
	header := func(id string) raft.RPCHeader {
		return raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(id), Addr: []byte("10.0.0." + id + ":1")}
	}
	sendEntry := func(id string) error {
		req := raft.AppendEntriesRequest{RPCHeader: header(id), Term: 2, PrevLogEntry: 1, PrevLogTerm: 1,
			Entries: []*raft.Log{testLog(2), badMembershipEntry(3)}}
		return from.AppendEntries(serverID(1), member.LocalAddr(), &req, &raft.AppendEntriesResponse{})
	}
	sendSnapshot := func(id string) error {
		state := []byte("state")
		req := raft.InstallSnapshotRequest{RPCHeader: header(id), SnapshotVersion: raft.SnapshotVersionMax, Term: 2,
			LastLogIndex: 10, LastLogTerm: 2, Configuration: []byte("not a membership"), ConfigurationIndex: 1, Size: int64(len(state))}
		return from.InstallSnapshot(serverID(1), member.LocalAddr(), &req, &raft.InstallSnapshotResponse{}, bytes.NewReader(state))
	}
	type send struct {
		send func(id string) error
		id   string
	}
	var sends []send
	for range 6 { // the leader's retries
		sends = append(sends, send{sendEntry, "2"}, send{sendSnapshot, "2"})
	}
	sends = append(sends, send{sendEntry, "3"}) // another sender: its own line
	for i, s := range sends {
		if err := s.send(s.id); err == nil || !strings.Contains(err.Error(), "does not decode") {
			t.Fatalf("send %d: answered %v, want the refusal", i, err)
		}
	}

	var got []string
	for _, e := range loggedLines(t, buf.String()) {
		if !strings.Contains(e.Error, "does not decode") {
			t.Errorf("a line's error %q does not say what did not decode", e.Error)
		}
		got = append(got, e.Level+" "+e.Refused+" from "+e.Peer+" at "+e.PeerAddr)
	}
	want := []string{"warn a membership entry from 2 at 10.0.0.2:1", "warn a raft snapshot's membership from 2 at 10.0.0.2:1",
		"warn a membership entry from 3 at 10.0.0.3:1"}
	if !slices.Equal(got, want) {
		t.Fatalf("logged:\n%s\nwant (level, what, sender) %q", buf.String(), want)
	}
}
