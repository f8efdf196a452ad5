package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func adminPost(addr, path, token string, out io.Writer) error {
	req, err := http.NewRequest("POST", "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprint(out, string(body))
	return nil
}

func newSnapshotCmd() *cobra.Command {
	var addr, token string
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Ask a running node to take a snapshot now",
		Long: `Sends a snapshot command to a running node through its admin endpoint. The
command travels through the input ring, so the snapshot is taken at an exact
sequence; the node writes it to <data_dir>/snapshots off the matching thread.`,
		Example: "  ringex snapshot\n  ringex snapshot --admin 127.0.0.1:7480 --token $TOKEN",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return adminPost(addr, "/snapshot", token, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&addr, "admin", "127.0.0.1:7480", "the node's admin address")
	cmd.Flags().StringVar(&token, "token", os.Getenv("RINGEX_ADMIN_TOKEN"), "admin token, if the node requires one")
	return cmd
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Show the configuration",
		Example: "  ringex config print"}
	var path string
	var sets []string
	print := &cobra.Command{
		Use:     "print",
		Short:   "Print the effective configuration, secrets masked",
		Example: "  ringex config print\n  ringex config print --config ringex.yaml --set gateway.listen=:9400",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(path, sets)
			if err != nil {
				return err
			}
			return cfg.Print(cmd.OutOrStdout())
		},
	}
	print.Flags().StringVar(&path, "config", os.Getenv("RINGEX_CONFIG"), "YAML config file")
	print.Flags().StringArrayVar(&sets, "set", nil, "override one setting, key=value")
	cmd.AddCommand(print)
	return cmd
}
