package vfs

import (
	"path/filepath"
	"sync"
)

// ReadCounter wraps an FS and counts the bytes read (ReadAt) from the
// files it opens read-only (Open): tests use it to check how much of a
// file a component reads. Files are known by their base name; files
// opened read-write are not counted.
type ReadCounter struct {
	FS
	mu    sync.Mutex
	read  map[string]int64 // under mu
	total int64            // under mu: the sum of read
}

// NewReadCounter wraps fs.
func NewReadCounter(fs FS) *ReadCounter { return &ReadCounter{FS: fs, read: map[string]int64{}} }

// Read is the number of bytes read from the files named name (a base
// name) since the counter was made or last Reset.
func (c *ReadCounter) Read(name string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.read[name]
}

// Total is the number of bytes read from every file since the counter
// was made or last Reset.
func (c *ReadCounter) Total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// Reset starts every count again from 0.
func (c *ReadCounter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.read)
	c.total = 0
}

func (c *ReadCounter) Open(name string) (File, error) {
	f, err := c.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return countedFile{File: f, c: c, name: filepath.Base(name)}, nil
}

type countedFile struct {
	File
	c    *ReadCounter
	name string
}

func (f countedFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	f.c.mu.Lock()
	f.c.read[f.name] += int64(n)
	f.c.total += int64(n)
	f.c.mu.Unlock()
	return n, err
}
