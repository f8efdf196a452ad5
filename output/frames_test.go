package output

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"testing"
	"time"
)

// frames against a plain byte slice on random adds, takes and prepends:
// the same bytes in the same order, n always their count, and no tail
// grown past a chunk by small frames.
func TestFramesMatchAByteSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var pending, staged frames
	var wantPending, wantStaged []byte
	next := byte(0)
	frame := func(size int) []byte {
		b := make([]byte, size)
		for i := range b {
			b[i] = next
			next++
		}
		return b
	}
	flat := func(f *frames) []byte {
		var b []byte
		for _, c := range f.chunks {
			b = append(b, c...)
		}
		return append(b, f.tail...)
	}
	for op := range 100_000 {
		switch k := rng.IntN(100); {
		case k < 60: // staged, as StageAppend does
			b := frame(1 + rng.IntN(300))
			staged.sealFor(stageRoom)
			staged.tail = append(staged.tail, b...)
			staged.n += len(b)
			wantStaged = append(wantStaged, b...)
		case k < 80:
			b := frame(1 + rng.IntN(300))
			pending.add(b)
			wantPending = append(wantPending, b...)
		case k < 95:
			pending.take(&staged)
			wantPending, wantStaged = append(wantPending, wantStaged...), wantStaged[:0]
		case k < 96:
			b := frame(1 + rng.IntN(300))
			pending.prepend(b)
			wantPending = append(append([]byte(nil), b...), wantPending...)
		default: // the writer takes everything
			if !bytes.Equal(flat(&pending), wantPending) {
				t.Fatalf("op %d: pending differs", op)
			}
			pending.reset()
			wantPending = wantPending[:0]
		}
		for _, f := range []*frames{&pending, &staged} {
			if got := len(flat(f)); got != f.n {
				t.Fatalf("op %d: n %d, holds %d bytes", op, f.n, got)
			}
			if len(f.tail) > chunkSize {
				t.Fatalf("op %d: a tail of %d bytes", op, len(f.tail))
			}
		}
	}
	if !bytes.Equal(flat(&pending), wantPending) || !bytes.Equal(flat(&staged), wantStaged) {
		t.Fatal("the frames differ at the end")
	}
}

// A burst — a mass cancel's 100 000 reports, 15 MB staged in one batch
// while frames wait — is staged in chunks and linked after what is
// pending: it allocates about its size once. It was appended to one
// buffer grown ~1.25× at a time (~5× its size in fresh allocations, each
// faulted in: 0.1–0.4 s of the execution sender's time on the dev VM
// while every other session's reports waited), then copied after the
// pending bytes. The client reads every frame, whole and in order, and
// the budget gets back every byte.
func TestOutboxStagesABurstInChunks(t *testing.T) {
	server, client := net.Pipe() // unbuffered: the writer waits for the reader
	budget := NewBudget(1<<30, 1<<20)
	o := NewOutbox(server, 16<<20, 0, nil)
	defer o.Close()
	o.UseBudget(budget)
	const reports, size = 100_000, 152
	seq := uint64(0)
	build := func(staged []byte) []byte {
		seq++
		var f [size]byte
		binary.LittleEndian.PutUint64(f[:], seq)
		return append(staged, f[:]...)
	}
	for i := range 2 { // the first is being written (blocked), the second pending
		o.StageAppend(0, build)
		if err := o.Commit(0); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			awaitWriterTook(t, o)
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range reports {
		if _, _, err := o.StageAppend(0, build); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Commit(0); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	burst := uint64(reports * size)
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > burst+burst/4 {
		t.Errorf("a %d-byte burst allocated %d bytes (%.1f×)", burst, allocated, float64(allocated)/float64(burst))
	}

	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	var f [size]byte
	for want := uint64(1); want <= seq; want++ {
		if _, err := io.ReadFull(client, f[:]); err != nil {
			t.Fatalf("report %d: %v", want, err)
		}
		if got := binary.LittleEndian.Uint64(f[:]); got != want {
			t.Fatalf("read report %d where %d was due", got, want)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for budget.Used() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the budget still counts %d bytes once all were read", budget.Used())
		}
		time.Sleep(time.Millisecond)
	}
}
