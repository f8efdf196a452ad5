//go:build linux && !race

package disruptor

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

type page [4096]byte

// A ring's slots are mapped outside the Go heap: they do not count toward
// the heap (nor, so, toward the collector's heap goal).
func TestRingSlotsOffHeap(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r, err := NewRing[page](1 << 14) // 64 MiB
	if err != nil {
		t.Fatal(err)
	}
	r.At(5)[0] = 1
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapSys) - int64(before.HeapSys); grew >= r.Bytes()/2 {
		t.Fatalf("the heap grew by %d bytes for a ring of %d", grew, r.Bytes())
	}
	if r.At(5)[0] != 1 || r.At(5 + r.mask + 1)[0] != 1 {
		t.Fatal("slot not written through")
	}
	runtime.KeepAlive(r)
}

// The mapping goes when its Ring becomes unreachable: 64 rings of 64 MiB
// made and dropped leave the address space about where it was.
func TestRingMemoryReleased(t *testing.T) {
	start := vmSize(t)
	for range 64 {
		r, err := NewRing[page](1 << 14)
		if err != nil {
			t.Fatal(err)
		}
		r.At(0)[0] = 1
		runtime.GC()
	}
	const slack = 1 << 30 // the 64 rings are 4 GiB
	deadline := time.Now().Add(5 * time.Second)
	for vmSize(t) > start+slack {
		if time.Now().After(deadline) {
			t.Fatalf("address space %d bytes, %d before: dropped rings were not unmapped", vmSize(t), start)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// vmSize is the process's mapped address space in bytes.
func vmSize(t *testing.T) int64 {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmSize:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmSize in /proc/self/status")
	return 0
}
