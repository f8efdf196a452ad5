package gateway

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ringex/ringex/disruptor"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/proto"
)

// ringPublisher publishes into a real multi-producer input ring, as the
// node does (one claim per read's frames), so the benchmark pays the
// claim/copy/publish a node pays.
type ringPublisher struct {
	slots *disruptor.Ring[input.Slot]
	seq   *disruptor.MultiProducer
}

func (p *ringPublisher) Publish(kind input.Kind, session uint64, account uint32, now int64, payload []byte) error {
	_, err := p.PublishBatch(kind, session, account, now, [][]byte{payload}, 0)
	return err
}

// PublishBatch claims the frames of one read together, as the node does
// (waiting for room without bound: the benchmark's consumer drains).
func (p *ringPublisher) PublishBatch(kind input.Kind, session uint64, account uint32, now int64, payloads [][]byte, _ time.Duration) (int, error) {
	k := int64(len(payloads))
	hi, err := p.seq.Next(k)
	if err != nil {
		return 0, err
	}
	for i, payload := range payloads {
		s := p.slots.At(hi - k + 1 + int64(i))
		s.Kind, s.Session, s.Account, s.RecvTime = kind, session, account, now
		s.Len = uint16(copy(s.Raw[:], payload))
	}
	p.seq.Publish(hi-k+1, hi)
	return len(payloads), nil
}

// BenchmarkIngest: NewOrder frames per second from N loopback connections
// through the gateway into the input ring, drained by one consumer. Each
// connection writes b.N/N orders in 64 KiB batches (as a pipelining
// client does); the clock stops when the consumer has seen all of them.
func BenchmarkIngest(b *testing.B) {
	for _, conns := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) { benchIngest(b, conns) })
	}
}

func benchIngest(b *testing.B, conns int) {
	const size = 1 << 16
	slots, _ := disruptor.NewRing[input.Slot](size)
	seq, _ := disruptor.NewMultiProducer(size, disruptor.Adaptive)
	group := disruptor.NewGroup(seq, func(name string, err error) { b.Error(name, err) })
	var consumed sync.WaitGroup
	total := int64(b.N/conns) * int64(conns)
	consumed.Add(1)
	group.Add(disruptor.Consumer{Name: "count", Handler: func(lo, hi int64) error {
		if hi+1 == total {
			consumed.Done()
		}
		return nil
	}})
	if err := group.Start(); err != nil {
		b.Fatal(err)
	}
	defer group.Halt()
	accounts := make([]Account, conns)
	for i := range accounts {
		accounts[i] = Account{ID: uint32(i + 1), Secret: "s"}
	}
	g, err := New(Config{Listen: "127.0.0.1:0", Accounts: accounts, HeartbeatTimeout: time.Minute}, &ringPublisher{slots, seq})
	if err != nil {
		b.Fatal(err)
	}
	if err := g.Listen(); err != nil {
		b.Fatal(err)
	}
	go g.Serve()
	defer g.Close()

	// Each connection's orders, encoded once.
	per := b.N / conns
	enc := proto.NewEncoder()
	var batch []byte
	for i := 0; len(batch) < 64<<10; i++ {
		batch = append(batch, enc.NewOrder(uint64(i), order(uint64(i)))...)
	}
	frameLen := len(enc.NewOrder(1, order(1)))
	clients := make([]net.Conn, conns)
	for i := range clients {
		c, err := net.Dial("tcp", g.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		c.Write(enc.Logon(1, uint32(i+1), "s"))
		ack := make([]byte, 64)
		c.Read(ack)
		clients[i] = c
	}
	b.SetBytes(int64(frameLen))
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			perBatch := len(batch) / frameLen
			for left := per; left > 0; left -= perBatch {
				n := min(left, perBatch)
				if _, err := c.Write(batch[:n*frameLen]); err != nil {
					b.Error(err)
					return
				}
			}
		}(c)
	}
	wg.Wait()
	if total > 0 {
		consumed.Wait()
	}
	b.StopTimer()
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "msgs/s")
}
