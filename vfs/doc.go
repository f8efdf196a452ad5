// Package vfs is the small filesystem interface the journal and snapshot
// code do all their file operations through, so tests can inject write
// errors, fsync errors, short writes and a full disk (in the manner of
// pebble's vfs/errorfs).
//
// Contract: File.Sync makes the file's data durable (fdatasync on Linux);
// FS.SyncDir makes a directory's entries (creations, renames, removals)
// durable. Callers treat any error from either as fatal.
//
// The node runs on Linux (osfile_linux.go). Elsewhere Default keeps the
// contract with fsync and does without Linux's sync_file_range,
// fallocate and fadvise (osfile_other.go: Weaker says what that costs),
// except on Windows, which cannot fsync a directory: SyncDir fails there
// and Unsafe says so (syncdir_windows.go).
//
// Files are created FileMode (0600) and directories DirMode (0700): the
// journal holds every account's orders and the snapshots every resting
// order, so no other local user may read them or list where they are
// (the process umask can only take more away).
package vfs
