package journal

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/ringex/ringex/vfs"
)

// spareName is the file the next segment is written ahead in, before it
// gets its name. listSegments does not match it: recovery, replay and
// retention never see it.
const spareName = "next.spare"

// spareChunk is how much of a spare one write zeroes and one fdatasync
// makes durable, so its writeback goes out in pieces instead of bursts the
// journaller's own fdatasync would queue behind (every 8 MiB: p99 at
// 100 k orders/s 12-14 ms; every 1 MiB: 8-10, as without a spare).
const spareChunk = 1 << 20

// spareMinLife is how long a segment must have lasted for the journal to
// write the next one ahead. At `ringex bench --rate 0` a 64 MiB segment
// fills in under a second, and writing ahead cost 10-19 % of the node's
// throughput (the zeros go through the page cache, the same CPU and disk
// the journal needs); at 100 k orders/s one lasts ~6 s.
const spareMinLife = 2 * time.Second

var errSpareStopped = errors.New("journal: spare preparation stopped")

// spare is a segment file being written ahead in the background.
//
// Why: an fdatasync after appending to a preallocated (fallocated)
// extent also writes the metadata that marks the extent written; after
// overwriting blocks written before, it writes only the data. Measured on
// the 2-core dev machine's disk (ext4, 4 KiB appends): fdatasync p50
// 449 µs into a fallocated file, 313–321 µs into a written one.
//
// The zeros are written through the page cache. Written with O_DIRECT
// they cost less CPU but gained nothing: the blocks, written and not
// cached, must be read back before a write can fill part of a page.
type spare struct {
	stop atomic.Bool
	done chan struct{} // closed when the preparation has ended
	err  error         // its outcome, set before done is closed
}

// prepareSpare starts writing the next segment ahead, unless one is
// already in preparation or ready. Called with j.mu held.
func (j *Journal) prepareSpare() {
	if !j.opts.PrepareSegments {
		// One left by a run with the option on: a segment's worth of disk.
		_ = j.opts.FS.Remove(filepath.Join(j.dir, spareName))
		return
	}
	if j.spare != nil {
		return
	}
	sp := &spare{done: make(chan struct{})}
	j.spare = sp
	fs, path, size, report := j.opts.FS, filepath.Join(j.dir, spareName), j.opts.SegmentBytes, j.opts.OnSpareError
	go func() {
		defer close(sp.done)
		sp.err = writeSpare(fs, path, size, &sp.stop)
		if sp.err == nil || errors.Is(sp.err, errSpareStopped) {
			return // stopSpare removes a stopped one
		}
		// Now, not at the roll: on a full disk the part written holds
		// the last free space until then. No other spare can be started
		// before this one is taken (j.spare), so the path is still ours.
		_ = fs.Remove(path)
		if report != nil {
			report(fmt.Errorf("journal: writing the next segment ahead: %w", sp.err))
		}
	}()
}

// writeSpare writes size zero bytes to a new file at path and makes them
// durable. A file left at path (by a crash, or a preparation stopped by
// Close) is replaced, never reused: its content is unknown.
func writeSpare(fs vfs.FS, path string, size int64, stop *atomic.Bool) error {
	_ = fs.Remove(path) // usually there is none
	f, err := fs.Create(path)
	if err != nil {
		return err
	}
	zeros := make([]byte, spareChunk)
	for off := int64(0); off < size; off += spareChunk {
		if stop.Load() {
			f.Close()
			return errSpareStopped
		}
		if _, err := f.WriteAt(zeros[:min(spareChunk, size-off)], off); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// takeSpare returns the spare renamed to name and opened, or nil when
// none is ready (still being written, or its preparation failed — then
// already removed and reported: the caller creates the segment as
// usual). Called with j.mu held.
func (j *Journal) takeSpare(name string) (vfs.File, error) {
	sp := j.spare
	if sp == nil {
		return nil, nil
	}
	select {
	case <-sp.done:
	default:
		return nil, nil
	}
	j.spare = nil
	if sp.err != nil {
		return nil, nil
	}
	fs, path := j.opts.FS, filepath.Join(j.dir, spareName)
	if err := fs.Rename(path, name); err != nil {
		return nil, err
	}
	return fs.OpenReadWrite(name)
}

// stopSpare ends a preparation in progress, waits for it and removes its
// file. Called with j.mu held.
func (j *Journal) stopSpare() {
	sp := j.spare
	if sp == nil {
		return
	}
	sp.stop.Store(true)
	<-sp.done
	j.spare = nil
	_ = j.opts.FS.Remove(filepath.Join(j.dir, spareName))
}
