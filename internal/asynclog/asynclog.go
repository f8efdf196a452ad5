// Package asynclog is the node's log destination: a writer that never
// makes the goroutine logging wait for the terminal, a file or a log
// shipper, and that loses nothing it accepted when it is closed.
//
// Contract:
//
//  1. Write copies the line and returns at once; one goroutine writes the
//     lines to the destination in order.
//  2. At most limit lines wait, besides the batch being written; beyond
//     them lines are dropped, and the drop is reported before the next
//     lines written (a JSON warning).
//  3. Close writes every line accepted before it, then returns; a line
//     written after Close goes straight to the destination.
//
// It replaces zerolog's diode, whose reader, closed while another
// goroutine was between claiming a slot and filling it, stopped at the
// empty slot and dropped every line after it — the node's last line
// ("stopped", with the final state hash) went missing that way.
package asynclog

import (
	"fmt"
	"io"
	"sync"
)

// Writer is an asynchronous, bounded line writer. Safe for concurrent use.
type Writer struct {
	w     io.Writer
	limit int
	wake  chan struct{}
	done  chan struct{}

	mu      sync.Mutex
	pending [][]byte // accepted, not yet written (guarded by mu)
	spare   [][]byte // the writer's last batch, for reuse
	dropped int
	closed  bool
}

// New starts a Writer to w holding at most limit waiting lines (besides
// the batch it is writing).
func New(w io.Writer, limit int) *Writer {
	a := &Writer{w: w, limit: limit, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go a.run()
	return a
}

// Write accepts one line (zerolog writes one event per call).
func (a *Writer) Write(p []byte) (int, error) {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return a.w.Write(p)
	}
	if len(a.pending) >= a.limit {
		a.dropped++
		a.mu.Unlock()
		return len(p), nil
	}
	a.pending = append(a.pending, append([]byte(nil), p...))
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// Close writes what was accepted and stops the writing goroutine.
func (a *Writer) Close() error {
	a.mu.Lock()
	already := a.closed
	a.closed = true
	a.mu.Unlock()
	if !already {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
	<-a.done
	return nil
}

func (a *Writer) run() {
	defer close(a.done)
	for range a.wake {
		for {
			a.mu.Lock()
			batch, dropped, closed := a.pending, a.dropped, a.closed
			a.pending, a.spare, a.dropped = a.spare[:0], nil, 0
			a.mu.Unlock()
			if dropped > 0 {
				fmt.Fprintf(a.w, "{\"level\":\"warn\",\"dropped_lines\":%d,\"message\":\"log buffer full: lines dropped\"}\n", dropped)
			}
			for _, line := range batch {
				a.w.Write(line)
			}
			if len(batch) == 0 && dropped == 0 {
				if closed {
					return
				}
				break
			}
			a.mu.Lock()
			if a.spare == nil {
				clear(batch)
				a.spare = batch[:0]
			}
			a.mu.Unlock()
		}
	}
}
