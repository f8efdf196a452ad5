// Package sortedmap keeps values by int64 key in ascending key order, in
// blocks of at most BlockMax keys: the price levels of a deep book.
//
// One sorted slice moves everything after a key to add or drop it, so a
// book tens of thousands of levels deep paid a memmove of up to a
// megabyte per change (the engine's far levels, BenchmarkEngine/deep; the
// market-data stage's book, BenchmarkMDBookApply/deep). Here finding a
// key is two binary searches, and adding or dropping one moves at most
// one block's keys and values, plus the block list when a block splits or
// merges.
//
// Contract:
//
//  1. Keys are unique and visited in ascending order from First or
//     AtLeast(k) (Next) and in descending order from Last (Prev). A Pos is
//     valid until the next change to the map.
//  2. Invariants: every block holds 1..BlockMax keys, strictly ascending
//     within and across blocks; firsts[i] is block i's first key; any two
//     adjacent blocks together hold more than BlockMax/2 keys (Delete
//     merges them otherwise), so n keys take at most 4n/BlockMax + 1
//     blocks.
//  3. After its blocks exist, a map allocates only when it needs more
//     blocks than it has ever held: emptied blocks are kept for reuse.
//  4. Not safe for concurrent use.
package sortedmap
