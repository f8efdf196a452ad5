package vfs

// CacheTrimmer keeps a file written by appending from filling the page
// cache with pages nobody reads again, by handing what lies behind the
// write offset to File.DropCache.
//
// Why: on the 2-core dev VM (a paravirtualized guest with a balloon
// device) a write that needs a fresh page-cache page costs ~10 times one
// that reuses a freed page: one writer appending 6 GiB with an fdatasync
// every 4 MiB measured 0.23–0.30 ms of CPU per MiB for the first GiB and
// 2.3 ms per MiB over all six; dropping each synced range after its
// fdatasync kept it at 0.23 throughout (and the wall time from 3.2 to 1.3
// ms per MiB). The journal and the raft log write the whole input stream
// and read it back only at recovery, so their pages are not worth keeping.
//
// Invariant: it never drops the page holding the write offset: the next
// append writes into it, and an uncached page that a write only partly
// covers must first be read from disk. Every range it hands DropCache
// starts and ends on a page boundary at or before the offset it is
// given: Linux's fadvise drops the partial page at a range's end too
// when the range ends at the file's size — a raft log segment's size is
// its write offset (its blocks are reserved without changing it) — and
// an unaligned end dropped the page the next append wrote into.
//
// Not safe for concurrent use; the zero value starts at offset 0.
type CacheTrimmer struct {
	from int64 // DropCache has been asked for everything before from
}

const (
	// trimChunk is how much data a trimmer lets gather before one
	// DropCache (a syscall per fdatasync would cost more than it saves at
	// low rates), and the lag for files written without fsync (Written).
	// A larger one costs no less: the call's time is the pages' writeback
	// and eviction, paid per page, which a process that writes every
	// byte back pays with or without it — BenchmarkCacheTrimmer's
	// written/trim took 441, 430 and 439 µs of CPU per MiB with chunks
	// of 1, 4 and 16 MiB, written/none 436 (2026-12-07, 8 runs each) —
	// and it leaves more for a SyncNone journal's roll to wait for.
	trimChunk = 1 << 20
	// pageSize is the page size of the systems ringex runs on; a larger
	// one only means a page is dropped later.
	pageSize = 4096
)

// Reset starts over at off, the write offset of a new file or of a file
// reopened for appending.
func (t *CacheTrimmer) Reset(off int64) { t.from = off &^ (pageSize - 1) }

// Synced is called after an fdatasync made every byte before end durable:
// once trimChunk bytes of whole pages have gathered, their pages (clean
// now) are dropped.
func (t *CacheTrimmer) Synced(f File, end int64) {
	to := end &^ (pageSize - 1) // the partial page at end: next time
	if to-t.from < trimChunk {
		return
	}
	f.DropCache(t.from, to-t.from)
	t.from = to
}

// Written is for a file written without fsync, whose pages are dirty: it
// drops with a lag. Each trimChunk chunk gets two DropCache calls: the
// first, once another chunk has been written after it, starts its
// writeback; the second, a chunk later, drops its pages, written back by
// then (pages still under writeback stay cached; nothing is lost).
//
// One call does both, walking the newer chunk's dirty pages without
// dropping any, and that costs nothing worth saving: starting the newer
// chunk's writeback with sync_file_range (WRITE, no wait) and handing
// DropCache the older chunk alone took as much CPU —
// BenchmarkCacheTrimmer's written/trim 375 and 373 cpu-µs/MiB (8
// alternating runs each, 2026-12-07, under other processes' load), the
// calls' share of its profile 30.7 % and 31.5 % (a second pair: 31.9
// and 32.1). The time is the pages' writeback and eviction (bio
// submission, buffer heads freed), paid per page whichever call does
// it; the walk that finds the pages (find_lock_entries) was 1.7–2.0 %
// either way.
func (t *CacheTrimmer) Written(f File, end int64) {
	for end-t.from >= 2*trimChunk {
		lo := max(0, t.from-trimChunk)
		f.DropCache(lo, t.from+trimChunk-lo)
		t.from += trimChunk
	}
}
