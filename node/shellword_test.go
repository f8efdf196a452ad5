package node

import (
	"os/exec"
	"testing"
)

// The uncut command a refused start names is pasted into a shell: a
// kept file's path comes out of it as the one word it was, whatever it
// holds.
func TestShellWordIsOneWord(t *testing.T) {
	for _, path := range []string{
		"/var/lib/ringex/journal/00000001.seg.cut-42",
		"/data/my exchange/journal/x.cut",
		"/data/it's/x.cut",
		`/data/$HOME/"x"/\n;rm -rf x`,
		"",
	} {
		w := shellWord(path)
		out, err := exec.Command("sh", "-c", "printf %s "+w).Output()
		if err != nil {
			t.Fatalf("%q as %s: %v", path, w, err)
		}
		if string(out) != path {
			t.Errorf("%q as %s reads back %q", path, w, out)
		}
	}
	if w := shellWord("/plain/path-1.cut"); w != "/plain/path-1.cut" {
		t.Errorf("a plain path is quoted: %s", w)
	}
}
