package main

import (
	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "ringex",
		Short: "ringex is an LMAX-style exchange server: one matching thread fed by a ring buffer",
		Long: `ringex is an exchange server built around a disruptor ring buffer: gateways
publish raw client messages into an input ring; a journaller, a replicator and
an unmarshaler consume it in parallel; a single-threaded in-memory matching
engine consumes after all three and publishes events to output rings.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCmd(), newServeCmd(), newJournalCmd(), newReplayCmd(), newSnapshotCmd(), newConfigCmd(), newBenchCmd())
	return root
}
