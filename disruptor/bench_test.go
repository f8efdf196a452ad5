package disruptor

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkThroughput moves int64 values from producers to a final
// consumer that checks their order, through a ring and, as the baseline in
// the same run, through buffered channels. One op is one value moved, for
// both: ratio = chan ns/op ÷ ring ns/op.
//
// The ring side uses the default Adaptive wait strategy and range
// handlers (a consumer takes the whole available range per barrier read).
// It reports slots/batch: the mean range a final-consumer handler call
// got.
//
//	go test ./disruptor -run '^$' -bench BenchmarkThroughput -benchmem -count 3
func BenchmarkThroughput(b *testing.B) {
	for _, sc := range []struct {
		name             string
		producers, batch int
	}{{"SPSC", 1, 1}, {"SPSC-batch16", 1, 16}, {"MPSC4", 4, 1}} {
		b.Run(sc.name+"/ring", func(b *testing.B) { benchRing(b, sc.producers, sc.batch, nil) })
		b.Run(sc.name+"/chan", func(b *testing.B) { benchChan(b, sc.producers, sc.batch) })
	}
	// The node's gateway claims with NextUnless (a leader's right to
	// claim ends with its lead): against MPSC4/ring, in the same run.
	var never atomic.Bool
	b.Run("MPSC4-unless/ring", func(b *testing.B) { benchRing(b, 4, 1, never.Load) })
	b.Run("Diamond/ring", benchDiamondRing)
	b.Run("Diamond/chan", benchDiamondChan)
}

// benchSize is the ring size and channel capacity.
const benchSize = 1 << 16

type benchSlot struct{ v int64 }

// produceShares reports allocations, resets the timer and runs producers
// goroutines, producer p moving its share n of b.N values in produce(p,
// n) (the first takes the remainder); it returns when all have.
func produceShares(b *testing.B, producers int, produce func(p, n int)) {
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := b.N / producers
			if p == 0 {
				n += b.N % producers
			}
			produce(p, n)
		}()
	}
	wg.Wait()
}

// Producer p sends i<<2 | p for i = 0, 1, …: the consumer checks that each
// producer's values arrive in order. Producers claim with Next, or with
// NextUnless asking refuse when it is not nil.
func benchRing(b *testing.B, producers, batch int, refuse func() bool) {
	ring, _ := NewRing[benchSlot](benchSize)
	var seqr Sequencer
	if producers == 1 {
		seqr, _ = NewSingleProducer(benchSize, Adaptive)
	} else {
		seqr, _ = NewMultiProducer(benchSize, Adaptive)
	}
	g := NewGroup(seqr, nil)
	last := [4]int64{-1, -1, -1, -1}
	var batches int64
	bad := ""
	if _, err := g.Add(Consumer{Name: "check", Handler: func(lo, hi int64) error {
		batches++
		for s := lo; s <= hi; s++ {
			v := ring.At(s).v
			if p := v & 3; v <= last[p] {
				bad = fmt.Sprintf("seq %d: %d after %d", s, v, last[p])
			} else {
				last[p] = v
			}
		}
		return nil
	}}); err != nil {
		b.Fatal(err)
	}
	if err := g.Start(); err != nil {
		b.Fatal(err)
	}
	produceShares(b, producers, func(p, n int) {
		for i := 0; i < n; {
			k := min(batch, n-i)
			var hi int64
			var err error
			if refuse != nil {
				hi, err = NextUnless(seqr, int64(k), refuse)
			} else {
				hi, err = seqr.Next(int64(k))
			}
			if err != nil {
				panic(err)
			}
			if k == 1 {
				ring.ForWrite(hi).v = int64(i)<<2 | int64(p)
				i++
			} else {
				first, second := ring.ForWriteRange(hi-int64(k)+1, hi)
				for j := range first {
					first[j].v = int64(i)<<2 | int64(p)
					i++
				}
				for j := range second {
					second[j].v = int64(i)<<2 | int64(p)
					i++
				}
			}
			seqr.Publish(hi-int64(k)+1, hi)
		}
	})
	if err := g.Drain(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if bad != "" {
		b.Fatal(bad)
	}
	b.ReportMetric(float64(b.N)/float64(max(batches, 1)), "slots/batch")
}

func benchChan(b *testing.B, producers, batch int) {
	ch := make(chan int64, benchSize)
	done := make(chan string)
	go func() {
		last := [4]int64{-1, -1, -1, -1}
		bad := ""
		for v := range ch {
			if p := v & 3; v <= last[p] {
				bad = fmt.Sprintf("%d after %d", v, last[p])
			} else {
				last[p] = v
			}
		}
		done <- bad
	}()
	produceShares(b, producers, func(p, n int) {
		for i := 0; i < n; {
			// A "claim" of batch values is batch sends.
			for k := min(batch, n-i); k > 0; k-- {
				ch <- int64(i)<<2 | int64(p)
				i++
			}
		}
	})
	close(ch)
	bad := <-done
	b.StopTimer()
	if bad != "" {
		b.Fatal(bad)
	}
}

// The exchange's shape: a decoder and two other stages in parallel (each
// checks order; the decoder writes a decoded field into the slot), then a
// final stage gated on all three that checks order and the decoded field.
func benchDiamondRing(b *testing.B) {
	type slot struct{ v, decoded int64 }
	ring, _ := NewRing[slot](benchSize)
	seqr, _ := NewSingleProducer(benchSize, Adaptive)
	g := NewGroup(seqr, nil)
	var ups []*Processor
	var bad [4]string
	for i := range 3 {
		last := int64(-1)
		p, err := g.Add(Consumer{Name: fmt.Sprint("up", i), Handler: func(lo, hi int64) error {
			for s := lo; s <= hi; s++ {
				sl := ring.At(s)
				if sl.v != last+1 {
					bad[i] = fmt.Sprintf("up%d: %d after %d", i, sl.v, last)
				}
				last = sl.v
				if i == 0 {
					sl.decoded = sl.v * 2
				}
			}
			return nil
		}})
		if err != nil {
			b.Fatal(err)
		}
		ups = append(ups, p)
	}
	last, batches := int64(-1), int64(0)
	if _, err := g.Add(Consumer{Name: "join", After: ups, Handler: func(lo, hi int64) error {
		batches++
		for s := lo; s <= hi; s++ {
			sl := ring.At(s)
			if sl.v != last+1 || sl.decoded != sl.v*2 {
				bad[3] = fmt.Sprintf("join: %d (decoded %d) after %d", sl.v, sl.decoded, last)
			}
			last = sl.v
		}
		return nil
	}}); err != nil {
		b.Fatal(err)
	}
	if err := g.Start(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		hi, err := seqr.Next(1)
		if err != nil {
			b.Fatal(err)
		}
		ring.ForWrite(hi).v = int64(i)
		seqr.Publish(hi, hi)
	}
	if err := g.Drain(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	for _, s := range bad {
		if s != "" {
			b.Fatal(s)
		}
	}
	b.ReportMetric(float64(b.N)/float64(max(batches, 1)), "slots/batch")
}

func benchDiamondChan(b *testing.B) {
	var in, out [3]chan int64
	for i := range 3 {
		in[i], out[i] = make(chan int64, benchSize), make(chan int64, benchSize)
		go func() {
			last := int64(-1)
			for v := range in[i] {
				if v != last+1 {
					panic(fmt.Sprintf("up%d: %d after %d", i, v, last))
				}
				last = v
				if i == 0 {
					v *= 2 // the decoder
				}
				out[i] <- v
			}
			close(out[i])
		}()
	}
	done := make(chan string)
	go func() {
		last, bad := int64(-1), ""
		for d := range out[0] {
			v1, v2 := <-out[1], <-out[2]
			if v1 != last+1 || v2 != v1 || d != 2*v1 {
				bad = fmt.Sprintf("join: %d %d %d after %d", d, v1, v2, last)
			}
			last = v1
		}
		done <- bad
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range in {
			in[j] <- int64(i)
		}
	}
	for j := range in {
		close(in[j])
	}
	bad := <-done
	b.StopTimer()
	if bad != "" {
		b.Fatal(bad)
	}
}

// BenchmarkPublishedFullRing is Published on a multi-producer ring whose
// consumer has taken nothing of a full ring — an engine lagging by a ring:
// what a follower's delivery, a logon and a scrape of the lag gauges read.
// Each call scanned every slot's mark from the consumer up (1 M slots:
// ~1 ms); it scans only what was published since the last call.
func BenchmarkPublishedFullRing(b *testing.B) {
	const size = 1 << 20
	p, err := NewMultiProducer(size, Adaptive)
	if err != nil {
		b.Fatal(err)
	}
	p.AddGating(NewSequence(0))
	hi, err := p.TryNext(size)
	if err != nil {
		b.Fatal(err)
	}
	p.Publish(0, hi)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if got := p.Published(); got != hi {
			b.Fatalf("Published = %d, want %d", got, hi)
		}
	}
}
