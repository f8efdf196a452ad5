package vfs

import (
	"path/filepath"
	"slices"
	"sync"
)

// SyncTracker wraps an FS and remembers which files were written to since
// their last Sync: tests use it to check what a component left undurable.
// Files are known by the base name they were created or opened by (a
// renamed file keeps it); a removed file is forgotten.
type SyncTracker struct {
	FS
	mu    sync.Mutex
	dirty map[string]bool
}

// NewSyncTracker wraps fs.
func NewSyncTracker(fs FS) *SyncTracker { return &SyncTracker{FS: fs, dirty: map[string]bool{}} }

// Unsynced lists the files written to and not synced since, sorted.
func (s *SyncTracker) Unsynced() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for n, d := range s.dirty {
		if d {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

func (s *SyncTracker) set(name string, dirty bool) {
	s.mu.Lock()
	s.dirty[name] = dirty
	s.mu.Unlock()
}

func (s *SyncTracker) wrap(name string, f File, err error) (File, error) {
	if err != nil {
		return nil, err
	}
	return &trackedFile{File: f, s: s, name: filepath.Base(name)}, nil
}

func (s *SyncTracker) Create(name string) (File, error) {
	f, err := s.FS.Create(name)
	return s.wrap(name, f, err)
}

func (s *SyncTracker) OpenReadWrite(name string) (File, error) {
	f, err := s.FS.OpenReadWrite(name)
	return s.wrap(name, f, err)
}

func (s *SyncTracker) Remove(name string) error {
	s.mu.Lock()
	delete(s.dirty, filepath.Base(name))
	s.mu.Unlock()
	return s.FS.Remove(name)
}

type trackedFile struct {
	File
	s    *SyncTracker
	name string
}

func (f *trackedFile) WriteAt(p []byte, off int64) (int, error) {
	f.s.set(f.name, true)
	return f.File.WriteAt(p, off)
}

func (f *trackedFile) Sync() error {
	err := f.File.Sync()
	if err == nil {
		f.s.set(f.name, false)
	}
	return err
}
