package client_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
)

// serveHangingUp listens on 127.0.0.1 — with TLS when cert is set — and
// hangs up on every connection after its first read: a TLS port given a
// plain-TCP logon fails the handshake and closes, a plain one closes
// after the Logon it read.
func serveHangingUp(t *testing.T, cert *tls.Certificate) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cert != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			proto.NewFrameReader(conn, 1<<16).Next() // a TLS conn's handshake fails here
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// A plain-TCP logon to a port with TLS ended "client: logon: EOF": the
// library said nothing of TLS, and only the CLI added a hint. The
// library's error says it now, and wraps ErrHungUpAtLogon beside the
// connection's own error; a TLS client hung up on is not told to dial
// with TLS.
func TestLogonHungUpOnSaysTLS(t *testing.T) {
	ca := testkit.NewCA(t, "ringex test CA")
	cert := ca.Issue(t, "127.0.0.1", net.IPv4(127, 0, 0, 1))
	tlsPort := serveHangingUp(t, &cert)
	opts := client.Options{Timeout: 3 * time.Second}
	for name, dial := range map[string]func() error{
		"Dial":                func() error { _, err := client.Dial(tlsPort, 1, "s", opts); return err },
		"DialMarketDataLogon": func() error { _, err := client.DialMarketDataLogon(tlsPort, 1, "s", opts); return err },
		"DialCluster": func() error {
			_, err := client.DialCluster([]string{tlsPort}, 1, "s", opts, 300*time.Millisecond)
			return err
		},
	} {
		err := dial()
		if !errors.Is(err, client.ErrHungUpAtLogon) || !(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) ||
			!strings.Contains(err.Error(), "as one with TLS does to a client without TLS") ||
			!strings.Contains(err.Error(), "a node stopping or losing the lead") {
			t.Errorf("%s, plain TCP to a port with TLS: %v, want ErrHungUpAtLogon and the connection's end, saying TLS — and the other cause, a node stopping or losing the lead (the TLS hint alone misled there)", name, err)
		}
	}

	plainPort := serveHangingUp(t, nil)
	opts.TLS = &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}
	if _, err := client.Dial(plainPort, 1, "s", opts); err == nil || errors.Is(err, client.ErrHungUpAtLogon) {
		t.Errorf("Dial with TLS to a port that hangs up: %v, want an error that is not ErrHungUpAtLogon", err)
	}
}
