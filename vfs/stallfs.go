package vfs

import "sync"

// StallFS wraps an FS for tests of a disk that stops answering: once
// Stall is called, every write and fsync (WriteAt, Sync, WriteOut,
// SyncDir) waits until Resume, as on a disk whose controller hung.
type StallFS struct {
	FS
	mu      sync.Mutex
	resumed chan struct{} // nil: not stalled
}

// Stall makes the writes and fsyncs from now on wait.
func (s *StallFS) Stall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resumed == nil {
		s.resumed = make(chan struct{})
	}
}

// Resume lets the waiting writes and fsyncs, and every later one, go on.
func (s *StallFS) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resumed != nil {
		close(s.resumed)
		s.resumed = nil
	}
}

func (s *StallFS) wait() {
	s.mu.Lock()
	resumed := s.resumed
	s.mu.Unlock()
	if resumed != nil {
		<-resumed
	}
}

func (s *StallFS) wrap(f File, err error) (File, error) {
	if err != nil {
		return nil, err
	}
	return stallFile{File: f, fs: s}, nil
}

func (s *StallFS) Create(name string) (File, error) { return s.wrap(s.FS.Create(name)) }

func (s *StallFS) OpenReadWrite(name string) (File, error) { return s.wrap(s.FS.OpenReadWrite(name)) }

func (s *StallFS) SyncDir(dir string) error {
	s.wait()
	return s.FS.SyncDir(dir)
}

type stallFile struct {
	File
	fs *StallFS
}

func (f stallFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.wait()
	return f.File.WriteAt(p, off)
}

func (f stallFile) Sync() error {
	f.fs.wait()
	return f.File.Sync()
}

func (f stallFile) WriteOut(off, n int64) error {
	f.fs.wait()
	return f.File.WriteOut(off, n)
}
