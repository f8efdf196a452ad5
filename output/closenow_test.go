package output

import (
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ringex/ringex/internal/testkit"
)

// CloseNow closes a TLS connection whose peer stopped reading at once;
// tls.Conn's Close would wait up to 5 s to send its close_notify.
func TestCloseNowSkipsCloseNotify(t *testing.T) {
	ca := testkit.NewCA(t, "ringex test")
	cert := ca.Issue(t, "ringex test", net.IPv4(127, 0, 0, 1))
	a, b := net.Pipe() // a write blocks until the peer reads
	server := tls.Server(a, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	client := tls.Client(b, &tls.Config{RootCAs: ca.Pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	defer client.NetConn().Close()
	done := make(chan error, 1)
	go func() { done <- client.Handshake() }()
	if err := server.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
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
