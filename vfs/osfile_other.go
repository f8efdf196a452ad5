//go:build !linux

package vfs

// Elsewhere than on Linux, Default keeps the contract (Sync makes the
// data durable or fails) with the calls every system has, and does less
// of the rest; weaker says what, for the node to log.
const weaker = "fsync, not fdatasync, per journal batch (the file's " +
	"metadata too: slower; on macOS F_FULLFSYNC, which also flushes the " +
	"drive's cache); no sync_file_range write-out (each fsync writes its " +
	"whole batch at once); no fallocate (segments are sparse: a full disk " +
	"stops the node at a write, not when a segment is made ahead); no " +
	"fadvise (written journal pages stay in the page cache until the " +
	"system evicts them)"

// Sync is fsync (os.File.Sync: F_FULLFSYNC on macOS, FlushFileBuffers on
// Windows): fdatasync is Linux's and not every system's, and fsync
// flushes all it would and the file's metadata too.
func (f osFile) Sync() error { return f.File.Sync() }

// WriteOut does nothing: there is no sync_file_range, and Sync flushes
// every dirty byte it would have written.
func (f osFile) WriteOut(off, n int64) error { return nil }

// Preallocate extends the file to size, sparse: it reads as zeros, as
// the contract says, but no blocks are reserved, so a full disk is an
// error of a later write (fatal, as every write error is) instead of
// this call's.
func (f osFile) Preallocate(size int64) error { return f.File.Truncate(size) }

// DropCache does nothing: a hint the system has no call for.
func (f osFile) DropCache(off, n int64) {}
