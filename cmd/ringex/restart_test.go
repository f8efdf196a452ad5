package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/replicator"
)

// The window's restarts come back from the variable; older ones, ones
// in the future (a clock set back) and garbage do not.
func TestRestartsInPlaceKeepTheWindowOnly(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	recent, older := now.Add(-time.Minute), now.Add(-config.RestartWindow-time.Second)
	v := restartsInPlace{older, recent}.String() + ",x,," + fmt.Sprint(now.Add(time.Hour).UnixNano())
	got := parseRestarts(v, now)
	if len(got) != 1 || !got[0].Equal(recent) {
		t.Fatalf("parseRestarts(%q) = %v, want only %v", v, got, recent)
	}

	t.Setenv(envRestarts, restartsInPlace{recent}.String())
	if got := takeRestarts(now); len(got) != 1 {
		t.Fatalf("takeRestarts = %v, want the one restart", got)
	}
	if _, ok := os.LookupEnv(envRestarts); ok {
		t.Fatalf("%s still set after takeRestarts: the config would read it as a key", envRestarts)
	}
	if _, err := config.Load("", []string{envRestarts + "=1"}); err == nil {
		t.Fatalf("the config takes %s: then it need not be removed (and this test is wrong)", envRestarts)
	}
}

// FuzzParseRestarts reads any value of envRestarts — the environment is
// the operator's, and a value the last exec wrote may have been edited or
// cut — as parseRestarts does at serve's start: no panic; only restarts
// of the window before now come back, at most one per comma-separated
// entry; and what comes back, written again as restartAfter writes it
// for the next exec (String), reads back the same.
func FuzzParseRestarts(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	in := restartsInPlace{now.Add(-config.RestartWindow + time.Second), now.Add(-time.Minute), now}
	f.Add(in.String(), now.UnixNano())
	f.Add(in.String()+",x,,"+strconv.FormatInt(now.Add(time.Hour).UnixNano(), 10), now.UnixNano())
	f.Add("", now.UnixNano())
	f.Add(",", int64(0))
	f.Add("+1800000000000000000,-1,0x10,1e18, 1800000000000000000", now.UnixNano())
	f.Add("9223372036854775807,-9223372036854775808,9223372036854775808", int64(-1<<63))
	f.Add("9223372036854775807", int64(1<<63-1))
	f.Fuzz(func(t *testing.T, v string, nowNs int64) {
		now := time.Unix(0, nowNs)
		r := parseRestarts(v, now)
		if entries := strings.Count(v, ",") + 1; len(r) > entries {
			t.Fatalf("parseRestarts(%q) gave %d restarts from %d entries", v, len(r), entries)
		}
		for _, at := range r {
			if at.After(now) || now.Sub(at) >= config.RestartWindow {
				t.Fatalf("parseRestarts(%q, %d) gave %d, not in the window before now", v, nowNs, at.UnixNano())
			}
		}
		again := parseRestarts(r.String(), now)
		if !slices.EqualFunc(again, r, time.Time.Equal) {
			t.Fatalf("parseRestarts(%q, %d) = %q, which reads back as %q", v, nowNs, r, again)
		}
	})
}

// restartAfter executes the binary again, with the restart counted in
// its environment, only for an error the next start resolves, no stop
// asked and room in the window; otherwise it hands the error back, and
// serve exits.
func TestRestartInPlaceOnlyWhenTheNextStartResolves(t *testing.T) {
	deposed := fmt.Errorf("%w: inputs up to 12 dropped by the next leader", node.ErrInputsLost)
	staged := fmt.Errorf("%w (input 40)", replicator.ErrInstalled)
	diverged := fmt.Errorf("%w: input 7 would take ring slot of input 9", replicator.ErrDiverged)
	storage := errors.New("journal: fdatasync: input/output error")
	stalled := fmt.Errorf("%w: a write of the raft log has waited 5s", replicator.ErrDiskStalled)
	rules := fmt.Errorf("%w: instruments", replicator.ErrRulesDiffer)
	notAsked, asked := make(chan struct{}), make(chan struct{})
	close(asked)
	earlier := restartsInPlace{time.Now().Add(-time.Minute)}

	var execs [][]string // the environment of each exec
	defer func(orig func(args, env []string) error) { execSelf = orig }(execSelf)
	for _, tc := range []struct {
		name      string
		err       error
		limit     int
		earlier   restartsInPlace
		stopAsked <-chan struct{}
		execErr   error
		restarts  bool
		logged    string
	}{
		{"deposed", deposed, 10, nil, notAsked, nil, true, "restarting in place"},
		{"staged snapshot", staged, 10, earlier, notAsked, nil, true, "restarting in place"},
		{"diverged", diverged, 10, nil, notAsked, nil, true, "restarting in place"},
		{"storage error", storage, 10, nil, notAsked, nil, false, ""},
		{"stalled disk", stalled, 10, nil, notAsked, nil, false, ""},
		{"rules differ", rules, 10, nil, notAsked, nil, false, ""},
		{"stop asked", deposed, 10, nil, asked, nil, false, ""},
		{"window full", deposed, 1, earlier, notAsked, nil, false, "exiting for the service manager"},
		{"never", deposed, 0, nil, notAsked, nil, false, "exiting for the service manager"},
		{"exec fails", deposed, 10, nil, notAsked, errors.New("permission denied"), true, "restarting in place"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			execs = nil
			execSelf = func(args, env []string) error {
				if !slices.Equal(args, restartArgs(os.Args)) {
					t.Errorf("exec args %q, want serve's own %q and no bootstrap", args, os.Args)
				}
				execs = append(execs, env)
				return tc.execErr
			}
			var logged strings.Builder
			closed := false
			asked := func() bool {
				select {
				case <-tc.stopAsked:
					return true
				default:
					return false
				}
			}
			err := tc.earlier.restartAfter(tc.err, tc.limit, asked, zerolog.New(&logged), func() { closed = true })
			if !errors.Is(err, tc.err) {
				t.Fatalf("returned %v, want %v", err, tc.err)
			}
			if got := len(execs) == 1; got != tc.restarts {
				t.Fatalf("restarted in place: %v, want %v", got, tc.restarts)
			}
			if !strings.Contains(logged.String(), tc.logged) || (tc.logged == "" && logged.Len() > 0) {
				t.Fatalf("logged %q, want %q", logged.String(), tc.logged)
			}
			if !tc.restarts {
				return
			}
			if !closed {
				t.Error("the log was not flushed before the exec")
			}
			var carried string
			for _, kv := range execs[0] {
				if v, ok := strings.CutPrefix(kv, envRestarts+"="); ok {
					carried = v
				}
			}
			if n := len(parseRestarts(carried, time.Now())); n != len(tc.earlier)+1 {
				t.Fatalf("the exec carries %d restarts (%q), want %d", n, carried, len(tc.earlier)+1)
			}
			if tc.execErr != nil && !strings.Contains(err.Error(), tc.execErr.Error()) {
				t.Fatalf("a failed exec's error %v does not say why", err)
			}
		})
	}
}

// A restart in place never forms a cluster again: the member it restarts
// has run. --bootstrap on the first start's command line is overridden
// by a --set at the end (settings after flags), added once however often
// it restarts; the config reads it as cluster.bootstrap false.
func TestRestartInPlaceDoesNotBootstrap(t *testing.T) {
	first := []string{"ringex", "serve", "--node-id", "1", "--peers", "1=127.0.0.1:7500=127.0.0.1:7400", "--bootstrap"}
	again := restartArgs(restartArgs(first))
	if want := append(slices.Clone(first), noBootstrap...); !slices.Equal(again, want) {
		t.Fatalf("restart args %q, want %q", again, want)
	}
	if !bootstraps(t, first) {
		t.Fatal("the first start does not bootstrap: the check below proves nothing")
	}
	if bootstraps(t, again) {
		t.Fatal("the restart's config bootstraps a cluster")
	}
}

// bootstraps reports whether serve's command line args sets
// cluster.bootstrap, as serve reads it.
func bootstraps(t *testing.T, args []string) bool {
	t.Helper()
	serve, _, err := newRootCmd().Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.ParseFlags(args[2:]); err != nil {
		t.Fatal(err)
	}
	sets, err := serve.Flags().GetStringArray("set")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := loadServeConfig("", flagSettings(serve), sets)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Cluster.Bootstrap
}

// The window is counted back from the restart, not from the start of the
// process: a process that was restarted in place cluster.restarts_in_place
// times in a burst, then ran for longer than config.RestartWindow, has
// room again. The restarts were filtered once, at the process's start,
// and a member that had used its restarts an hour ago exited at its next
// deposition instead of restarting in place.
func TestRestartInPlaceWindowCountsBackFromTheRestart(t *testing.T) {
	defer func(orig func(args, env []string) error) { execSelf = orig }(execSelf)
	execs := 0
	execSelf = func(args, env []string) error { execs++; return nil }
	// As takeRestarts left them at the start, an hour before the fatal error.
	start := time.Now().Add(-time.Hour)
	var burst restartsInPlace
	for i := range 3 {
		burst = append(burst, start.Add(-time.Duration(3-i)*time.Second))
	}
	if n := len(parseRestarts(burst.String(), start)); n != 3 {
		t.Fatalf("the burst was %d restarts in the window at the start, want 3", n)
	}
	deposed := fmt.Errorf("%w: inputs up to 12 dropped by the next leader", node.ErrInputsLost)
	var logged strings.Builder
	burst.restartAfter(deposed, 3, func() bool { return false }, zerolog.New(&logged), func() {})
	if execs != 1 {
		t.Fatalf("no restart in place: the restarts of an hour ago were counted in the window; logged %s", logged.String())
	}
}

// A SIGTERM that comes once restartAfter has looked for a stop, while it
// writes its last lines out and before the exec, is the operator's stop:
// it must not be lost in the exec (the new image starts afresh, the
// signal taken by the old one; systemd waits TimeoutStopSec and kills it).
func TestStopSignalJustBeforeTheExecIsNotLost(t *testing.T) {
	defer func(orig func(args, env []string) error) { execSelf = orig }(execSelf)
	execs := 0
	execSelf = func(args, env []string) error { execs++; return nil }
	deposed := fmt.Errorf("%w: inputs up to 12 dropped by the next leader", node.ErrInputsLost)
	// A signal the runtime delivered into serve's channel just before
	// serve stopped watching (signal.Stop), not yet read by the watch.
	sig := make(chan os.Signal, 1)
	w := watchStopSignals(sig, secondSignalGrace, zerolog.Nop(), func(int) {})
	defer w.finish()
	sig <- syscall.SIGTERM
	restartsInPlace(nil).restartAfter(deposed, 10, w.taken, zerolog.Nop(), func() {})
	if execs != 0 {
		t.Fatal("restarted in place after a SIGTERM was delivered: the stop is lost in the exec")
	}
	// None delivered: the restart goes ahead.
	sig = make(chan os.Signal, 1)
	w2 := watchStopSignals(sig, secondSignalGrace, zerolog.Nop(), func(int) {})
	defer w2.finish()
	restartsInPlace(nil).restartAfter(deposed, 10, w2.taken, zerolog.Nop(), func() {})
	if execs != 1 {
		t.Fatalf("%d restarts in place with no signal, want 1", execs)
	}
	// A signal after the stop ended (finish) is not taken, and taken
	// does not wait for the watch.
	w2.finish()
	if w2.taken() {
		t.Fatal("taken after the watch ended, with no signal")
	}
}

// A restart in place runs the binary this process runs, on every system:
// /proc/self/exe exists on Linux only.
func TestRestartInPlaceRunsThisBinary(t *testing.T) {
	want, err := os.Executable()
	if err != nil {
		t.Skip("no path for this binary:", err)
	}
	got, err := os.Stat(selfImage)
	if err != nil {
		t.Fatalf("the restart's binary %s: %v", selfImage, err)
	}
	if st, err := os.Stat(want); err != nil || !os.SameFile(got, st) {
		t.Fatalf("the restart's binary %s is not this process's %s (%v)", selfImage, want, err)
	}
}
