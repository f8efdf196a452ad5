package node

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/ringex/ringex/disruptor"
)

// This file is the node's only contact with the disruptor's API: rings,
// sequencers and consumer groups are built here, so a change of that API
// is mended in one place.

// ring couples a ring of T with its sequencer and consumer group.
type ring[T any] struct {
	name  string
	slots *disruptor.Ring[T]
	seq   disruptor.Sequencer
	group *disruptor.Group
}

func newRing[T any](name string, size int, multiProducer bool, wait disruptor.WaitStrategy, onError func(string, error)) (*ring[T], error) {
	slots, err := disruptor.NewRing[T](size)
	if err != nil {
		return nil, err
	}
	var seq disruptor.Sequencer
	if multiProducer {
		seq, err = disruptor.NewMultiProducer(size, wait)
	} else {
		seq, err = disruptor.NewSingleProducer(size, wait)
	}
	if err != nil {
		return nil, err
	}
	return &ring[T]{name: name, slots: slots, seq: seq, group: disruptor.NewGroup(seq, onError)}, nil
}

// consumer is one stage on a ring.
type consumer = disruptor.Processor

// add registers a batch consumer gated on deps. Before start it waits for
// start; on a running ring it is deployed at once (after the ring's
// cursor: see disruptor.Group.Add).
func (r *ring[T]) add(name string, h func(lo, hi int64) error, deps ...*consumer) (*consumer, error) {
	return r.addBounded(name, 0, h, deps...)
}

// addBounded is add for a consumer handed at most maxBatch slots at once
// (0: no bound).
func (r *ring[T]) addBounded(name string, maxBatch int, h func(lo, hi int64) error, deps ...*consumer) (*consumer, error) {
	return r.group.Add(disruptor.Consumer{Name: name, Handler: h, After: deps, MaxBatch: maxBatch})
}

// remove drains a consumer, stops it and releases the producers from it.
func (r *ring[T]) remove(c *consumer) error { return r.group.Remove(c) }

func (r *ring[T]) start() error { return r.group.Start() }

// drain consumes everything published, then stops the consumers.
func (r *ring[T]) drain() error { return r.group.Drain() }

func (r *ring[T]) halt() { r.group.Halt() }

func (r *ring[T]) published() int64 { return r.seq.Published() }

// claimUnless claims k slots, waiting while the ring is full, unless
// refuse says true before a claim is taken: then it returns refused,
// having claimed nothing (disruptor.NextUnless).
func (r *ring[T]) claimUnless(k int64, refuse func() bool, refused error) (int64, error) {
	hi, err := disruptor.NextUnless(r.seq, k, refuse)
	if errors.Is(err, disruptor.ErrRefused) {
		return 0, refused
	}
	return hi, err
}

// claimWithin is claimUnless waiting at most wait for room (0: no
// bound): past it, it returns stalled, having claimed nothing. A claim
// that finds room at once, the common case, reads no clock and arms no
// timer; one that waits arms a timer, which wakes the ring's waiters
// (Wake) when it fires, for the claim to look again and give up — a
// parked producer is otherwise woken only as consumers advance, and a
// stalled consumer advances none.
func (r *ring[T]) claimWithin(k int64, wait time.Duration, refuse func() bool, refused, stalled error) (int64, error) {
	if wait <= 0 {
		return r.claimUnless(k, refuse, refused)
	}
	if refuse() {
		return 0, refused
	}
	if hi, err := r.seq.TryNext(k); !errors.Is(err, disruptor.ErrFull) {
		return hi, err
	}
	var expired atomic.Bool
	timer := time.AfterFunc(wait, func() {
		expired.Store(true)
		r.seq.Wake()
	})
	defer timer.Stop()
	hi, err := disruptor.NextUnless(r.seq, k, func() bool { return refuse() || expired.Load() })
	if errors.Is(err, disruptor.ErrRefused) {
		if refuse() {
			return 0, refused
		}
		return 0, stalled
	}
	return hi, err
}

func waitStrategy(name string) disruptor.WaitStrategy {
	switch name {
	case "yielding":
		return disruptor.Yielding
	case "busyspin":
		return disruptor.BusySpin
	}
	return disruptor.Adaptive
}
