package node

import (
	"fmt"
	"os"

	"github.com/ringex/ringex/vfs"
)

// lockDataDir refuses: nothing keeps a data directory on Windows, which
// cannot fsync a directory (vfs.Unsafe) — not a node, and not the tools
// that write into one (ringex journal cut, drop).
func lockDataDir(dir string) (*os.File, error) {
	return nil, fmt.Errorf("node: data directory %s: %w", dir, vfs.Unsafe)
}
