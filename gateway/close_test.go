package gateway

import (
	"net"
	"sync"
	"testing"
	"time"
)

// A connection accepted while Close runs is closed by Close, and Close
// returns only once its reader has finished: nothing of the gateway runs
// (or holds a connection open) after Close.
func TestCloseRacesAccept(t *testing.T) {
	for round := range 60 {
		// A logon waits HeartbeatTimeout: a minute, so a Close that waits
		// for one is told from a slow machine by a bound of 30 s, not 2 s.
		g, _ := startGateway(t, Config{HeartbeatTimeout: time.Minute})
		addr := g.Addr().String()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var conns []net.Conn
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					c, err := net.Dial("tcp", addr)
					if err != nil {
						continue
					}
					mu.Lock()
					conns = append(conns, c)
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		start := time.Now()
		g.Close()
		took := time.Since(start)
		close(stop)
		wg.Wait()
		g.mu.Lock()
		left := len(g.live)
		g.mu.Unlock()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		if took > 30*time.Second {
			t.Fatalf("round %d: Close took %v: it waited for a connection it had not closed (until its logon timed out)", round, took)
		}
		if left > 0 {
			t.Fatalf("round %d: %d connections still live after Close returned", round, left)
		}
	}
}
