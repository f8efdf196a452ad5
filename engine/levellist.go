package engine

// levelList is a side's overflow levels (those priced outside its
// direct-indexed window): level indexes by key, keys ascending, kept in
// blocks of at most levelBlockMax keys. Finding a key is two binary
// searches; adding or dropping one moves at most a block's keys, and the
// block list only when a block splits or merges — never every key, as one
// sorted slice did: a book tens of thousands of levels deep (an
// instrument with no price band) paid a memmove of the whole overflow per
// order placed or cancelled at a new far price (BenchmarkEngine/deep).
//
// Invariants: every block holds 1..levelBlockMax keys, strictly ascending
// within and across blocks; firsts[i] is blocks[i].keys[0]; any two
// adjacent blocks together hold more than levelBlockMax/2 keys (remove
// merges them otherwise), so there are at most 4n/levelBlockMax + 1
// blocks for n keys.
type levelList struct {
	n      int // first: the one field the window-only path reads
	firsts []int64
	blocks []*levelBlock
	spare  []*levelBlock // emptied blocks, reused by splits
}

type levelBlock struct {
	keys []int64
	lvls []int32 // lvls[i] is the level of keys[i]
}

// levelBlockMax bounds a block's keys: a block's move is ~3 KB.
const levelBlockMax = 256

// listPos is a position in a levelList; block < 0 is before the first
// key.
type listPos struct{ block, i int }

// len is the number of keys.
func (l *levelList) len() int { return l.n }

// blockOf returns the block k belongs in: the last whose first key is
// <= k, or block 0. The list is not empty.
func (l *levelList) blockOf(k int64) int {
	pos, found := lowerBound(l.firsts, k)
	if found || pos == 0 {
		return pos
	}
	return pos - 1
}

// find returns k's level, ok false when k is not in the list.
func (l *levelList) find(k int64) (int32, bool) {
	if l.n == 0 {
		return -1, false
	}
	b := l.blocks[l.blockOf(k)]
	if i, found := lowerBound(b.keys, k); found {
		return b.lvls[i], true
	}
	return -1, false
}

// insert adds key k (not in the list) with level li.
func (l *levelList) insert(k int64, li int32) {
	if l.n == 0 {
		b := l.newBlock()
		b.keys, b.lvls = append(b.keys, k), append(b.lvls, li)
		l.firsts, l.blocks = append(l.firsts, k), append(l.blocks, b)
		l.n = 1
		return
	}
	bi := l.blockOf(k)
	b := l.blocks[bi]
	if len(b.keys) == levelBlockMax {
		l.split(bi)
		if k >= l.firsts[bi+1] {
			bi++
			b = l.blocks[bi]
		}
	}
	i, _ := lowerBound(b.keys, k)
	b.keys = insertAt(b.keys, i, k)
	b.lvls = insertAt(b.lvls, i, li)
	if i == 0 {
		l.firsts[bi] = k
	}
	l.n++
}

// remove drops key k, if it is in the list.
func (l *levelList) remove(k int64) {
	if l.n == 0 {
		return
	}
	bi := l.blockOf(k)
	b := l.blocks[bi]
	i, found := lowerBound(b.keys, k)
	if !found {
		return
	}
	b.keys = append(b.keys[:i], b.keys[i+1:]...)
	b.lvls = append(b.lvls[:i], b.lvls[i+1:]...)
	l.n--
	if i == 0 && len(b.keys) > 0 {
		l.firsts[bi] = b.keys[0]
	}
	if bi+1 < len(l.blocks) && len(b.keys)+len(l.blocks[bi+1].keys) <= levelBlockMax/2 {
		l.merge(bi)
	}
	if bi > 0 && len(l.blocks[bi-1].keys)+len(b.keys) <= levelBlockMax/2 {
		l.merge(bi - 1)
		bi--
	}
	if len(l.blocks[bi].keys) == 0 { // merged with neither neighbour
		l.dropBlock(bi)
	}
}

// split moves the upper half of full block bi into a new block after it.
func (l *levelList) split(bi int) {
	b, nb := l.blocks[bi], l.newBlock()
	half := len(b.keys) / 2
	nb.keys, nb.lvls = append(nb.keys, b.keys[half:]...), append(nb.lvls, b.lvls[half:]...)
	b.keys, b.lvls = b.keys[:half], b.lvls[:half]
	l.firsts = insertAt(l.firsts, bi+1, nb.keys[0])
	l.blocks = insertAt(l.blocks, bi+1, nb)
}

// merge appends block bi+1's keys to block bi and drops bi+1.
func (l *levelList) merge(bi int) {
	b, next := l.blocks[bi], l.blocks[bi+1]
	if len(b.keys) == 0 {
		l.firsts[bi] = next.keys[0]
	}
	b.keys, b.lvls = append(b.keys, next.keys...), append(b.lvls, next.lvls...)
	l.dropBlock(bi + 1)
}

func (l *levelList) dropBlock(bi int) {
	b := l.blocks[bi]
	b.keys, b.lvls = b.keys[:0], b.lvls[:0]
	l.spare = append(l.spare, b)
	l.firsts = append(l.firsts[:bi], l.firsts[bi+1:]...)
	l.blocks = append(l.blocks[:bi], l.blocks[bi+1:]...)
}

func (l *levelList) newBlock() *levelBlock {
	if n := len(l.spare); n > 0 {
		b := l.spare[n-1]
		l.spare = l.spare[:n-1]
		return b
	}
	return &levelBlock{keys: make([]int64, 0, levelBlockMax), lvls: make([]int32, 0, levelBlockMax)}
}

// last is the position of the largest key (block < 0 when empty).
func (l *levelList) last() listPos {
	bi := len(l.blocks) - 1
	if bi < 0 {
		return listPos{block: -1}
	}
	return listPos{bi, len(l.blocks[bi].keys) - 1}
}

// prev is the position before p (block < 0 past the first key).
func (l *levelList) prev(p listPos) listPos {
	if p.i > 0 {
		return listPos{p.block, p.i - 1}
	}
	if p.block--; p.block >= 0 {
		p.i = len(l.blocks[p.block].keys) - 1
	}
	return p
}

// at returns the key and level at p (block >= 0).
func (l *levelList) at(p listPos) (int64, int32) {
	b := l.blocks[p.block]
	return b.keys[p.i], b.lvls[p.i]
}

// insertAt inserts v at s[i], within s's capacity when it has room.
func insertAt[T any](s []T, i int, v T) []T {
	var zero T
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}
