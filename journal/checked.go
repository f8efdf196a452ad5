package journal

import (
	"slices"
	"sync"
)

// CheckedHeaders remembers, by segment name, the cluster id of the
// segment headers that Readers given it (ReaderOptions.Checked) verified:
// a process that opens Reader after Reader on one journal — a node's
// resends — reads each header once, not once per Reader. A Reader opens
// every segment of the journal to check its header (checkIDs), those
// before its start input too: with 10 000 segments (a long-lived archive)
// that took the Reader's start from 19 ms to 186–348 ms on the 2-vCPU dev
// VM of 2026-12-06 (BenchmarkNewReaderManySegments), per resend;
// remembered, 18 ms, the listing's cost.
//
// Only a header that verified is remembered: a segment's name is its
// first input and a verified header never changes (Open writes again only
// a last segment's torn header, which did not verify), so a segment moved
// to the archive under its name keeps its entry. A segment copied in
// under a name not remembered is checked as by any Reader. One copied
// over a remembered segment while the process runs is not seen until a
// Reader reads that segment (it checks the header of each segment it
// reads) or the next start (Open checks every header of the journal).
//
// Entries of segments a Reader does not list (retired: deleted by
// retention) are forgotten, so give one CheckedHeaders only to Readers of
// one set of directories (a forgotten entry costs one header read more).
// Safe for concurrent use.
type CheckedHeaders struct {
	mu  sync.Mutex
	ids map[string]string // segment name → the cluster id its header carries
}

// NewCheckedHeaders returns an empty CheckedHeaders.
func NewCheckedHeaders() *CheckedHeaders {
	return &CheckedHeaders{ids: map[string]string{}}
}

// lookup returns the id remembered for segment name.
func (c *CheckedHeaders) lookup(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.ids[name]
	return id, ok
}

// remember notes that segment name's header verified, carrying id.
func (c *CheckedHeaders) remember(name, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids[name] = id
}

// forget drops the entries of segments not in listed (sorted), the
// segments a Reader just listed, when there are more entries than those:
// the ones retired since.
func (c *CheckedHeaders) forget(listed []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ids) <= len(listed) {
		return
	}
	for name := range c.ids {
		if _, found := slices.BinarySearch(listed, name); !found {
			delete(c.ids, name)
		}
	}
}
