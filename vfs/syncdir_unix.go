//go:build !windows

package vfs

import (
	"os"
	"path/filepath"
)

// Directories are fsynced here: nothing the contract says is lost.
var dirSyncErr error

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
