package main

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/spf13/cobra"
)

// newClusterCmd makes `ringex cluster replace`.
func newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Change a cluster's membership",
		Example: "  ringex cluster replace --id 3 --raft 10.0.0.13:7500 --gateway 10.0.0.13:7400 --admin 10.0.0.1:7480,10.0.0.2:7480"}
	var a adminFlags
	var id uint32
	var raftAddr, gateway string
	replace := &cobra.Command{
		Use:   "replace --id N --raft HOST:PORT --gateway HOST:PORT",
		Short: "Move a member whose machine is lost to a new address",
		Long: `Moves member N to a new raft (consensus) and gateway address in the
cluster's membership, on the leader (with --admin A,B,C it is sent to the one
that leads): the way to replace a member whose machine is lost by one at
another address. The member keeps its id. The leader refuses to move itself,
a member that still answers it (stop that machine for good first: two
processes with one id could elect two leaders), a member when the rest would
not make a majority, while another change is not committed, and addresses
taken: a raft address or gateway another member has, or a gateway at the
member's own raft address (cluster.peers refuses them too). It exits 0
once the change is committed (or the member is at that address already).

Then: put N=RAFT=GATEWAY in cluster.peers on every member; start the
replacement with an empty data directory, without --bootstrap (it joins and
is sent the leader's state); restart the other members one at a time with the
edited peers — until then, while the moved member leads, they answer a logon
with "no leader known" rather than redirect to its new gateway. The runbook
("A member's machine is lost") has the steps.`,
		Example: "  ringex cluster replace --id 3 --raft 10.0.0.13:7500 --gateway 10.0.0.13:7400 \\\n" +
			"      --admin 10.0.0.11:7480,10.0.0.12:7480",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("id") || raftAddr == "" || gateway == "" {
				return errors.New("cluster replace: --id, --raft and --gateway are required")
			}
			if id == 0 {
				// Given, and no member's: it was told it had not given it.
				return errors.New("cluster replace: --id 0 is no member's id: ids start at 1 (the member's node.id)")
			}
			q := url.Values{"id": {fmt.Sprint(id)}, "raft": {raftAddr}, "gateway": {gateway}}
			if err := adminControl(a.addr, "/cluster/replace?"+q.Encode(), a.token, cmd.OutOrStdout(), cmd.ErrOrStderr()); err != nil {
				return fmt.Errorf("cluster replace: %w", err)
			}
			return nil
		},
	}
	a.registerControl(replace)
	replace.Flags().Uint32Var(&id, "id", 0, "the member's id (node.id), kept")
	replace.Flags().StringVar(&raftAddr, "raft", "", "the member's new consensus address, host:port (its raft_addr in cluster.peers)")
	replace.Flags().StringVar(&gateway, "gateway", "", "the member's new gateway address, host:port (its gateway_addr in cluster.peers)")
	cmd.AddCommand(replace)
	return cmd
}
