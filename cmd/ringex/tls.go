package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/ringex/ringex/client"
)

// gatewayTLSFlags are the flags of the commands that log on to a
// gateway: whether to speak TLS to it (gateway.tls), and a CA to trust.
type gatewayTLSFlags struct {
	on     bool
	caFile string
	caFlag string // the CA's flag, for errors: --tls-ca, --md-tls-ca
}

// register adds --tls and --tls-ca to fs (a command's flags, or a
// group's persistent ones).
func (g *gatewayTLSFlags) register(cmd *cobra.Command, persistent bool) {
	fs := cmd.Flags()
	if persistent {
		fs = cmd.PersistentFlags()
	}
	g.caFlag = "--tls-ca"
	usage := "speak TLS to the gateway (a node with gateway.tls; client watch: to the market-data port, marketdata.tls), trusting the system's CAs"
	if !persistent {
		// bench: order entry's alone; its subscribers take --md-tls.
		usage = "speak TLS to the gateway (a node with gateway.tls; --md-tls for the market-data port), trusting the system's CAs"
	}
	fs.BoolVar(&g.on, "tls", false, usage)
	fs.StringVar(&g.caFile, "tls-ca", "", "a PEM file of a CA to trust besides the system's (a private CA); implies --tls")
}

// registerMD adds --md-tls and --md-tls-ca to cmd's flags: TLS to the
// market-data port of a command that dials order entry too (bench). A
// flag of their own, not --tls: a node may have gateway.tls without
// marketdata.tls (every node before marketdata.tls existed), and either
// port's TLS must be asked for alone.
func (g *gatewayTLSFlags) registerMD(cmd *cobra.Command) {
	g.caFlag = "--md-tls-ca"
	cmd.Flags().BoolVar(&g.on, "md-tls", false, "speak TLS to the market-data port (a node with marketdata.tls), trusting the system's CAs")
	cmd.Flags().StringVar(&g.caFile, "md-tls-ca", "", "a PEM file of a CA to trust for the market-data port besides the system's; implies --md-tls")
}

// config is the TLS to speak to the gateway (nil: plain TCP). The server
// name is the host of the address dialled.
func (g *gatewayTLSFlags) config() (*tls.Config, error) {
	if !g.on && g.caFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if g.caFile != "" {
		pool, err := trustingCA(g.caFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", g.caFlag, err)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// trustingCA is the system's certificate pool with the CA certificate(s)
// in the PEM file caFile added: what a client of a node with a private
// CA trusts (--tls-ca, --md-tls-ca, RINGEX_ADMIN_CA).
func trustingCA(caFile string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	return pool, nil
}

// logonHint adds to err, a failed logon over plain TCP that the gateway
// hung up on (client.ErrHungUpAtLogon: the library says a port with TLS
// does that), the flag to add; and to a dial the address refused, what
// to check.
func logonHint(err error, tlsCfg *tls.Config) error {
	if errors.Is(err, client.ErrHungUpAtLogon) {
		return fmt.Errorf("%w (the gateway: if it has TLS (gateway.tls), add --tls)", err)
	}
	return refusedHint(plainHint(err, tlsCfg, "the gateway", "gateway.tls"), "--addr", "gateway.listen")
}

// refusedHint adds to err, a dial that the address refused (no process
// listens there: an errno of connRefusals, per system), what to check:
// that the node runs, and that flag names the address its key listens
// on. Without it a first try against a node not started said only
// "connection refused".
func refusedHint(err error, flag, key string) error {
	if slices.ContainsFunc(connRefusals, func(errno error) bool { return errors.Is(err, errno) }) {
		return fmt.Errorf("%w (nothing listens at that address: is the node (ringex serve) running, and does %s name its %s?)", err, flag, key)
	}
	return err
}

// plainHint adds to err, a TLS dial that a plain-TCP port answered (or
// timed out on: it waits for the rest of a frame a ClientHello began),
// that the port may have no TLS.
func plainHint(err error, tlsCfg *tls.Config, port, key string) error {
	var notTLS tls.RecordHeaderError
	if err != nil && tlsCfg != nil && (errors.As(err, &notTLS) || errors.Is(err, os.ErrDeadlineExceeded)) {
		return fmt.Errorf("%w (if %s has no TLS (%s unset), drop the TLS flags)", err, port, key)
	}
	return err
}

// mdHint adds to err, a market-data dial or read over plain TCP that
// the port hung up on, that a port with TLS does that: it heard no
// handshake; and to a dial the address refused, what to check.
func mdHint(err error, tlsCfg *tls.Config, flag string) error {
	if errors.Is(err, client.ErrHungUpAtLogon) { // the library said why (--logon)
		return fmt.Errorf("%w (the market-data port: if it has TLS (marketdata.tls), add %s)", err, flag)
	}
	if err != nil && tlsCfg == nil && errors.Is(err, io.EOF) {
		return fmt.Errorf("%w (the market-data port hung up: if it has TLS (marketdata.tls), add %s)", err, flag)
	}
	return refusedHint(plainHint(err, tlsCfg, "the market-data port", "marketdata.tls"), "--md-addr", "marketdata.listen")
}
