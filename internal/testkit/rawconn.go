package testkit

import (
	"bytes"
	"net"

	"github.com/ringex/ringex/proto"
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

// LastFrame returns the payload of the last whole frame in stream, a
// connection's bytes as read (nil when there is none).
func LastFrame(stream []byte) (last []byte) {
	for fr := proto.NewFrameReader(bytes.NewReader(stream), 1<<20); ; {
		payload, err := fr.Next()
		if err != nil {
			return last
		}
		last = payload
	}
}
