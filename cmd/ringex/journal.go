package main

import (
	"fmt"
	"os"

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
			var each func(*journal.Record)
			if verbose {
				w := cmd.OutOrStdout()
				each = func(rec *journal.Record) { fmt.Fprintln(w, journalRecord(rec)) }
			}
			st, err := journal.Inspect(args[0], nil, each)
			fmt.Fprintf(cmd.OutOrStdout(), "segments %d, records %d, sequences %d…%d, payload %d bytes\n",
				st.Segments, st.Records, st.FirstSeq, st.LastSeq, st.PayloadBytes)
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

// journalRecord is one line of `journal inspect -v`: the record's header
// and what its payload is — the message type, or why it is none.
func journalRecord(rec *journal.Record) string {
	var kind string
	switch input.Kind(rec.Kind) {
	case input.KindClient:
		kind = "client"
	case input.KindControl:
		kind = "control"
	default:
		kind = fmt.Sprintf("kind-%d", rec.Kind)
	}
	msg := "unverifiable"
	if typ, _, err := proto.Verify(rec.Payload); err == nil {
		if name, ok := wire.EnumNamesMessage[typ]; ok {
			msg = name
		}
	}
	return fmt.Sprintf("seq=%d recv=%d session=%d account=%d %s %s payload=%dB", rec.Seq, rec.RecvTime, rec.Session,
		rec.Account, kind, msg, len(rec.Payload))
}
