package asynclog

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a destination the test can read while the writer writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Close loses nothing accepted before it, even while other goroutines are
// in the middle of writing: the last line before Close is always there
// (zerolog's diode lost it when a concurrent write was half done).
func TestCloseKeepsEveryAcceptedLine(t *testing.T) {
	for round := 0; round < 300; round++ {
		var dst lockedBuffer
		w := New(&dst, 1<<16)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 4000; i++ { // 4 × 4000 + 51 lines: never above the limit
					select {
					case <-stop:
						return
					default:
					}
					fmt.Fprintf(w, "noise %d %d\n", g, i)
				}
			}()
		}
		for i := 0; i < 50; i++ {
			fmt.Fprintf(w, "main %d\n", i)
		}
		fmt.Fprintf(w, "stopped %d\n", round)
		w.Close()
		close(stop)
		wg.Wait()
		out := dst.String()
		for i := 0; i < 50; i++ {
			if !strings.Contains(out, fmt.Sprintf("main %d\n", i)) {
				t.Fatalf("round %d: line %d lost", round, i)
			}
		}
		if !strings.Contains(out, fmt.Sprintf("stopped %d\n", round)) {
			t.Fatalf("round %d: the last line before Close lost", round)
		}
	}
}

// One goroutine's lines keep their order.
func TestOrder(t *testing.T) {
	var dst lockedBuffer
	w := New(&dst, 1<<16)
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(w, "%d\n", i)
	}
	w.Close()
	lines := strings.Split(strings.TrimSpace(dst.String()), "\n")
	for i, l := range lines {
		if l != fmt.Sprint(i) {
			t.Fatalf("line %d is %q", i, l)
		}
	}
	if len(lines) != 10000 {
		t.Fatalf("%d lines", len(lines))
	}
}

// blocked is a destination that does not return until released: a stuck
// terminal or log shipper.
type blocked struct {
	release chan struct{}
	lockedBuffer
}

func (b *blocked) Write(p []byte) (int, error) {
	<-b.release
	return b.lockedBuffer.Write(p)
}

// A stuck destination never stalls the goroutine logging: beyond the
// limit lines are dropped and counted, and the count is reported once the
// destination moves again. Lines written after Close go straight out.
func TestFullBufferDropsAndReports(t *testing.T) {
	dst := &blocked{release: make(chan struct{})}
	w := New(dst, 10)
	start := time.Now()
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(w, "line %d\n", i)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("1000 writes to a stuck destination took %v", took)
	}
	close(dst.release)
	w.Close()
	out := dst.String()
	if !strings.Contains(out, `"dropped_lines":`) || !strings.Contains(out, "line 0\n") {
		t.Fatalf("no drop report or no first line:\n%.300s", out)
	}
	if n := strings.Count(out, "line "); n > 20 || n < 10 {
		t.Fatalf("%d lines written with room for 10 waiting (and a batch of at most 10 being written)", n)
	}
	fmt.Fprintf(w, "after close\n")
	if !strings.Contains(dst.String(), "after close\n") {
		t.Fatal("a line after Close was lost")
	}
}
