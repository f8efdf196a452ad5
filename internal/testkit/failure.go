package testkit

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// fatalTB stands in for the testing.TB a helper fails: Fatal and Fatalf
// record the message and end the goroutine, as the real ones do; the
// rest is the test's own.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatal(args ...any) { f.fail(fmt.Sprint(args...)) }

func (f *fatalTB) Fatalf(format string, args ...any) { f.fail(fmt.Sprintf(format, args...)) }

func (f *fatalTB) fail(msg string) {
	f.mu.Lock()
	f.msg = msg
	f.mu.Unlock()
	runtime.Goexit()
}

// FailureOf runs f on a goroutine with a testing.TB whose Fatal and
// Fatalf record the message and end that goroutine, and returns the
// message ("" if f returned without failing): a test of a helper reads
// what the helper fails with. It fails t if f has not ended within wait.
func FailureOf(t testing.TB, wait time.Duration, f func(tb testing.TB)) string {
	t.Helper()
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(tb)
	}()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatalf("the helper under test still runs after %v", wait)
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.msg
}
