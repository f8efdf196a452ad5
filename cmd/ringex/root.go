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
		Example: `  ringex serve
  ringex client order --account 4 --side buy --instrument BTC-USD --qty 0.0005 --price 60000
  ringex client watch --instrument BTC-USD
  ringex help client order`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCmd(), newServeCmd(), newJournalCmd(), newReplayCmd(), newSnapshotCmd(), newConfigCmd(), newBenchCmd(),
		newClientCmd(), newHaltCmd(true), newHaltCmd(false), newAccountCmd(), newSessionsCmd(), newStatusCmd(), newClusterCmd(), newCompletionCmd())
	// The help command exists from here on (not only once Execute runs), so
	// it can carry an example like every other command.
	root.InitDefaultHelpCmd()
	// A group of commands (client, journal, config, account) given a word
	// that is none of its subcommands fails like the root does: cobra
	// printed the group's help and exited 0.
	var groups func(c *cobra.Command)
	groups = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.HasSubCommands() && !sub.Runnable() {
				sub.Args = cobra.NoArgs
				sub.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
			}
			groups(sub)
		}
	}
	groups(root)
	for _, c := range root.Commands() {
		if c.Name() == "help" {
			c.Example = "  ringex help serve\n  ringex help client watch"
		}
	}
	return root
}
