package node

import (
	"sync/atomic"
	"time"

	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/proto"
)

// Driving a halt's clear when nobody trades. With engine.halt_clear_chunk
// a halt with cancel_orders reports its book's cancels a chunk an input
// (engine/haltclear.go): every input applied while the clear is pending
// reports the next chunk. Inputs that nobody sends report nothing, so the
// node sends itself one — a Heartbeat in a control slot, which the
// unmarshaler decodes to engine.CmdNoop — journaled, replicated and
// applied like every input, so that a replay reports each cancel at the
// same input:
//
//  1. After each batch the engine goroutine, the only reader of the
//     engine, looks at ClearPending. While it is true and no noop of the
//     node's is on its way, it marks one on its way (clearNoop.asked)
//     and hands its publication to a goroutine (the engine goroutine
//     never waits for a slot of the ring it consumes).
//  2. That goroutine publishes the noop as every control input is
//     published (ctlMu, refused once Stop closed control inputs) and
//     records its ring slot before publishing it (clearNoop.slot).
//  3. The engine goroutine, at the batch that holds the slot, marks
//     none on its way: step 1 asks for the next while the clear goes
//     on. So at most one noop is on its way, and a clear of c cancels
//     with a chunk of k takes at most ceil(c/k)-1 of them, fewer when
//     clients' inputs come meanwhile.
//  4. No noop is sent while no clear is pending: nothing polls; the
//     only work an idle node does for it is a comparison per batch.
//     Nor by a node that takes no inputs (a cluster's follower: the
//     leader's noops reach it replicated) or is not live (the replay
//     stage). A clear pending when the node goes live (recovered
//     mid-clear) or becomes the leader is driven from then
//     (kickClear: no batch may come to start it).
type clearNoop struct {
	// asked is set by the engine goroutine when it hands a noop to a
	// publisher, cleared at the batch that applies it (or by the
	// publisher when it published nothing).
	asked atomic.Bool
	// slot is the ring slot of the noop on its way: noSlot from when
	// asked is set until the publisher claims one.
	slot atomic.Int64
}

// noSlot is clearNoop.slot before the noop's slot is claimed.
const noSlot = -1

// clearNoopHook, set by tests only (nil otherwise), runs on the
// publishing goroutine before each noop is published.
var clearNoopHook func(n *Node)

// driveClear is steps 1 and 3 after the batch that ended at ring slot
// hi (engine goroutine).
func (n *Node) driveClear(hi int64) {
	c := &n.clearNoop
	if c.asked.Load() {
		if s := c.slot.Load(); s == noSlot || s > hi {
			return // on its way
		}
		c.asked.Store(false) // applied in this batch
	}
	n.askClearNoop()
}

// askClearNoop hands a noop to a publisher when a clear is pending and
// none is on its way (engine goroutine).
func (n *Node) askClearNoop() {
	c := &n.clearNoop
	if !n.eng.ClearPending() || !n.live.Load() || n.refuseInput() || c.asked.Load() {
		return
	}
	select {
	case <-n.stopping():
		return
	default:
	}
	c.slot.Store(noSlot)
	c.asked.Store(true)
	go func() {
		if clearNoopHook != nil {
			clearNoopHook(n)
		}
		if err := n.publishClearNoop(); err != nil {
			// Nothing published (refused, or the ring halted): the
			// next batch, or the next leadership, asks again.
			c.asked.Store(false)
		}
	}()
}

// publishClearNoop is step 2.
func (n *Node) publishClearNoop() error {
	n.ctlMu.Lock()
	defer n.ctlMu.Unlock()
	if n.ctlClosed {
		return ErrStopping
	}
	frame := n.ctlEnc.Heartbeat(0)
	_, err := n.publishSlot(input.KindControl, 0, 0, time.Now().UnixNano(), frame[proto.PrefixSize:],
		func(slot int64) { n.clearNoop.slot.Store(slot) })
	return err
}

// kickClear has the engine goroutine look at a pending clear now, not
// at its next batch: when the node goes live and when it becomes the
// leader, with maybe no input coming. It does not wait for the engine.
func (n *Node) kickClear() {
	if !n.engineStarted.Load() {
		return
	}
	go n.stats.engine.Do(n.askClearNoop)
}
