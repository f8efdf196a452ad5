package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// `journal drop` says which input it would list, lists it with its
// record's checksum, refuses a checksum that names another input and an
// input the journal lacks without one, and lists one it lacks by the
// checksum given; journal inspect and replay say what is dropped.
func TestJournalDrop(t *testing.T) {
	cfg, j := demoJournal(t)
	enc := proto.NewEncoder()
	for seq := int64(1); seq <= 5; seq++ {
		frame := enc.NewOrder(0, proto.NewOrder{ClientOrderID: uint64(seq), Instrument: 1, Side: wire.SideBuy, Type: wire.OrderTypeLimit,
			TIF: wire.TimeInForceGTC, Price: cfg.Instruments[0].ReferencePrice, Quantity: cfg.Instruments[0].LotSize})
		if err := j.Append(&journal.Record{Seq: seq, Session: 1, Account: 1, Kind: uint8(input.KindClient), Payload: frame[proto.PrefixSize:]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	j.Close()
	dir := cfg.JournalDir()
	crc, _, err := journal.ChecksumAt([]string{dir}, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, journal.DropsFile)

	out := mustRingex(t, "journal", "drop", dir, "--input", "3")
	wantLine(t, out, fmt.Sprintf(`^input 3: seq=3 .* NewOrder .*, checksum %08x$`, crc))
	wantLine(t, out, `^nothing changed: run again with --yes`)
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("the dry run wrote %s (%v)", file, err)
	}
	out = mustRingex(t, "journal", "drop", dir, "--input", "3", "--yes")
	wantLine(t, out, `^listed in .*dropped-inputs: from its next start the node rejects input 3`)
	wantLine(t, out, fmt.Sprintf(`^  ringex journal drop <journal dir> --input 3 --checksum %08x --yes$`, crc))
	out = mustRingex(t, "journal", "drop", dir, "--input", "3", "--checksum", fmt.Sprintf("%08x", crc), "--yes")
	wantLine(t, out, `^input 3 is listed already`)

	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--input", "3", "--checksum", fmt.Sprintf("%08x", crc+1), "--yes"}, "another input than the one named"},
		{[]string{"--input", "9", "--yes"}, "does not hold input 9: give --checksum"},
		{[]string{"--input", "0"}, "--input N names the input"},
		{[]string{"--input", "4", "--checksum", "12345"}, "is not 8 hex digits"},
	} {
		if out, err := ringex(t, nil, append([]string{"journal", "drop", dir}, tc.args...)...); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("drop %v: %v, want an error saying %q\n%s", tc.args, err, tc.says, out)
		}
	}
	out = mustRingex(t, "journal", "drop", dir, "--input", "9", "--checksum", "0000abcd", "--yes")
	wantLine(t, out, `^input 9: not in .*; listed by the checksum given, 0000abcd$`)

	d, err := journal.ReadDrops(nil, dir)
	if err != nil || d.Len() != 2 {
		t.Fatalf("the file lists %v (%v), want inputs 3 and 9", d.Entries(), err)
	}
	if e := d.Entries()[0]; e.Seq != 3 || e.Checksum != crc || !strings.HasPrefix(e.Note, "dropped 20") {
		t.Fatalf("entry %+v, want input 3, checksum %08x, noted when", e, crc)
	}

	crc4, _, _ := journal.ChecksumAt([]string{dir}, nil, 4)
	if _, err := journal.AddDrop(nil, dir, journal.Drop{Seq: 4, Checksum: crc4 + 1}); err != nil { // by hand: drop refuses it
		t.Fatal(err)
	}
	out = mustRingex(t, "journal", "inspect", dir)
	wantLine(t, out, fmt.Sprintf(`^dropped input 4 \(checksum %08x\): the journal holds another input there \(checksum %08x\): this entry drops nothing$`, crc4+1, crc4))
	wantLine(t, out, fmt.Sprintf(`^dropped input 3 \(checksum %08x\): the engine rejects it`, crc))
	wantLine(t, out, `^dropped input 9 \(checksum 0000abcd\): not in this journal`)
	out = mustRingex(t, "replay", "--set", "node.data_dir="+cfg.Node.DataDir)
	wantLine(t, out, `^dropped input 3: rejected \(dropped-by-operator\), not applied`)
	wantLine(t, out, `^input 4 applied: dropped-inputs lists its sequence with another checksum`)
	wantLine(t, out, `^orders accepted 4, trades 0, rejects 1, live orders 4$`)

	release, err := node.LockDir(dir) // as a running node holds it
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := ringex(t, nil, "journal", "drop", dir, "--input", "4", "--yes"); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("drop beside a running node: %v", err)
	}
}
