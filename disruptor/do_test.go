package disruptor

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// Do runs its function on the processor's goroutine between batches: the
// function and the handler share state with no lock (the race detector
// would see two goroutines), and it runs while the processor is parked
// with nothing published as well as under a stream of slots.
func TestDoRunsOnTheProcessorsGoroutine(t *testing.T) {
	for _, ws := range []WaitStrategy{Adaptive, Yielding} {
		ring, seqr := newTestRing(t, 64, 1, ws)
		g := NewGroup(seqr, nil)
		var seen []int64 // the handler's and the tasks' only: no lock
		p := mustAdd(t, g, Consumer{Name: "stage", Handler: EventHandler(ring, func(_ int64, ev *testEvent, _ bool) error {
			seen = append(seen, ev.value)
			return nil
		})})
		mustStart(t, g)
		time.Sleep(20 * time.Millisecond) // parked: nothing published
		within(t, "Do on an idle processor", func() {
			if !p.Do(func() { seen = append(seen, -1) }) {
				t.Error("Do on a running processor returned false")
			}
		})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // tasks while slots stream in
			defer wg.Done()
			for range 50 {
				p.Do(func() { seen = append(seen, -2) })
			}
		}()
		for i := int64(1); i <= 2000; i++ {
			hi, _ := seqr.Next(1)
			ring.At(hi).value = i
			seqr.Publish(hi, hi)
		}
		wg.Wait()
		within(t, "Drain", func() {
			if err := g.Drain(); err != nil {
				t.Error(err)
			}
		})
		tasks, next := 0, int64(1)
		for _, v := range seen {
			switch {
			case v < 0:
				tasks++
			case v != next:
				t.Fatalf("%v: slot value %d where %d was due", ws, v, next)
			default:
				next++
			}
		}
		if tasks != 51 || next != 2001 {
			t.Fatalf("%v: %d tasks and %d slots ran, want 51 and 2000", ws, tasks, next-1)
		}
		if p.Do(func() { t.Error("a task ran on a drained processor") }) {
			t.Fatalf("%v: Do after Drain returned true", ws)
		}
	}
}

// A task that panics stops the pipeline like a handler panic, reported
// through the error handler; its Do returns false, and so do later ones.
func TestDoTaskPanic(t *testing.T) {
	_, seqr := newTestRing(t, 16, 1, Adaptive)
	reported := make(chan error, 1)
	g := NewGroup(seqr, func(_ string, err error) { reported <- err })
	p := mustAdd(t, g, Consumer{Name: "stage", Handler: nop})
	mustStart(t, g)
	within(t, "a panicking task", func() {
		if p.Do(func() { panic("boom") }) {
			t.Error("Do of a panicking task returned true")
		}
		// A task, not the batch before it ("panicked in batch 0…0"
		// named none that panicked).
		if err := <-reported; !errors.Is(err, ErrHandler) || !strings.Contains(err.Error(), "panicked in a task") {
			t.Errorf("reported %v, want ErrHandler naming a task", err)
		}
		if p.Do(func() {}) {
			t.Error("Do after the processor stopped returned true")
		}
	})
	g.Halt()
}
