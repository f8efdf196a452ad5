package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// clientFlagUse lists, for each flag `ringex client` shares with its
// subcommands that not all of them use, the subcommands that do. A flag
// given to another was taken and did nothing — `client order --md-addr
// X` ordered on the default gateway without a word, `client resend
// --wait 5s` waited as it would have anyway — and the user believed it
// did what it says. The rest of the shared flags (--account and the
// secrets, --config, --tls, --tls-ca, --timeout) every subcommand uses.
var clientFlagUse = map[string][]string{
	"addr":    {"order", "cancel", "replace", "mass-cancel", "orders", "resend", "reports", "shell"},
	"md-addr": {"watch"},
	"wait":    {"order", "cancel", "replace", "mass-cancel", "orders", "shell"},
}

// watchLogonFlags are used by watch only with --logon: without it, watch
// logs on nowhere.
var watchLogonFlags = []string{"account", "secret", "secret-file"}

// refuseClientFlags refuses a shared flag given to a subcommand that does
// not use it (clientFlagUse), naming the flag and the subcommands it is
// for: the `client` group's PersistentPreRunE.
func refuseClientFlags(cmd *cobra.Command) error {
	sub := cmd.Name()
	for _, name := range slices.Sorted(maps.Keys(clientFlagUse)) {
		use := clientFlagUse[name]
		switch {
		case !cmd.Flags().Changed(name) || slices.Contains(use, sub):
		case sub == "watch" && name == "addr":
			// Given for the node to watch, --addr watched the default
			// --md-addr, a local node's book.
			return fmt.Errorf("--addr is for the gateway: watch reads the market-data port, --md-addr (--addr applies to client %s)", orList(use))
		default:
			return fmt.Errorf("--%s is not a flag of client %s: it applies to client %s", name, sub, orList(use))
		}
	}
	if sub == "watch" {
		if logon, _ := cmd.Flags().GetBool("logon"); !logon {
			for _, name := range watchLogonFlags {
				if cmd.Flags().Changed(name) {
					return fmt.Errorf("--%s is for a logon: client watch logs on to the market-data port only with --logon", name)
				}
			}
		}
	}
	return nil
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
