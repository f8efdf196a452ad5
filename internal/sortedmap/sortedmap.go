package sortedmap

import "fmt"

// Map holds values of type V by int64 key, keys ascending. The zero Map
// is empty and ready.
type Map[V any] struct {
	n      int
	firsts []int64
	blocks []*block[V]
	spare  []*block[V] // emptied blocks, reused by splits
}

type block[V any] struct {
	keys []int64
	vals []V // vals[i] is the value of keys[i]
}

// BlockMax bounds a block's keys.
const BlockMax = 256

// Pos is a position in a Map, from First, Last, Next or Prev.
type Pos struct{ block, i int }

// Valid reports whether p is at a key (not past either end).
func (p Pos) Valid() bool { return p.block >= 0 }

// Len is the number of keys.
func (m *Map[V]) Len() int { return m.n }

// blockOf returns the block k belongs in: the last whose first key is
// <= k, or block 0. The map is not empty.
func (m *Map[V]) blockOf(k int64) int {
	pos, found := lowerBound(m.firsts, k)
	if found || pos == 0 {
		return pos
	}
	return pos - 1
}

// Get returns k's value, ok false when k is not in the map.
func (m *Map[V]) Get(k int64) (v V, ok bool) {
	if m.n == 0 {
		return v, false
	}
	b := m.blocks[m.blockOf(k)]
	if i, found := lowerBound(b.keys, k); found {
		return b.vals[i], true
	}
	return v, false
}

// Set gives k the value v, adding k if it is not in the map.
func (m *Map[V]) Set(k int64, v V) {
	if m.n == 0 {
		b := m.newBlock()
		b.keys, b.vals = append(b.keys, k), append(b.vals, v)
		m.firsts, m.blocks = append(m.firsts, k), append(m.blocks, b)
		m.n = 1
		return
	}
	bi := m.blockOf(k)
	b := m.blocks[bi]
	i, found := lowerBound(b.keys, k)
	if found {
		b.vals[i] = v
		return
	}
	if len(b.keys) == BlockMax {
		m.split(bi)
		if k >= m.firsts[bi+1] {
			bi++
			b = m.blocks[bi]
			i -= len(m.blocks[bi-1].keys)
		}
	}
	b.keys = insertAt(b.keys, i, k)
	b.vals = insertAt(b.vals, i, v)
	if i == 0 {
		m.firsts[bi] = k
	}
	m.n++
}

// Delete drops k, if it is in the map.
func (m *Map[V]) Delete(k int64) {
	if m.n == 0 {
		return
	}
	bi := m.blockOf(k)
	b := m.blocks[bi]
	i, found := lowerBound(b.keys, k)
	if !found {
		return
	}
	b.keys = append(b.keys[:i], b.keys[i+1:]...)
	b.vals = append(b.vals[:i], b.vals[i+1:]...)
	m.n--
	if i == 0 && len(b.keys) > 0 {
		m.firsts[bi] = b.keys[0]
	}
	if bi+1 < len(m.blocks) && len(b.keys)+len(m.blocks[bi+1].keys) <= BlockMax/2 {
		m.merge(bi)
	}
	if bi > 0 && len(m.blocks[bi-1].keys)+len(b.keys) <= BlockMax/2 {
		m.merge(bi - 1)
		bi--
	}
	if len(m.blocks[bi].keys) == 0 { // merged with neither neighbour
		m.dropBlock(bi)
	}
}

// Clear empties the map, keeping its blocks for reuse.
func (m *Map[V]) Clear() {
	for bi := len(m.blocks) - 1; bi >= 0; bi-- {
		m.dropBlock(bi)
	}
	m.n = 0
}

// split moves the upper half of full block bi into a new block after it.
func (m *Map[V]) split(bi int) {
	b, nb := m.blocks[bi], m.newBlock()
	half := len(b.keys) / 2
	nb.keys, nb.vals = append(nb.keys, b.keys[half:]...), append(nb.vals, b.vals[half:]...)
	b.keys, b.vals = b.keys[:half], b.vals[:half]
	m.firsts = insertAt(m.firsts, bi+1, nb.keys[0])
	m.blocks = insertAt(m.blocks, bi+1, nb)
}

// merge appends block bi+1's keys to block bi and drops bi+1.
func (m *Map[V]) merge(bi int) {
	b, next := m.blocks[bi], m.blocks[bi+1]
	if len(b.keys) == 0 {
		m.firsts[bi] = next.keys[0]
	}
	b.keys, b.vals = append(b.keys, next.keys...), append(b.vals, next.vals...)
	m.dropBlock(bi + 1)
}

func (m *Map[V]) dropBlock(bi int) {
	b := m.blocks[bi]
	clear(b.vals) // values may hold pointers
	b.keys, b.vals = b.keys[:0], b.vals[:0]
	m.spare = append(m.spare, b)
	m.firsts = append(m.firsts[:bi], m.firsts[bi+1:]...)
	m.blocks = append(m.blocks[:bi], m.blocks[bi+1:]...)
}

func (m *Map[V]) newBlock() *block[V] {
	if n := len(m.spare); n > 0 {
		b := m.spare[n-1]
		m.spare = m.spare[:n-1]
		return b
	}
	return &block[V]{keys: make([]int64, 0, BlockMax), vals: make([]V, 0, BlockMax)}
}

// First is the position of the smallest key (not Valid when empty).
func (m *Map[V]) First() Pos {
	if len(m.blocks) == 0 {
		return Pos{block: -1}
	}
	return Pos{}
}

// Last is the position of the largest key (not Valid when empty).
func (m *Map[V]) Last() Pos {
	bi := len(m.blocks) - 1
	if bi < 0 {
		return Pos{block: -1}
	}
	return Pos{bi, len(m.blocks[bi].keys) - 1}
}

// AtLeast is the position of the smallest key >= k (not Valid when there
// is none).
func (m *Map[V]) AtLeast(k int64) Pos {
	if m.n == 0 {
		return Pos{block: -1}
	}
	bi := m.blockOf(k)
	if i, _ := lowerBound(m.blocks[bi].keys, k); i < len(m.blocks[bi].keys) {
		return Pos{bi, i}
	}
	if bi+1 < len(m.blocks) {
		return Pos{bi + 1, 0}
	}
	return Pos{block: -1}
}

// Next is the position after p (not Valid past the largest key).
func (m *Map[V]) Next(p Pos) Pos {
	if p.i+1 < len(m.blocks[p.block].keys) {
		return Pos{p.block, p.i + 1}
	}
	if p.block+1 < len(m.blocks) {
		return Pos{p.block + 1, 0}
	}
	return Pos{block: -1}
}

// Prev is the position before p (not Valid past the smallest key).
func (m *Map[V]) Prev(p Pos) Pos {
	if p.i > 0 {
		return Pos{p.block, p.i - 1}
	}
	if p.block--; p.block >= 0 {
		p.i = len(m.blocks[p.block].keys) - 1
	}
	return p
}

// At returns the key and value at p (Valid).
func (m *Map[V]) At(p Pos) (int64, V) {
	b := m.blocks[p.block]
	return b.keys[p.i], b.vals[p.i]
}

// Check reports the first broken invariant (doc.go, 2), for tests.
func (m *Map[V]) Check() error {
	if len(m.firsts) != len(m.blocks) {
		return fmt.Errorf("%d firsts, %d blocks", len(m.firsts), len(m.blocks))
	}
	n, prev := 0, int64(0)
	for bi, b := range m.blocks {
		if len(b.keys) == 0 || len(b.keys) > BlockMax || len(b.keys) != len(b.vals) {
			return fmt.Errorf("block %d: %d keys, %d values", bi, len(b.keys), len(b.vals))
		}
		if m.firsts[bi] != b.keys[0] {
			return fmt.Errorf("block %d: first %d, keys from %d", bi, m.firsts[bi], b.keys[0])
		}
		if bi > 0 && len(m.blocks[bi-1].keys)+len(b.keys) <= BlockMax/2 {
			return fmt.Errorf("blocks %d and %d hold %d keys together", bi-1, bi, len(m.blocks[bi-1].keys)+len(b.keys))
		}
		for i, k := range b.keys {
			if (bi > 0 || i > 0) && k <= prev {
				return fmt.Errorf("block %d: key %d after %d", bi, k, prev)
			}
			prev = k
		}
		n += len(b.keys)
	}
	if n != m.n {
		return fmt.Errorf("%d keys counted, n %d", n, m.n)
	}
	return nil
}

// insertAt inserts v at s[i], within s's capacity when it has room.
func insertAt[T any](s []T, i int, v T) []T {
	var zero T
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

// lowerBound returns the first position whose key is >= k, and whether
// the key there equals k. Written without a data-dependent branch in the
// loop (the compiler emits a conditional move).
func lowerBound(keys []int64, k int64) (int, bool) {
	n := len(keys)
	if n == 0 {
		return 0, false
	}
	base := 0
	for n > 1 {
		half := n / 2
		if keys[base+half-1] < k {
			base += half
		}
		n -= half
	}
	if keys[base] < k {
		base++
	}
	return base, base < len(keys) && keys[base] == k
}
