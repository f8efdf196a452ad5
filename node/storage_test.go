package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/vfs"
)

// On a system whose filesystem cannot keep the vfs contract (vfs.Unsafe:
// Windows), New refuses with the reason before it makes or locks
// anything.
func TestNewRefusesUnsafeStorage(t *testing.T) {
	noDirSync := errors.New("no directory fsync")
	was := vfs.Unsafe
	vfs.Unsafe = noDirSync
	t.Cleanup(func() { vfs.Unsafe = was })
	dir := filepath.Join(t.TempDir(), "data")
	n, _, err := New(testConfig(t, dir), zerolog.Nop())
	if err == nil {
		n.Stop()
	}
	if !errors.Is(err, noDirSync) {
		t.Fatalf("New: %v, want the refusal", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the data directory was made before the refusal (%v)", err)
	}
}

// A filesystem that keeps the contract with weaker calls (vfs.Weaker:
// macOS, FreeBSD) starts with one warning saying what is weaker; Linux's
// starts silent.
func TestCheckStorageWarnsOnceOfWeakerCalls(t *testing.T) {
	for _, weaker := range []string{"", "no fallocate"} {
		var logs testkit.SyncBuffer
		if err := checkStorage(nil, weaker, zerolog.New(&logs)); err != nil {
			t.Fatalf("weaker %q: %v", weaker, err)
		}
		want := 0
		if weaker != "" {
			want = 1
		}
		if got := strings.Count(logs.String(), `"level":"warn"`); got != want || !strings.Contains(logs.String(), weaker) {
			t.Errorf("weaker %q: %d warnings, want %d saying it:\n%s", weaker, got, want, logs.String())
		}
	}
}
