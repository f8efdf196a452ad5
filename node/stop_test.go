package node

import (
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/vfs"
)

// An operator's control input during Stop is refused (503) or kept: one
// answered 202 Accepted while the ring drained landed above the drain's
// target and was never journaled — the kill switch pulled during a
// shutdown was gone after the restart.
func TestControlAcceptedDuringStopIsKept(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	n, addrs, _ := startNode(t, cfg)
	// The engine still has work when Stop begins (held here; a backlog
	// in the ring in production): the input ring drains for a while.
	release, held := make(chan struct{}), make(chan struct{})
	go n.stats.engine.Do(func() { close(held); <-release })
	<-held
	stopped := make(chan error, 1)
	go func() { stopped <- n.Stop() }()
	waitUntil(t, func() bool {
		c, err := net.Dial("tcp", addrs.Gateway)
		if err == nil {
			c.Close()
		}
		return err != nil // the gateway is closed: Stop is draining
	})
	time.Sleep(100 * time.Millisecond)
	resp, err := http.Post("http://"+addrs.Admin+"/accounts/2/suspend", "", nil)
	if err != nil {
		close(release)
		<-stopped
		t.Skipf("admin closed first: %v", err)
	}
	resp.Body.Close()
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusAccepted {
		return // refused: the operator knows it did not take
	}
	n2, _, err := New(testConfig(t, dir), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Stop()
	if st := n2.State(); !slices.Contains(st.Suspended, 2) {
		t.Fatalf("suspend of account 2 answered 202 Accepted during Stop, but after the restart suspended accounts are %v (journal ends at %d)", st.Suspended, n.Final().LastSeq)
	}
}

// A second Stop reports what the first did: after a journal failure the
// node did not stop cleanly, and a caller asking again is not told it did.
func TestSecondStopReportsTheFailure(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	efs := &vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpSync, Skip: 3, Sticky: true}
	n, addrs, _ := startNodeWith(t, cfg, Options{FS: efs})
	c := dial(t, addrs.Gateway, 4)
	in := cfg.Instruments[0]
	// An order a millisecond, each its own journal batch and fsync, until
	// the fourth fsync fails (50 at once, under load, could all go in
	// fewer than four batches: no failure, no fatal).
	deadline := time.After(10 * time.Second)
failed:
	for i := uint64(1); ; i++ {
		c.NewOrder(limit(i, wire.SideBuy, in.ReferencePrice-in.TickSize, 1))
		select {
		case <-n.Fatal():
			break failed
		case <-deadline:
			t.Fatal("no fatal")
		case <-time.After(time.Millisecond):
		}
	}
	first := n.Stop()
	second := n.Stop()
	if first == nil || second == nil {
		t.Fatalf("first Stop: %v, second Stop: %v", first, second)
	}
}

// Stop returns while clients keep connecting: a client that connects as
// the gateway closes, logs on and heartbeats must not hold Stop.
func TestStopWhileClientsConnect(t *testing.T) {
	for round := range 20 {
		cfg := testConfig(t, t.TempDir())
		n, addrs, _ := startNode(t, cfg)
		secret := cfg.Accounts[3].Secret
		quit := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				enc := proto.NewEncoder()
				for {
					select {
					case <-quit:
						return
					default:
					}
					c, err := net.Dial("tcp", addrs.Gateway)
					if err != nil {
						continue
					}
					if _, err := c.Write(enc.Logon(1, 4, secret)); err != nil {
						c.Close()
						continue
					}
					wg.Add(1)
					go func() { // a live client: heartbeats until the test ends
						defer wg.Done()
						defer c.Close()
						enc := proto.NewEncoder() // its own: an Encoder is not safe for concurrent use, and its frames alias its buffer
						go io.Copy(io.Discard, c)
						for {
							select {
							case <-quit:
								return
							case <-time.After(200 * time.Millisecond):
								if _, err := c.Write(enc.Heartbeat(2)); err != nil {
									return
								}
							}
						}
					}()
				}
			}()
		}
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		stopped := make(chan error, 1)
		go func() { stopped <- n.Stop() }()
		select {
		case <-stopped:
			close(quit)
			wg.Wait()
		case <-time.After(5 * time.Second):
			close(quit)
			wg.Wait()
			<-stopped
			t.Fatalf("round %d: Stop still waiting after 5 s for a session that logged on while the gateway closed", round)
		}
	}
}
