package output

import (
	"crypto/tls"
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
	// The client reads nothing more: a close_notify would block.
	start := time.Now()
	CloseNow(server)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("CloseNow took %v", d)
	}
	if _, err := server.NetConn().Write([]byte{0}); err == nil {
		t.Fatal("the connection is still open")
	}
}
