package disruptor

import (
	"fmt"
	"sync"
	"testing"
)

// One op = one int64 moved from a producer to the final consumer, which
// checks order. ring and chan run in the same process and run, so their
// ratio is the claim.

type slot struct{ v int64 }

const benchRing = 1 << 16

func BenchmarkThroughput(b *testing.B) {
	b.Run("SPSC/ring", func(b *testing.B) { benchRing1(b, 1, 1) })
	b.Run("SPSC/chan", func(b *testing.B) { benchChan1(b, 1, 1) })
	b.Run("SPSC-batch16/ring", func(b *testing.B) { benchRing1(b, 1, 16) })
	b.Run("SPSC-batch16/chan", func(b *testing.B) { benchChan1(b, 1, 16) })
	b.Run("MPSC4/ring", func(b *testing.B) { benchRing1(b, 4, 1) })
	b.Run("MPSC4/chan", func(b *testing.B) { benchChan1(b, 4, 1) })
	b.Run("Diamond/ring", benchDiamondRing)
	b.Run("Diamond/chan", benchDiamondChan)
}

// Each producer sends its own increasing values v*producers+p, so the
// consumer can check per-producer order.
func benchRing1(b *testing.B, producers int, batch int64) {
	ring, _ := NewRing[slot](benchRing)
	var seqr Sequencer
	if producers == 1 {
		seqr, _ = NewSingleProducer(benchRing, Adaptive)
	} else {
		seqr, _ = NewMultiProducer(benchRing, Adaptive)
	}
	g := NewGroup(seqr, nil)
	last := make([]int64, producers)
	for i := range last {
		last[i] = -1
	}
	bad := false
	g.Add("check", EventHandler(ring, func(_ int64, s *slot, _ bool) {
		p := s.v % int64(producers)
		if s.v <= last[p] {
			bad = true
		}
		last[p] = s.v
	}), 0)
	g.Start()
	per := int64(b.N / producers)
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int64) {
			defer wg.Done()
			for i := int64(0); i < per; {
				n := min(batch, per-i)
				hi, err := seqr.Next(n)
				if err != nil {
					panic(err)
				}
				for s := hi - n + 1; s <= hi; s++ {
					ring.At(s).v = i*int64(producers) + p
					i++
				}
				seqr.Publish(hi-n+1, hi)
			}
		}(int64(p))
	}
	wg.Wait()
	if err := g.Drain(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if bad {
		b.Fatal("out of order")
	}
}

func benchChan1(b *testing.B, producers int, batch int64) {
	ch := make(chan int64, 1024)
	done := make(chan bool)
	go func() {
		last := make([]int64, producers)
		for i := range last {
			last[i] = -1
		}
		bad := false
		for v := range ch {
			p := v % int64(producers)
			if v <= last[p] {
				bad = true
			}
			last[p] = v
		}
		done <- bad
	}()
	per := int64(b.N / producers)
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int64) {
			defer wg.Done()
			for i := int64(0); i < per; i += batch {
				for j := int64(0); j < batch && i+j < per; j++ {
					ch <- (i+j)*int64(producers) + p
				}
			}
		}(int64(p))
	}
	wg.Wait()
	close(ch)
	bad := <-done
	b.StopTimer()
	if bad {
		b.Fatal("out of order")
	}
}

func benchDiamondRing(b *testing.B) {
	type dslot struct {
		v     int64
		marks [3]int64
	}
	ring, _ := NewRing[dslot](benchRing)
	seqr, _ := NewSingleProducer(benchRing, Adaptive)
	g := NewGroup(seqr, nil)
	var ups []*Processor
	for i := 0; i < 3; i++ {
		ups = append(ups, g.Add(fmt.Sprint("up", i), EventHandler(ring, func(_ int64, s *dslot, _ bool) {
			s.marks[i] = s.v
		}), 0))
	}
	last, bad := int64(-1), false
	g.Add("join", EventHandler(ring, func(_ int64, s *dslot, _ bool) {
		if s.v != last+1 || s.marks != [3]int64{s.v, s.v, s.v} {
			bad = true
		}
		last = s.v
	}), 0, ups...)
	g.Start()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		hi, err := seqr.Next(1)
		if err != nil {
			b.Fatal(err)
		}
		ring.At(hi).v = int64(i)
		seqr.Publish(hi, hi)
	}
	if err := g.Drain(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if bad {
		b.Fatal("diamond order broken")
	}
}

func benchDiamondChan(b *testing.B) {
	in := [3]chan int64{make(chan int64, 1024), make(chan int64, 1024), make(chan int64, 1024)}
	out := [3]chan int64{make(chan int64, 1024), make(chan int64, 1024), make(chan int64, 1024)}
	for i := 0; i < 3; i++ {
		go func(i int) {
			for v := range in[i] {
				out[i] <- v
			}
			close(out[i])
		}(i)
	}
	done := make(chan bool)
	go func() {
		last, bad := int64(-1), false
		for {
			a, ok := <-out[0]
			if !ok {
				break
			}
			b, c := <-out[1], <-out[2]
			if a != last+1 || b != a || c != a {
				bad = true
			}
			last = a
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
	if bad {
		b.Fatal("diamond order broken")
	}
}
