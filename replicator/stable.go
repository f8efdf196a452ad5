package replicator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ringex/ringex/vfs"
)

// Stable store format, version 1 (part of the format): the file "stable"
// holds
//
//	magic "RXST", version uint32 1, count uint32,
//	count × (keyLen uint32, key, valLen uint32, val) in key order,
//	crc uint32 CRC-32C of everything before it.
//
// Every Set rewrites it atomically (write "stable.tmp", fsync, rename,
// fsync the directory). Raft sets keys only on term changes and votes.
const (
	stableMagic   = "RXST"
	stableVersion = 1
	stableName    = "stable"
)

// StableStore is a durable raft.StableStore in one small file.
type StableStore struct {
	dir string
	mu  sync.Mutex
	kv  map[string][]byte

	// Pending times the Set calls under way (the file's write, fsync,
	// rename and directory sync): raft's main loop waits in one while it
	// writes a term or a vote, and Replicator.watchDisk stops a member
	// whose write waited too long (contract item 9).
	Pending vfs.Pending
	// OnFail, when set, is told of every failed write (the member must
	// stop: raft refuses a vote it could not write and goes on).
	OnFail func(error)
	// found: dir/stable was there at open. Raft writes the term before
	// it stores a log entry or a snapshot (bootstrap, a leader's first
	// AppendEntries or InstallSnapshot), and every write replaces the
	// file atomically: a log or snapshot without it means the file was
	// lost, and with it the term and the vote (Open refuses to start).
	found bool
	// term mirrors the value of currentTermKey, raft's current term
	// (raft writes it here before it takes it): read without mu, which a
	// Set holds while the disk writes (CurrentTerm).
	term atomic.Uint64
}

// currentTermKey is the key raft (v1.7.1 keyCurrentTerm) keeps its
// current term under.
const currentTermKey = "CurrentTerm"

// ErrStableLost: the raft log or a raft snapshot is there and the stable
// store's file is not. Started on term 0 with no vote, the member could
// vote a second time in a term it voted in before — two leaders.
var ErrStableLost = errors.New("replicator: raft state without its stable store (current term and vote)")

// OpenStableStore reads dir/stable, or starts empty when it is missing
// (Open refuses that beside a raft log or snapshot: ErrStableLost).
func OpenStableStore(dir string) (*StableStore, error) {
	if err := vfs.MkdirAllDurable(dir); err != nil {
		return nil, fmt.Errorf("replicator: %w", err)
	}
	s := &StableStore{dir: dir, kv: map[string][]byte{}}
	b, err := os.ReadFile(filepath.Join(dir, stableName))
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("replicator: %w", err)
	}
	s.found = true
	bad := fmt.Errorf("%w: %s", ErrCorrupt, filepath.Join(dir, stableName))
	if len(b) < 16 || string(b[:4]) != stableMagic || binary.LittleEndian.Uint32(b[4:]) != stableVersion ||
		crc32.Checksum(b[:len(b)-4], castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, bad
	}
	n := binary.LittleEndian.Uint32(b[8:])
	r := b[12 : len(b)-4]
	next := func() ([]byte, bool) {
		if len(r) < 4 {
			return nil, false
		}
		k := int(binary.LittleEndian.Uint32(r))
		if len(r) < 4+k {
			return nil, false
		}
		v := r[4 : 4+k]
		r = r[4+k:]
		return v, true
	}
	for range n {
		k, ok1 := next()
		v, ok2 := next()
		if !ok1 || !ok2 {
			return nil, bad
		}
		s.kv[string(k)] = slices.Clone(v)
	}
	if len(r) != 0 {
		return nil, bad // bytes the count does not cover: not written by persist
	}
	s.mirrorTerm(currentTermKey, s.kv[currentTermKey])
	return s, nil
}

// Set implements raft.StableStore.
func (s *StableStore) Set(key, val []byte) error {
	defer s.Pending.End(s.Pending.Begin()) // from before the lock: a Set holding it waits on the disk too
	s.mu.Lock()
	defer s.mu.Unlock()
	old, had := s.kv[string(key)]
	s.kv[string(key)] = slices.Clone(val)
	if err := s.persist(); err != nil {
		// Not durable, so not kept: raft answers a failed vote write by
		// refusing the vote, then grants the candidate's retry as a
		// repeat if it reads the vote back — a vote never on disk, and
		// after a restart a second one in the same term.
		if had {
			s.kv[string(key)] = old
		} else {
			delete(s.kv, string(key))
		}
		if s.OnFail != nil {
			s.OnFail(err)
		}
		return err
	}
	s.mirrorTerm(string(key), val)
	return nil
}

// mirrorTerm keeps term at the value of currentTermKey once key holds
// val (a term is 8 bytes; a value that is not one leaves it).
func (s *StableStore) mirrorTerm(key string, val []byte) {
	if key == currentTermKey && len(val) == 8 {
		s.term.Store(binary.LittleEndian.Uint64(val))
	}
}

// CurrentTerm is raft's current term as last written (0: none yet),
// without waiting for a Set under way: the term raft holds, or the one
// it is about to take.
func (s *StableStore) CurrentTerm() uint64 { return s.term.Load() }

// Get implements raft.StableStore. A missing key is an empty value; raft
// expects the error text "not found" for it.
func (s *StableStore) Get(key []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.kv[string(key)]
	if !ok {
		return nil, errors.New("not found")
	}
	return slices.Clone(v), nil
}

// SetUint64 implements raft.StableStore.
func (s *StableStore) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.LittleEndian.AppendUint64(nil, val))
}

// GetUint64 implements raft.StableStore; a missing key is 0.
func (s *StableStore) GetUint64(key []byte) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.kv[string(key)]
	if !ok {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("replicator: stable key %q is not a uint64", key)
	}
	return binary.LittleEndian.Uint64(v), nil
}

func (s *StableStore) persist() error {
	keys := make([]string, 0, len(s.kv))
	for k := range s.kv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := append([]byte(stableMagic), 0, 0, 0, 0, 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(b[4:], stableVersion)
	binary.LittleEndian.PutUint32(b[8:], uint32(len(keys)))
	for _, k := range keys {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s.kv[k])))
		b = append(b, s.kv[k]...)
	}
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	if err := vfs.WriteFileAtomic(filepath.Join(s.dir, stableName), b); err != nil {
		return fmt.Errorf("replicator: stable store: %w", err)
	}
	return nil
}
