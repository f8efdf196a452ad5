package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/node"
)

// A restart in place: serve, its node stopped after a fatal error the
// next start resolves (node.RestartResolves — a leader deposed with
// inputs in flight, a raft snapshot staged to load), executes its own
// binary again with the same arguments, --bootstrap overridden
// (restartArgs), instead of exiting. The process keeps its id and its
// stdout and stderr; every other descriptor Go opens is close-on-exec,
// so the ports, the data directory's lock and the mapped rings go with
// the old image. The service manager sees no
// exit, so the restart does not count toward its start limit (systemd's
// StartLimitBurst: five in two minutes, then the unit stays down);
// cluster.restarts_in_place bounds them instead, per
// config.RestartWindow, so that an error that comes back at every start
// still ends in an exit.

// envRestarts carries across an exec when the restarts in place of the
// last config.RestartWindow happened: Unix nanoseconds, comma-separated.
// Serve reads it and removes it from its environment at its start; it is
// not a config key.
const envRestarts = "RINGEX_RESTARTS_IN_PLACE"

// execSelf executes the running binary again with args and env. A test
// replaces it.
var execSelf = func(args, env []string) error { return syscall.Exec(selfImage, args, env) }

// selfImage is the binary this process runs. On Linux, /proc/self/exe:
// that binary even when its file was replaced since (an upgrade is a
// deliberate restart, not this). Elsewhere there is no such link (macOS,
// the BSDs): the path the process was started from, read at its start —
// a binary replaced at that path since is the one a restart runs.
var selfImage = func() string {
	if runtime.GOOS == "linux" {
		return "/proc/self/exe"
	}
	if p, err := os.Executable(); err == nil {
		return p
	}
	return os.Args[0]
}()

// restartsInPlace is the restarts in place that brought this process
// here, those of the window before its start only (restartAfter counts
// them again back from the restart it considers: the process may have
// run for longer than the window since).
type restartsInPlace []time.Time

// takeRestarts reads envRestarts and removes it from the environment.
// Unparsable entries are dropped: at worst the bound allows more.
func takeRestarts(now time.Time) restartsInPlace {
	v, ok := os.LookupEnv(envRestarts)
	if !ok {
		return nil
	}
	os.Unsetenv(envRestarts)
	return parseRestarts(v, now)
}

// parseRestarts reads envRestarts's value v: the restarts of the window
// before now, in the order written.
func parseRestarts(v string, now time.Time) restartsInPlace {
	var r restartsInPlace
	for _, f := range strings.Split(v, ",") {
		ns, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			continue
		}
		r = append(r, time.Unix(0, ns))
	}
	return r.within(now)
}

// within is r without the restarts that are not in the window before now
// (older ones, and ones after it: a clock set back).
func (r restartsInPlace) within(now time.Time) restartsInPlace {
	var in restartsInPlace
	for _, t := range r {
		if now.Sub(t) < config.RestartWindow && !t.After(now) {
			in = append(in, t)
		}
	}
	return in
}

func (r restartsInPlace) String() string {
	s := make([]string, len(r))
	for i, t := range r {
		s[i] = strconv.FormatInt(t.UnixNano(), 10)
	}
	return strings.Join(s, ",")
}

// restartAfter is the last step of a serve that stops on the fatal error
// err, its node stopped: it restarts in place when the next start
// resolves err, no stop was asked (a signal during the fatal stop is
// the operator's stop: it exits) and the window has room; otherwise, or
// when the exec fails, it returns err. stopAsked reports whether a stop
// signal came; from its call on, one ends the process (serve stops
// watching them), so that none comes between it and the exec unseen,
// to be lost in the exec.
func (r restartsInPlace) restartAfter(err error, limit int, stopAsked func() bool, log zerolog.Logger, closeLog func()) error {
	if !node.RestartResolves(err) {
		return err
	}
	if stopAsked() {
		return err
	}
	now := time.Now()
	r = r.within(now) // read at the process's start, which may be hours ago
	if len(r) >= limit {
		log.Error().Int("restarts_in_place", len(r)).Int("limit", limit).Dur("window_ms", config.RestartWindow).
			Msg("fatal: restarted in place as often as cluster.restarts_in_place allows; exiting for the service manager")
		return err
	}
	next := append(r, now)
	log.Warn().Err(err).Int("restart", len(next)).Int("limit", limit).Dur("window_ms", config.RestartWindow).
		Msg("restarting in place")
	closeLog() // the lines above written out: the exec discards what is buffered
	env := append(os.Environ(), envRestarts+"="+next.String())
	if xerr := execSelf(restartArgs(os.Args), env); xerr != nil {
		return fmt.Errorf("%w (restarting in place failed: %v)", err, xerr)
	}
	return err // a test's execSelf returned
}

// noBootstrap, last on a restart's command line, overrides --bootstrap
// (and cluster.bootstrap from the file or the environment): the member
// has run, so the cluster it was to form exists; as a supervisor's
// restart would, it starts as a member, never forming a cluster again.
var noBootstrap = []string{"--set", "cluster.bootstrap=false"}

// restartArgs is the command line of a restart in place: args, with
// noBootstrap at the end once.
func restartArgs(args []string) []string {
	if len(args) >= len(noBootstrap) && slices.Equal(args[len(args)-len(noBootstrap):], noBootstrap) {
		return args
	}
	return append(slices.Clip(args), noBootstrap...)
}
