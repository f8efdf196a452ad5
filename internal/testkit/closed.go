package testkit

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
)

// ReadToEnd reads c until its connection ends, and fails the test if it
// is still open after 5 s (what names it in the failure). It returns the
// error the reads ended with: a client.ClosedError when the node said
// why (client.ClosedBy names the cause).
func ReadToEnd(t testing.TB, c *client.Client, what string) error {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, err := c.Next()
		if err == nil {
			continue
		}
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			t.Fatalf("%s still open after 5 s", what)
		}
		return err
	}
}
