package node

import (
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/proto/wire"
)

// A first Subscribe whose book is too deep for the subscriber's buffer
// is refused when the books become ready (the port's opening image); the
// refused connection follows nothing, so the port closes after the idle
// grace, as after a refusal on a port already open. The image's end
// ignored the refusal: the port and the engine's book events stayed on
// until that connection left, silent for gateway.read_timeout (audit).
func TestMarketDataPortClosesAfterARefusalAtTheImage(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"marketdata.send_buffer_bytes": "65536", "gateway.read_timeout": "1m"})
	eth := &cfg.Instruments[1]
	eth.PriceBandTicks = 0
	n, a := startNodeMDGrace(t, cfg, 200*time.Millisecond)
	c := dial(t, a.Gateway, 1)
	deepBooks(t, c, []config.Instrument{*eth}, 4000) // ~96 KB of levels
	md := dialMD(t, a.MarketData)
	md.Subscribe(eth.ID) // opens the port: refused at the image's end
	m := next(t, md, func(m client.Message) bool { return m.Type != wire.MessageHeartbeat })
	if m.Type != wire.MessageSubscribeReject || m.SubscribeReject != wire.SubscribeRejectReasonBookTooLarge {
		t.Fatalf("%+v, want SubscribeReject BookTooLarge", m)
	}
	waitUntil(t, func() bool { return !n.mdHub.active() }) // within 10 s; the connection is idle for 1 min
	if got := n.mdHub.served(); got != 1 {
		t.Fatalf("%d connections served, want the refused one still", got)
	}
}
