package vfs

import (
	"sync"
	"time"
)

// Pending times the disk operations under way, so a disk that stopped
// answering can be told from one that is slow: a write or fsync that
// never returns records no latency, and a latency histogram never shows
// it. Oldest is the age of the oldest operation begun and not ended.
// Safe for concurrent use; Begin and End cost a lock each, once per
// write or fsync (per journal batch or raft log write, not per input).
type Pending struct {
	mu     sync.Mutex
	next   uint64
	starts map[uint64]time.Time
}

// Begin records an operation's start; End(id) its end.
func (p *Pending) Begin() (id uint64) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.starts == nil {
		p.starts = map[uint64]time.Time{}
	}
	p.next++
	p.starts[p.next] = now
	return p.next
}

// BeginAllowing is Begin for an operation whose duration grows with
// the data it carries (an fsync of a file written through a buffer at
// once): it is counted as under way only once allowance has passed, so
// Oldest tells a disk that stopped from one flushing a large file at an
// honest pace.
func (p *Pending) BeginAllowing(allowance time.Duration) (id uint64) {
	id = p.Begin()
	p.mu.Lock()
	p.starts[id] = p.starts[id].Add(allowance)
	p.mu.Unlock()
	return id
}

// End records the end of the operation Begin numbered id.
func (p *Pending) End(id uint64) {
	p.mu.Lock()
	delete(p.starts, id)
	p.mu.Unlock()
}

// Oldest is how long the oldest operation under way has run (0: none).
func (p *Pending) Oldest() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var oldest time.Duration
	for _, start := range p.starts {
		oldest = max(oldest, time.Since(start))
	}
	return oldest
}

// Observer is told of each write, fsync and write-back Observed wraps:
// Begin before it starts, End(Begin's id) once it returned. Pending
// times them; Stall holds them.
type Observer interface {
	Begin() (id uint64)
	End(id uint64)
}

// Observed wraps fs so that o sees its writes, fsyncs and write-backs
// (WriteAt, Sync, WriteOut, Preallocate, SyncDir): what waits on the
// disk. Reads and metadata calls are not observed.
func Observed(fs FS, o Observer) FS { return &observedFS{FS: fs, o: o} }

type observedFS struct {
	FS
	o Observer
}

func (t *observedFS) wrap(f File, err error) (File, error) {
	if err != nil {
		return nil, err
	}
	return observedFile{File: f, o: t.o}, nil
}

func (t *observedFS) Create(name string) (File, error) { return t.wrap(t.FS.Create(name)) }

func (t *observedFS) OpenReadWrite(name string) (File, error) {
	return t.wrap(t.FS.OpenReadWrite(name))
}

func (t *observedFS) SyncDir(dir string) error {
	defer t.o.End(t.o.Begin())
	return t.FS.SyncDir(dir)
}

type observedFile struct {
	File
	o Observer
}

func (f observedFile) WriteAt(b []byte, off int64) (int, error) {
	defer f.o.End(f.o.Begin())
	return f.File.WriteAt(b, off)
}

func (f observedFile) Sync() error {
	defer f.o.End(f.o.Begin())
	return f.File.Sync()
}

func (f observedFile) WriteOut(off, n int64) error {
	defer f.o.End(f.o.Begin())
	return f.File.WriteOut(off, n)
}

func (f observedFile) Preallocate(size int64) error {
	defer f.o.End(f.o.Begin())
	return f.File.Preallocate(size)
}
