package disruptor

// SingleProducer is the sequencer of a ring with exactly one producing
// goroutine: a claim is plain arithmetic on producer-owned fields, a
// publish one atomic store.
type SingleProducer struct {
	sequencer
	// The producer's own fields sit on their own cache line: consumers
	// read the sequencer's fields (halted, gating) while polling.
	_ cacheLinePad
	// next is the highest claimed sequence. Owned by the producer.
	next int64
	// cachedGate is a gating minimum seen earlier; consumer sequences are
	// re-read only when a claim would pass it. Owned by the producer.
	// Invariant: cachedGate <= min(gating sequences).
	cachedGate int64
	// cursor is the highest published sequence.
	// Invariant: cursor <= next.
	cursor Sequence
}

// NewSingleProducer returns a sequencer for a ring of size slots claimed
// by one goroutine, waiting with ws.
func NewSingleProducer(size int, ws WaitStrategy) (*SingleProducer, error) {
	p := &SingleProducer{next: InitialSequence, cachedGate: InitialSequence}
	if err := p.init(size, ws, &p.cursor); err != nil {
		return nil, err
	}
	return p, nil
}

// Next claims n slots, waiting while the ring is full.
func (p *SingleProducer) Next(n int64) (int64, error) {
	if err := p.checkClaim(n); err != nil {
		return 0, err
	}
	hi := p.next + n
	if wrap := hi - p.size; wrap > p.cachedGate {
		p.fence()
		m, err := p.waitGating(wrap, p.next)
		if err != nil {
			return 0, err
		}
		p.cachedGate = m
	}
	// Invariant: hi - size <= min(gating): the claim overwrites only
	// slots every consumer has finished.
	p.next = hi
	return hi, nil
}

func (p *SingleProducer) claimed() int64 { return p.next }

// TryNext claims n slots or returns ErrFull without waiting.
func (p *SingleProducer) TryNext(n int64) (int64, error) {
	if err := p.checkClaim(n); err != nil {
		return 0, err
	}
	hi := p.next + n
	if wrap := hi - p.size; wrap > p.cachedGate {
		p.fence()
		m, cache := p.gateMin(p.next)
		p.cachedGate = cache
		if wrap > m {
			return 0, ErrFull
		}
	}
	p.next = hi
	return hi, nil
}

// Publish makes the slots up to hi visible. Claims are published in the
// order they were made.
func (p *SingleProducer) Publish(_, hi int64) {
	p.cursor.publish(hi)
	p.sig.wake()
}

// fence makes every publish before it visible to other cores before the
// producer reads the gating set. Publish is a release store, which a later
// load may pass; without the fence, AddGating could read a cursor older
// than the producer's last publish, while the producer, having read the
// old gating set, caches a minimum past the new consumer's start and
// overwrites slots it has not read. An atomic add to the producer's own
// cursor line is a full fence and changes nothing; it runs only when a
// claim passes the cached gating minimum.
func (p *SingleProducer) fence() { p.cursor.v.Add(0) }
