package node

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/unmarshal"
	"github.com/ringex/ringex/vfs"
)

// A journal that cannot write or fsync stops the node (fail stop), and no
// client has been told about an input the journal did not make durable:
// every acknowledged order is in the journal.
func TestJournalFaultStopsNodeWithoutLosingAcks(t *testing.T) {
	for _, fault := range []struct {
		name string
		fs   func() *vfs.ErrorFS
	}{
		{"fsync", func() *vfs.ErrorFS { return &vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpSync, Skip: 40, Sticky: true} }},
		{"write", func() *vfs.ErrorFS { return &vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpWrite, Skip: 40, Sticky: true} }},
		{"disk-full", func() *vfs.ErrorFS { return vfs.DiskFull(vfs.Default, 40) }},
	} {
		t.Run(fault.name, func(t *testing.T) {
			cfg := testConfig(t, t.TempDir())
			efs := fault.fs()
			n, addrs, _ := startNodeWith(t, cfg, Options{FS: efs})
			defer n.Stop()
			c := dial(t, addrs.Gateway, 1)
			ref, tick := cfg.Instruments[0].ReferencePrice, cfg.Instruments[0].TickSize
			var acked []uint64
			loop := make(chan struct{})
			go func() {
				defer close(loop)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				for id := uint64(1); id <= 200; id++ {
					if c.NewOrder(limit(id, wire.SideBuy, ref-tick*int64(1+id%20), 1)) != nil {
						return
					}
					m, err := c.Next()
					if err != nil {
						return // the node stopped
					}
					if m.Type == wire.MessageExecutionReport && m.Report.Kind == wire.ExecKindAccepted {
						acked = append(acked, m.Report.ClientOrderID)
					}
				}
			}()
			select {
			case err := <-n.Fatal():
				if !errors.Is(err, vfs.ErrInjected) && !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("stopped with %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the node kept running after the journal failed")
			}
			n.Stop() // as ringex serve does on a fatal error: sessions close
			<-loop
			if !efs.Fired() || len(acked) == 0 || len(acked) == 200 {
				t.Fatalf("fault fired %v, %d of 200 acknowledged", efs.Fired(), len(acked))
			}
			// What the journal holds (read through the real filesystem).
			inJournal := map[uint64]bool{}
			r, err := journal.NewReader(cfg.JournalDir(), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			var rec journal.Record
			var slot input.Slot
			for r.Next(&rec) == nil {
				slot.Kind, slot.Account = input.Kind(rec.Kind), rec.Account
				slot.SetPayload(rec.Payload)
				unmarshal.Decode(rec.Seq, &slot)
				inJournal[slot.Cmd.ClientOrderID] = true
			}
			for _, id := range acked {
				if !inJournal[id] {
					t.Fatalf("order %d was acknowledged but is not in the journal", id)
				}
			}
		})
	}
}
