package replicator

import (
	"bytes"
	"net"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
)

// BenchmarkRaftPortAppendEntries: one AppendEntries per op of 16
// entries of 64 KiB, as a follower under load is sent them, read on a
// connection the member accepted (requestConn) and answered. "loopback":
// as the socket has them, a few reads a request; "segments": at most a
// TCP segment (1448 bytes) a read, about 730 a request, as a reader
// faster than its network reads them — where a cost per read shows.
// Profile it (-cpuprofile) for the port's share of the work.
func BenchmarkRaftPortAppendEntries(b *testing.B) {
	for _, bc := range []struct {
		name    string
		segment int // most bytes a read returns; 0: as the socket has them
	}{{"loopback", 0}, {"segments", 1448}} {
		b.Run(bc.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			stream := segmentedStream{tcpStream: tcpStream{ln: ln, advertise: ln.Addr()}, segment: bc.segment}
			inner, _ := newBoundedTransport(stream, testBounds(transportTimeout), hclog.NewNullLogger())
			member := answering(b, inner, nil, zerolog.Nop())
			from, _ := oneConnTransport(b, member.LocalAddr())
			req := testAppend
			req.Entries = nil
			data := bytes.Repeat([]byte{0xfe}, 64<<10)
			for i := range 16 {
				req.Entries = append(req.Entries, &raft.Log{Index: uint64(2 + i), Term: 2, Type: raft.LogCommand, Data: data})
			}
			b.SetBytes(int64(16 * len(data)))
			b.ReportAllocs()
			var resp raft.AppendEntriesResponse
			for b.Loop() {
				if err := from.AppendEntries(serverID(1), member.LocalAddr(), &req, &resp); err != nil || !resp.Success {
					b.Fatalf("%+v, %v", resp, err)
				}
			}
		})
	}
}

// segmentedStream is a TCP stream layer whose accepted connections
// return at most segment bytes a read (0: no bound).
type segmentedStream struct {
	tcpStream
	segment int
}

func (s segmentedStream) Accept() (net.Conn, error) {
	c, err := s.tcpStream.Accept()
	if err != nil || s.segment == 0 {
		return c, err
	}
	return segmentedConn{Conn: c, segment: s.segment}, nil
}

type segmentedConn struct {
	net.Conn
	segment int
}

func (c segmentedConn) Read(p []byte) (int, error) { return c.Conn.Read(p[:min(len(p), c.segment)]) }
