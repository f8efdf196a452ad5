package vfs

import "sync"

// Stall is an Observer for tests of a disk that stops answering: wrapped
// round an FS (Observed), once Hold is called every write and fsync it
// observes waits until Release, as on a disk whose controller hung.
type Stall struct {
	mu       sync.Mutex
	released chan struct{} // nil: not held
}

// Hold makes the writes and fsyncs from now on wait.
func (s *Stall) Hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released == nil {
		s.released = make(chan struct{})
	}
}

// Release lets the waiting writes and fsyncs, and every later one, go on.
func (s *Stall) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released != nil {
		close(s.released)
		s.released = nil
	}
}

// Begin waits while the stall is held.
func (s *Stall) Begin() uint64 {
	s.mu.Lock()
	released := s.released
	s.mu.Unlock()
	if released != nil {
		<-released
	}
	return 0
}

// End does nothing.
func (s *Stall) End(uint64) {}
