package proto

import (
	"io"
	"net"
	"testing"
	"time"
)

// FrameBuffered tells whether Next can return without reading the
// stream: only when a whole frame is buffered.
func TestFrameBuffered(t *testing.T) {
	server, client := net.Pipe()
	defer server.Close()
	defer client.Close()
	r := NewFrameReader(server, 1024)
	frame := NewEncoder().NewOrder(1, sampleNewOrder)
	stream := append(append([]byte(nil), frame...), frame...)
	// Deliver one whole frame and the first bytes of the next.
	go client.Write(stream[:len(frame)+6])
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if r.FrameBuffered() {
		t.Fatal("a frame missing its body counted as buffered")
	}
	go client.Write(stream[len(frame)+6:])
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if r.FrameBuffered() {
		t.Fatal("an empty buffer counted as holding a frame")
	}
	// Two whole frames in one write: after reading the first, the second
	// is buffered.
	go client.Write(stream)
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if !r.FrameBuffered() {
		t.Fatal("a whole buffered frame not reported")
	}
	client.Close()
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("end of stream: %v", err)
	}
}
