package testkit

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
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

// EachReport reads c until its connection ends (or a read deadline set
// on it passes), handing each execution report to each, and returns the
// error the reads ended with: a reader goroutine's loop, for a client
// whose reports are counted or kept as they come.
func EachReport(c *client.Client, each func(r proto.Report)) error {
	for {
		m, err := c.Next()
		if err != nil {
			return err
		}
		if m.Type == wire.MessageExecutionReport {
			each(m.Report)
		}
	}
}
