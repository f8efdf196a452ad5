package client

import (
	"testing"
	"time"

	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// The reports of the last input read are remembered (lastInput) so that
// a Redial skips them when it asks for that input again; one input may
// cause many reports, but a broken or hostile server that sends reports
// of one input_seq without end grew that list — and the skip set every
// Redial builds from it — without bound. It is bounded like the other
// sets of reports the client keeps (maxReturned).
func TestLastInputIsBounded(t *testing.T) {
	defer func(n int) { maxReturned = n }(maxReturned)
	maxReturned = 10
	const reports = 200
	g := startGateway(t, func(*proto.Encoder, logon) [][]byte {
		frames := [][]byte{append([]byte(nil), enc().LogonAck(1, 77, 1000, 0)...)}
		for i := range reports {
			frames = append(frames, cancelledReport(enc(), 0, 5, uint64(i+1)))
		}
		return append(frames, append([]byte(nil), enc().Heartbeat(0)...))
	})
	c, err := Dial(g.addr(), 3, "s3", quick)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		m, err := c.Next()
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == wire.MessageHeartbeat {
			break
		}
	}
	if len(c.lastInput) > maxReturned {
		t.Fatalf("%d reports of input 5 remembered (bound %d): a server sending reports of one input grows the client without end",
			len(c.lastInput), maxReturned)
	}
	nc, _ := g.cutAndRedial(t, c)
	if len(nc.skip) > maxReturned {
		t.Fatalf("Redial's skip set holds %d reports (bound %d)", len(nc.skip), maxReturned)
	}
}
