package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ringex/ringex/journal"
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
			var w = cmd.OutOrStdout()
			if !verbose {
				w = nil
			}
			st, err := journal.Inspect(args[0], nil, w)
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
