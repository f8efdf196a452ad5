package testkit

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// KeepSending writes frame to conn, 100 at a time, until a write fails
// or the returned stop is called, which waits for the writer to end: a
// client that sends and does not read.
func KeepSending(conn net.Conn, frame []byte) (stop func()) {
	burst := bytes.Repeat(frame, 100)
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := conn.Write(burst); err != nil {
				return
			}
		}
	}()
	return func() { close(done); <-ended }
}

// ReadToClosing reads conn to the end of its stream and fails the test
// unless it ends so, cleanly (no reset, within conn's deadline), with a
// Closing naming cause its last frame.
func ReadToClosing(t testing.TB, conn net.Conn, cause string) {
	t.Helper()
	all, err := io.ReadAll(conn)
	if err != nil {
		t.Errorf("the connection ended with %v after %d bytes, want the end of the stream after the Closing", err, len(all))
	}
	var last []byte
	for fr := proto.NewFrameReader(bytes.NewReader(all), 1<<20); ; {
		payload, err := fr.Next()
		if err != nil {
			break
		}
		last = payload
	}
	if typ, pos, err := proto.Verify(last); err != nil || typ != wire.MessageClosing {
		t.Errorf("the last frame read is a %v (%v), want the Closing", typ, err)
	} else if told, _ := proto.ClosingAt(last, pos); proto.ClosingCauseName(told) != cause {
		t.Errorf("told %s, want %s", proto.ClosingCauseName(told), cause)
	}
}
