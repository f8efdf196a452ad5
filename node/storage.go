package node

import (
	"fmt"
	"runtime"

	"github.com/rs/zerolog"
)

// checkStorage decides whether a node may keep its journal, snapshots
// and raft state on this system's filesystem, given what vfs says of it:
// unsafe (vfs.Unsafe) when it cannot keep the vfs contract, weaker
// (vfs.Weaker) when it keeps it with weaker calls than Linux's.
//
// Unsafe refuses the start: the node would acknowledge inputs that a
// crash could lose (durable before visible, broken), and a warning is no
// answer to that — a log line goes unread, a refused start does not.
// Weaker starts, with a warning logged once, at the start: the data is
// as durable as on Linux, only written more slowly or with a full disk
// found later, which suits a developer's machine.
func checkStorage(unsafe error, weaker string, log zerolog.Logger) error {
	if unsafe != nil {
		return fmt.Errorf("node: refusing to keep data on %s: %w", runtime.GOOS, unsafe)
	}
	if weaker != "" {
		log.Warn().Str("os", runtime.GOOS).Str("weaker", weaker).
			Msg("node: the journal and snapshots are durable on this system, but written with weaker calls than on Linux, where ringex is deployed")
	}
	return nil
}
