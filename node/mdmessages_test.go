package node

import (
	"testing"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A market-data message of a type newer than the node — a newer
// client's: the wire's unions are only appended to — is skipped, and the
// connection goes on, its subscription served. It was closed as
// malformed.
func TestMarketDataSkipsNewerMessageTypes(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	md := subscribeMD(t, addrs.MarketData, 1)
	md.SendRaw(proto.NewEncoder().Empty(2, wire.Message(250)))
	// Subscribing again asks for a new snapshot: the port read the newer
	// message before it, and would have closed the connection there.
	md.Subscribe(1)
	next(t, md, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot })
	restAndSee(t, cfg, addrs.Gateway, 3, md)
	wantClosed(t, n, mdMalformed, 0)
}
