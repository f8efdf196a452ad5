package output

import (
	"io"
	"testing"
	"time"

	"github.com/ringex/ringex/internal/testkit"
)

// CloseNow closes a TLS connection whose peer stopped reading at once;
// tls.Conn's Close would wait up to 5 s to send its close_notify.
func TestCloseNowSkipsCloseNotify(t *testing.T) {
	server, client := testkit.NewCA(t, "ringex test").TLSPipe(t)
	// What CloseNow sends is read below the TLS layer, to the end: a
	// close_notify (a peer that stopped reading would block it for 5 s)
	// is an alert record. Checked by what it writes, not how long it
	// took: a timing bound fails on a slow machine.
	sent := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(client.NetConn())
		sent <- b
	}()
	CloseNow(server)
	select {
	case b := <-sent:
		if len(b) != 0 {
			t.Fatalf("CloseNow wrote %d bytes (% x) before closing: a close_notify", len(b), b)
		}
	case <-time.After(time.Minute):
		t.Fatal("the connection is still open a minute after CloseNow")
	}
	if _, err := server.NetConn().Write([]byte{0}); err == nil {
		t.Fatal("the connection is still open")
	}
}
