package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
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
			if err := received(t, n.Fatal(), "the node kept running after the journal failed"); !errors.Is(err, vfs.ErrInjected) && !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("stopped with %v", err)
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

// spareSyncFaults answers every fdatasync of the journal's next segment,
// being written ahead (journal.prepare_segments), with EIO; the journal's
// segments and everything else are left alone.
type spareSyncFaults struct{ vfs.FS }

func (f spareSyncFaults) Create(name string) (vfs.File, error) {
	file, err := f.FS.Create(name)
	if err != nil || !strings.HasSuffix(name, "next.spare") {
		return file, err
	}
	return eioSync{file}, nil
}

type eioSync struct{ vfs.File }

func (eioSync) Sync() error { return syscall.EIO }

// The journal's disk answers the fdatasync of the segment written ahead
// with EIO: the journal goes on without it (no fail stop: it is not yet
// the journal), but the operator hears of an I/O error on the journal's
// disk — a warning in the log and ringex_journal_io_errors_total, which
// alert RingexJournalIOError watches. Before, it was dropped silently.
func TestSpareFsyncErrorIsReported(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, logs := startNodeLogging(t, cfg, Options{FS: spareSyncFaults{vfs.Default}})
	defer n.Stop()
	// The spare written at the start has failed.
	waitUntil(t, func() bool { return n.stats.spareErrors.Load() >= 1 })
	if v, ok := metricValue(scrapeMetrics(t, addrs.Admin), `ringex_journal_io_errors_total{file="spare"}`); !ok || v < 1 {
		t.Errorf(`ringex_journal_io_errors_total{file="spare"} = %v (served: %v), want at least 1`, v, ok)
	}
	if l := logs.String(); !strings.Contains(l, `"level":"warn"`) || !strings.Contains(l, "input/output error") || !strings.Contains(l, "next segment ahead") {
		t.Errorf("no warning naming the error in the log:\n%s", l)
	}
	// It trades on, across a roll (1 MiB segments: ~10 k orders).
	c := dial(t, addrs.Gateway, 1)
	in := cfg.Instruments[0]
	for id := uint64(1); n.journal.Segments() < 2; {
		if id > 50000 {
			t.Fatalf("%d journal segment(s) after %d orders: no roll", n.journal.Segments(), id-1)
		}
		for last := id + 499; id <= last; id++ {
			c.NewOrder(limit(id, wire.SideBuy, in.ReferencePrice-in.TickSize*int64(1+id%20), 1))
		}
		answered := id - 1
		next(t, c, func(m client.Message) bool {
			return m.Type == wire.MessageExecutionReport && m.Report.ClientOrderID == answered
		})
	}
	select {
	case err := <-n.Fatal():
		t.Fatalf("the node stopped: %v", err)
	default:
	}
}

// A retention that fails — here the archive directory cannot be made, a
// file stands in its way — leaves the old segments on disk and the node
// trading, and is counted with the journal's other I/O errors that do
// not stop it (ringex_journal_io_errors_total{file="retention"}, alert
// RingexJournalIOError) as well as logged. Before, only a warning said
// that the disk would keep filling.
func TestRetentionErrorIsReported(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	blocker := filepath.Join(t.TempDir(), "not-a-directory")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"snapshot.journal_retention": "archive", "snapshot.keep": "1",
		"snapshot.archive_dir": filepath.Join(blocker, "archive")} {
		if err := cfg.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	n, addrs, logs := startNodeLogging(t, cfg, Options{})
	defer n.Stop()
	in := cfg.Instruments[0]
	c := dial(t, addrs.Gateway, 1)
	restBids(t, c, in, 1, 12000) // more than one 1 MiB segment
	waitSnapshot(t, n)
	restBids(t, c, in, 12001, 12100)
	waitSnapshot(t, n)
	waitUntil(t, func() bool { return n.stats.retentionErrors.Load() >= 1 })
	if v, ok := metricValue(scrapeMetrics(t, addrs.Admin), `ringex_journal_io_errors_total{file="retention"}`); !ok || v < 1 {
		t.Errorf(`ringex_journal_io_errors_total{file="retention"} = %v (served: %v), want at least 1`, v, ok)
	}
	if l := logs.String(); !strings.Contains(l, "not a directory") || !strings.Contains(l, "could not be removed or archived") {
		t.Errorf("no warning naming the error in the log:\n%s", l)
	}
	c.NewOrder(limit(12101, wire.SideBuy, in.ReferencePrice-in.TickSize, 1))
	next(t, c, func(m client.Message) bool {
		return m.Report.ClientOrderID == 12101 && m.Report.Kind == wire.ExecKindAccepted
	})
}

// The journaller's fatal error names the inputs of the batch it failed
// on, the sequences its segments are named for, and calls the
// processor's numbers ring sequences: on a node restarted after inputs
// they differ by the inputs before its start. It said "batch 49144…49145"
// (ring sequences) beside a segment named for an input, and the operator
// looked for the batch in the wrong place.
func TestJournalFatalErrorNamesInputs(t *testing.T) {
	dir := t.TempDir()
	n, addrs, _ := startNode(t, testConfig(t, dir))
	cfg := testConfig(t, dir)
	restBids(t, dial(t, addrs.Gateway, 1), cfg.Instruments[0], 1, 5)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	g := &gateFS{FS: vfs.Default, release: make(chan struct{})}
	n, addrs, rec := startNodeWith(t, cfg, Options{FS: g})
	defer n.Stop()
	if rec.LastSeq == 0 {
		t.Fatal("setup: the restart recovered no input")
	}
	g.failing.Store(true)
	c := dial(t, addrs.Gateway, 1)
	c.NewOrder(limit(6, wire.SideBuy, cfg.Instruments[0].ReferencePrice-cfg.Instruments[0].TickSize, 1))
	err := received(t, n.Fatal(), "the node kept running after the journal's fdatasync failed")
	m := regexp.MustCompile(`ring sequences (\d+)…(\d+): journaling inputs (\d+)…(\d+): `).FindStringSubmatch(fmt.Sprint(err))
	if !errors.Is(err, syscall.EIO) || m == nil {
		t.Fatalf("stopped with %v; want EIO, the ring sequences and the inputs of the batch", err)
	}
	lo, _ := strconv.ParseInt(m[1], 10, 64)
	hi, _ := strconv.ParseInt(m[2], 10, 64)
	first, _ := strconv.ParseInt(m[3], 10, 64)
	last, _ := strconv.ParseInt(m[4], 10, 64)
	if first != rec.LastSeq+1+lo || last != rec.LastSeq+1+hi {
		t.Fatalf("stopped with %v; want inputs %d…%d (the restart recovered inputs to %d)", err, rec.LastSeq+1+lo, rec.LastSeq+1+hi, rec.LastSeq)
	}
}
