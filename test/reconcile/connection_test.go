package reconcile

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
)

// hangAfter bounds every wait for the exchange: it detects a hang, it is
// no performance claim, so it is generous for CI's race detector on two
// busy cores.
const hangAfter = 30 * time.Second

// connection reads a client connection on a goroutine of its own: each
// message is handed to the owner's handle under mu, and waiters wake.
type connection struct {
	c       *client.Client
	done    chan struct{} // closed when the connection has ended
	arrived chan struct{} // signalled, without blocking, after each message

	mu    sync.Mutex
	ended error // why the connection ended; nil while it is up
}

// start reads c until it ends; the test's end closes it.
func (cn *connection) start(t testing.TB, c *client.Client, handle func(client.Message)) {
	cn.c, cn.done, cn.arrived = c, make(chan struct{}), make(chan struct{}, 1)
	go func() {
		defer close(cn.done)
		for {
			m, err := c.Next()
			cn.mu.Lock()
			if err != nil {
				cn.ended = err
				cn.mu.Unlock()
				return
			}
			handle(m)
			cn.mu.Unlock()
			select {
			case cn.arrived <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-cn.done })
}

// await waits until cond, called under mu, holds; an error if the
// connection ends or the deadline passes first.
func (cn *connection) await(deadline time.Time, cond func() bool) error {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		cn.mu.Lock()
		ok, ended := cond(), cn.ended
		cn.mu.Unlock()
		switch {
		case ok:
			return nil
		case ended != nil:
			return fmt.Errorf("the connection ended: %w", ended)
		}
		select {
		case <-cn.arrived:
		case <-cn.done:
		case <-timer.C:
			return errors.New("the deadline passed")
		}
	}
}

// awaitEnd waits until the connection has ended (a node's stop ends it).
func (cn *connection) awaitEnd() error {
	select {
	case <-cn.done:
		return nil
	case <-time.After(hangAfter):
		return fmt.Errorf("the connection did not end within %v", hangAfter)
	}
}
