package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/replicator"
)

func newServeCmd() *cobra.Command {
	var path string
	var sets []string
	var acceptLostJournal bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run an exchange node",
		Long: `Run an exchange node. With no --config it runs the embedded demo
configuration: a few instruments, demo accounts (their secrets are printed
at startup) and a data directory ./data under the working directory
($RINGEX_CONFIG, when set, names the config instead).

On start it restores the newest snapshot, replays the journal after it,
then opens the gateway. SIGTERM, SIGINT or SIGHUP (a closed terminal; not
under nohup) stops accepting, drains the rings,
syncs the journal, snapshots at its end (snapshot.on_stop) and exits 0;
one during recovery, or while it maps its rings, stops it before its ports
open (ring mapping: once the rings are mapped). A second signal before the stop ends
(recovery and ring mapping included; a second or more after the first)
exits at once with status 1, as a kill would.

A cluster member that stops on an error its next start resolves — a
leader deposed with inputs in flight, a raft snapshot staged to load —
restarts in place: it stops its node and executes itself again, the same
process with the same arguments (never bootstrapping), up to
cluster.restarts_in_place times in 10 minutes; one more exits with
status 1, as every other fatal error does.

A node alone whose journal directory (journal.dir) holds no segment, beside
a snapshot past input 0, refuses to start: the journal was moved (copy its
segments into journal.dir) or lost with its disk, and the inputs
acknowledged after the snapshot may have been in it. --accept-lost-journal
starts it from the snapshot alone, once, giving those inputs up — their
sequences (order ids) are given out again — and says so in the log (warn);
a later start with it, when nothing is lost, is refused: do not leave it in
a service unit.`,
		Example: `  ringex serve
  ringex serve --config /etc/ringex/ringex.yaml
  ringex serve --set gateway.listen=127.0.0.1:9400 --set journal.sync=none
  ringex serve --log-format console --log-level debug
  # once, after the journal's disk was lost for good (see the runbook)
  ringex serve --config /etc/ringex/ringex.yaml --accept-lost-journal
  # a new three-node cluster: each member's first start (later starts without --bootstrap);
  # members talk mutual TLS (cluster.tls) unless all are on loopback
  ringex serve --node-id 1 --peers 1=n1:7500=n1:7400,2=n2:7500=n2:7400,3=n3:7500=n3:7400 --bootstrap \
    --set cluster.tls.cert_file=n1.pem --set cluster.tls.key_file=n1.key --set cluster.tls.ca_file=ca.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			restarts := takeRestarts(time.Now()) // before the config reads the environment
			if path == "" {
				path = os.Getenv(config.EnvConfigPath) // as loadConfig does: the demo banner below only for the embedded config
			}
			cfg, err := loadServeConfig(path, flagSettings(cmd), sets)
			if err != nil {
				return err
			}
			log, closeLog := newLogger(cfg, cmd.ErrOrStderr())
			defer closeLog()
			if len(restarts) > 0 {
				log.Info().Int("restarts_in_place", len(restarts)).Dur("window_ms", config.RestartWindow).Msg("restarted in place")
			}
			if path == "" {
				demoBanner(cmd.OutOrStdout(), cfg)
			} else if ids := cfg.DemoSecretAccounts(); len(ids) > 0 {
				// A config file without its own accounts keeps the demo
				// ones, whose secrets anyone can read.
				log.Warn().Uints32("accounts", ids).Str("config", path).
					Msg("config: these accounts have the embedded demo config's secrets, which are public: anyone can log on as them; give the config its own accounts (or secrets)")
			}
			if path != "" {
				demo := cfg.DemoSecretAccounts()
				short := slices.DeleteFunc(cfg.ShortSecretAccounts(), func(id uint32) bool { return slices.Contains(demo, id) })
				if len(short) > 0 {
					log.Warn().Uints32("accounts", short).Int("min_bytes", config.MinSecretBytes).
						Msg("config: these accounts' secrets are short: the failed-logon guard limits guesses per address (per account only with gateway.failed_logons_per_account_per_minute), and many addresses together can guess a short secret; give each 16 random bytes or more (openssl rand -hex 16)")
				}
			}
			// From the start: a SIGTERM during recovery or ring mapping
			// took Go's default action and killed the process, with no
			// stop and no last log lines; now it stops the node once it
			// is built.
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
			// A closed terminal or ssh session (SIGHUP) stops the node
			// cleanly too, instead of killing it; under nohup it stays
			// ignored.
			if !signal.Ignored(syscall.SIGHUP) {
				signal.Notify(sig, syscall.SIGHUP)
			}
			defer signal.Stop(sig)
			// Watched from here to the stop's end: a second signal while
			// recovery or Start runs exits too (nothing read the channel
			// then, and it was dropped).
			exit := func(code int) { closeLog(); os.Exit(code) } // the warning written out first
			signals := watchStopSignals(sig, secondSignalGrace, log, exit)
			defer signals.finish()
			// restartAfter stops the command after a fatal error, the node
			// stopped: an exit, or a restart in place (restart.go).
			restartAfter := func(err error) error {
				return restarts.restartAfter(err, cfg.Cluster.RestartsInPlace, func() bool {
					// From here a stop signal takes its default action and
					// ends the process: taken by the watch instead, it was
					// lost in the exec, and the new image ran on.
					signal.Stop(sig)
					return signals.taken()
				}, log, closeLog)
			}
			n, rec, err := newNode(cfg, log, node.Options{AcceptLostJournal: acceptLostJournal})
			if err != nil {
				return err
			}
			// stop stops the node on the first signal; a fatal error that
			// came meanwhile is the command's result.
			stop := func() error {
				if err := signals.during(n.Stop); err != nil {
					return err
				}
				select {
				case err := <-n.Fatal():
					return err
				default:
				}
				f := n.Final()
				log.Info().Int64("last_seq", f.LastSeq).Str("state_hash", fmt.Sprintf("%016x", f.Hash)).Msg("stopped")
				return nil
			}
			// The rules and the reference data (symbols, decimals) it
			// serves under, as GET /state gives them: every member's
			// must be the same (ringex status compares them).
			log.Info().Int64("snapshot_seq", rec.SnapshotSeq).Int64("replayed", rec.Replayed).
				Int64("last_seq", rec.LastSeq).Str("state_hash", fmt.Sprintf("%016x", rec.Hash)).
				Str("rules", fmt.Sprintf("%016x", node.EngineConfig(cfg).Fingerprint())).Str("reference", fmt.Sprintf("%016x", cfg.ReferenceFingerprint())).
				Msg("recovered")
			select {
			case <-signals.first:
				return stop() // before Start: no port opened
			default:
			}
			// A signal during Start (mapping the rings can take seconds)
			// stops it before the ports open; one after that, as soon as
			// it returns, its addresses not printed.
			addrs, err := startNode(n, signals.asked)
			if errors.Is(err, node.ErrStoppedBeforeLive) {
				return stop()
			}
			if err != nil {
				n.Stop() // what Start started (rings, engine, raft member), the journal and the locks
				return restartAfter(err)
			}
			select {
			case <-signals.first:
				return stop()
			default:
			}
			admin := "off (admin.listen is \"\")"
			if addrs.Admin != "" {
				admin = "http://" + addrs.Admin
				if cfg.Admin.TLS.Enabled() {
					admin = "https://" + addrs.Admin
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ringex: gateway %s, market data %s, admin %s\n", addrs.Gateway, addrs.MarketData, admin)
			select {
			case <-signals.first:
				return stop()
			case err := <-n.Fatal():
				return restartAfter(stopAfterFatal(err, n.Stop, log, exit))
			}
		},
	}
	cmd.Flags().StringVar(&path, "config", os.Getenv(config.EnvConfigPath), "YAML config file (default: the embedded demo config)")
	cmd.Flags().Uint32("node-id", 0, "this node's id (node.id); in a cluster one of --peers")
	cmd.Flags().String("peers", "", `cluster members "id=raft_addr=gateway_addr,…" (cluster.peers), this node included`)
	cmd.Flags().String("raft-listen", "", "consensus listen address (cluster.raft_listen); default: this node's raft_addr in --peers")
	cmd.Flags().Bool("bootstrap", false, "form a new cluster of --peers (cluster.bootstrap): on the first start of a new cluster's members only; "+
		"a member with no raft state started without it joins, as one whose data was lost must")
	cmd.Flags().String("log-format", "", "log format: json or console (default: log.format, json)")
	cmd.Flags().String("log-level", "", "log level: trace, debug, info, warn, error (default: log.level, info)")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override one setting, key=value (repeatable), e.g. --set gateway.listen=:9400 "+
		"(not admin.token: every local user reads the command line with ps; admin.token_file or RINGEX_ADMIN_TOKEN)")
	cmd.Flags().BoolVar(&acceptLostJournal, "accept-lost-journal", false, "a node alone whose journal directory holds no segment: start from the newest snapshot, "+
		"giving up every input journaled after it (their order ids are given out again); for one start, after the journal was lost for good")
	return cmd
}

// loadServeConfig is serve's config: loadConfig with the settings of
// serve's own flags applied before sets (flagSettings), the token file
// read as the node reads it (config.ReadTokenFile: refused when owned by
// another user than the node's or root).
func loadServeConfig(path string, flags []flagSetting, sets []string) (*config.Config, error) {
	return loadConfigAs(path, flags, sets, (*config.Config).ReadTokenFile)
}

// loadConfig applies defaults < file < RINGEX_* env < --set, reads
// admin.token_file — as the admin commands read RINGEX_ADMIN_TOKEN_FILE,
// whoever owns it (config.ReadTokenFileNotServing): the variable is
// admin.token_file too, and an operator who exports it for them reads
// the node's file through a group they share — then validates. For the
// commands that do not serve (serve: loadServeConfig).
func loadConfig(path string, sets []string) (*config.Config, error) {
	return loadConfigAs(path, nil, sets, (*config.Config).ReadTokenFileNotServing)
}

// loadConfigAs is loadConfig with flags applied before sets, and the
// token file read by readToken.
func loadConfigAs(path string, flags []flagSetting, sets []string, readToken func(*config.Config) error) (*config.Config, error) {
	if path == "" {
		path = os.Getenv(config.EnvConfigPath) // every command, as serve and config print do
	}
	cfg, err := config.Load(path, os.Environ())
	if err != nil {
		return nil, err
	}
	for _, f := range flags {
		if err := cfg.SetFlag(f.flag, f.key, f.value); err != nil {
			return nil, err
		}
	}
	for _, kv := range sets {
		key, value, ok := cutKV(kv)
		if !ok {
			// Only the key-like start is shown: the rest may be a
			// secret typed after a ':' or a space instead of the '='.
			return nil, fmt.Errorf("--set %q…: want key=value (the rest of the argument is not shown: it may hold a secret)", keyPrefix(kv))
		}
		if err := cfg.Set(key, value); err != nil {
			return nil, err
		}
	}
	cfg.DefaultRaftListen()
	if err := readToken(cfg); err != nil {
		return nil, err
	}
	return cfg, cfg.Validate()
}

// keyPrefix is the start of s that may be a key: letters, digits, '_'
// and '.'.
func keyPrefix(s string) string {
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.') {
			return s[:i]
		}
	}
	return s
}

func cutKV(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '=' {
			return s[:i], s[i+1:], i > 0
		}
	}
	return "", "", false
}

// flagSetting is a setting one of serve's own flags gave: the flag as
// the operator typed it, which a refusal of the value names
// (config.SetFlag) — it said "(from --set)", a flag the operator had not
// typed — the key it sets, and the value.
type flagSetting struct{ flag, key, value string }

// flagSettings turns serve's flags that set one key each — --node-id,
// --peers, --raft-listen, --bootstrap, --log-format, --log-level — into
// their settings, applied before the explicit --set flags, which win.
// The log flags are settings like the others, applied before validation:
// they can mend a bad log.* value of the file.
func flagSettings(cmd *cobra.Command) []flagSetting {
	var out []flagSetting
	f := cmd.Flags()
	id, _ := f.GetUint32("node-id")
	if f.Changed("node-id") {
		out = append(out, flagSetting{"--node-id", "node.id", fmt.Sprint(id)})
	}
	peers, _ := f.GetString("peers")
	if f.Changed("peers") {
		out = append(out, flagSetting{"--peers", "cluster.peers", peers})
	}
	// Without --raft-listen, loadConfig defaults it from the peers, by
	// the effective node.id (Config.DefaultRaftListen).
	if listen, _ := f.GetString("raft-listen"); listen != "" {
		out = append(out, flagSetting{"--raft-listen", "cluster.raft_listen", listen})
	}
	if f.Changed("bootstrap") {
		b, _ := f.GetBool("bootstrap")
		out = append(out, flagSetting{"--bootstrap", "cluster.bootstrap", fmt.Sprint(b)})
	}
	for _, l := range []struct{ name, key string }{{"log-format", "log.format"}, {"log-level", "log.level"}} {
		if v, _ := f.GetString(l.name); v != "" {
			out = append(out, flagSetting{"--" + l.name, l.key, v})
		}
	}
	return out
}

// newNode and startNode are node.NewWithOptions and Node.StartUnless;
// tests put a recovery or a ring mapping that lasts as long as they need
// in their place.
var (
	newNode   = node.NewWithOptions
	startNode = (*node.Node).StartUnless
)

// stopSignals watches serve's stop signals (SIGTERM, SIGINT, SIGHUP)
// from before recovery to the end of the stop. The first asks for a
// stop, which serve makes as soon as it can: at once when the node is
// live, else once recovery or Start returns. A later one while the node
// recovers, starts or stops (an operator's second Ctrl-C during a long
// replay, a cold ring mapping, a slow drain or snapshot) exits at once
// with status 1, as a kill would: what was acknowledged is in the
// journal and the next start recovers it. Before, a second signal during
// the stop was taken and ignored, and one during recovery or Start was
// never read; only kill -9 ended them.
// Signals within grace of the first are that one again: a Ctrl-C reaches
// every process of the terminal's group, and a supervisor (deploy/
// cluster.sh) that forwards its own copy sent the node two at once.
type stopSignals struct {
	// first receives the first signal (buffered: it waits there until
	// serve can stop); the watch sends it nothing else. asked is closed
	// then too, for Start (node.StartUnless) to see.
	first chan os.Signal
	asked chan struct{}
	// done is closed by finish: the stop is over, signals are no longer
	// watched.
	done     chan struct{}
	doneOnce sync.Once
	// settle hands the watch a channel to close once it has taken the
	// signal waiting in sig, if any (taken).
	settle chan chan struct{}
}

// watchStopSignals starts watching sig until finish; exit(1) is its
// answer to a second signal.
func watchStopSignals(sig <-chan os.Signal, grace time.Duration, log zerolog.Logger, exit func(int)) *stopSignals {
	w := &stopSignals{first: make(chan os.Signal, 1), asked: make(chan struct{}), done: make(chan struct{}), settle: make(chan chan struct{})}
	go func() {
		var first time.Time // when the first signal came; zero before it
		// take takes signal s; false: the watch is over.
		take := func(s os.Signal) bool {
			if first.IsZero() {
				first = time.Now()
				close(w.asked) // before "stopping" is logged: a Start after that sees it
				// Logged at once: during a long recovery nothing else
				// shows the signal was taken.
				log.Info().Str("signal", s.String()).Msg("stopping")
				w.first <- s
				return true
			}
			if time.Since(first) < grace {
				return true
			}
			log.Warn().Str("signal", s.String()).Msg("second signal while stopping: exiting now without finishing the stop, as a kill would")
			exit(1)
			return false
		}
		for {
			select {
			case s := <-sig:
				select {
				case <-w.done: // the stop ended first (select chose at random when both were ready)
					return
				default:
				}
				if !take(s) {
					return
				}
			case settled := <-w.settle:
				select {
				case s := <-sig:
					if !take(s) {
						return
					}
				default:
				}
				close(settled)
			case <-w.done:
				return
			}
		}
	}()
	return w
}

// taken reports whether a stop signal was taken, sig no longer notified
// (signal.Stop: a signal delivered before it returned is in sig): the watch
// takes what sig holds first.
func (w *stopSignals) taken() bool {
	settled := make(chan struct{})
	select {
	case w.settle <- settled:
		<-settled
	case <-w.done:
	}
	select {
	case <-w.asked:
		return true
	default:
		return false
	}
}

// finish ends the watch; again, it does nothing.
func (w *stopSignals) finish() { w.doneOnce.Do(func() { close(w.done) }) }

// during runs stop and ends the watch when it returns: a signal after
// the stop is over no longer exits.
func (w *stopSignals) during(stop func() error) error {
	defer w.finish()
	return stop()
}

// secondSignalGrace: see stopSignals.
const secondSignalGrace = time.Second

// stopAfterFatal stops the node after the fatal error err and returns it
// — except on a disk that stopped answering (replicator.ErrDiskStalled,
// cluster.disk_stall_timeout): the stop would wait on that disk for as
// long as it hangs, raft's shutdown behind the hung log write, so the
// process exits (status 1) at once. The member cut itself off from its
// peers first; what it held unsynced, a crash would have lost too, and
// its journal and raft log are crash-safe.
func stopAfterFatal(err error, stop func() error, log zerolog.Logger, exit func(code int)) error {
	if errors.Is(err, replicator.ErrDiskStalled) {
		log.Error().Err(err).Msg("fatal: exiting without a stop, which would wait on the disk")
		exit(1)
		return err // exit returned: a test's
	}
	log.Error().Err(err).Msg("fatal: stopping")
	stop()
	return err
}

// demoBanner tells whoever runs the embedded demo configuration its
// accounts' secrets (public: they are in the binary) and, when order
// entry listens beyond this machine, that anyone who reaches it can log
// on as them.
func demoBanner(out io.Writer, cfg *config.Config) {
	fmt.Fprintln(out, "ringex: no --config: running the embedded demo configuration")
	for _, a := range cfg.Accounts {
		fmt.Fprintf(out, "  demo account %d secret %s\n", a.ID, a.Secret)
	}
	if host, _, err := net.SplitHostPort(cfg.Gateway.Listen); err == nil && !config.IsLoopback(host) {
		fmt.Fprintf(out, "  order entry listens at %s, beyond this machine: anyone who reaches it can log on as these accounts (--set gateway.listen=127.0.0.1:7400 keeps it local)\n", cfg.Gateway.Listen)
	}
}
