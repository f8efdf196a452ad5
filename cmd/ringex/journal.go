package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

func newJournalCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "journal", Short: "Work with a node's journal",
		Example: "  ringex journal inspect ./data/journal"}
	var verbose bool
	inspect := &cobra.Command{
		Use:   "inspect DIR",
		Short: "Verify every record of a journal and report its sequence range",
		Long: `Reads every segment of the journal in DIR (a node's <data_dir>/journal),
checks every record's CRC and sequence, and prints the range. Exits non-zero
naming the file and offset of the first corrupt record.`,
		Example: "  ringex journal inspect ./data/journal\n  ringex journal inspect -v ./data/journal | head",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := bufio.NewWriterSize(cmd.OutOrStdout(), 1<<20) // -v: a line per record
			var each func(*journal.Record)
			if verbose {
				var line []byte
				each = func(rec *journal.Record) {
					line = append(appendJournalRecord(line[:0], rec), '\n')
					out.Write(line)
				}
			}
			st, err := journal.Inspect(args[0], nil, each)
			fmt.Fprintf(out, "segments %d, records %d, sequences %d…%d, payload %d bytes\n",
				st.Segments, st.Records, st.FirstSeq, st.LastSeq, st.PayloadBytes)
			if st.TornFile != "" {
				fmt.Fprintf(out, "torn tail: %s from offset %d holds no valid record after sequence %d (a write cut short by a crash, or a damaged last record); a node's start truncates it\n",
					st.TornFile, st.TornAt, st.LastSeq)
			}
			out.Flush()
			if err != nil {
				fmt.Fprintln(os.Stderr, "ringex: journal inspect:", err)
			}
			return err
		},
	}
	inspect.Flags().BoolVarP(&verbose, "verbose", "v", false, "print every record")
	cmd.AddCommand(inspect)
	return cmd
}

// appendJournalRecord appends one line of `journal inspect -v`: the
// record's header and what its payload is — the message type, or why it
// is none.
func appendJournalRecord(b []byte, rec *journal.Record) []byte {
	var kind string
	switch input.Kind(rec.Kind) {
	case input.KindClient:
		kind = "client"
	case input.KindControl:
		kind = "control"
	default:
		kind = "kind-" + strconv.Itoa(int(rec.Kind))
	}
	msg := "unverifiable"
	if typ, _, err := proto.Verify(rec.Payload); err == nil {
		if name, ok := wire.EnumNamesMessage[typ]; ok {
			msg = name
		}
	}
	b = strconv.AppendInt(append(b, "seq="...), rec.Seq, 10)
	b = appendNum(b, "recv=", rec.RecvTime)
	b = appendUnum(b, "session=", rec.Session)
	b = appendUnum(b, "account=", uint64(rec.Account))
	b = appendWord(appendWord(b, "", kind), "", msg)
	b = strconv.AppendInt(append(b, " payload="...), int64(len(rec.Payload)), 10)
	return append(b, 'B')
}
