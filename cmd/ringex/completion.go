package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newCompletionCmd replaces cobra's default completion command, whose
// generators write to the stdout captured when it is built rather than
// to the command's output.
func newCompletionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Prints the completion script for a shell: commands, subcommands, flags and
some flag values (instrument symbols, sides, order types, time in force).

bash (needs the bash-completion package):
  source <(ringex completion bash)                          # this shell
  ringex completion bash > /etc/bash_completion.d/ringex    # every new shell
zsh:
  ringex completion zsh > "${fpath[1]}/_ringex"             # then start a new shell
fish:
  ringex completion fish > ~/.config/fish/completions/ringex.fish
PowerShell:
  ringex completion powershell | Out-String | Invoke-Expression`,
		Example: `  source <(ringex completion bash)
  ringex completion zsh > "${fpath[1]}/_ringex"
  ringex completion fish > ~/.config/fish/completions/ringex.fish`,
		ValidArgs:             []string{"bash", "zsh", "fish", "powershell"},
		Args:                  cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			out, root := cmd.OutOrStdout(), cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(out)
			}
			return fmt.Errorf("completion: unknown shell %q", args[0])
		},
	}
}
