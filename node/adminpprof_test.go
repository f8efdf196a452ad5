package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestProfileSeconds(t *testing.T) {
	for _, c := range []struct {
		query    string
		fraction bool
		want     float64
		refused  string // in the error; "" accepted
	}{
		{"", false, 30, ""},
		{"seconds=60", false, 60, ""},
		{"seconds=1", false, 1, ""},
		{"seconds=0.5", true, 0.5, ""},
		{"seconds=61", false, 0, "at most 60"},
		{"seconds=3600", false, 0, "at most 60"},
		{"seconds=60.5", true, 0, "at most 60"},
		{"seconds=1.5", false, 0, "whole number"},
		{"seconds=0", false, 0, "above 0"},
		{"seconds=-1", true, 0, "above 0"},
		{"seconds=NaN", true, 0, "above 0"},
		{"seconds=Inf", true, 0, "at most 60"},
		{"seconds=x", false, 0, "whole number"},
		{"seconds=1&seconds=3600", false, 0, "2 times"},
		{"seconds=%zz", false, 0, "does not parse"},
		{"seconds=0x10", false, 0, "whole number"},
		{"seconds=%205", false, 0, "whole number"},
		{"seconds=5%20", true, 0, "a number"},
		{"seconds=", false, 0, "whole number"},
		{"seconds=1e9", true, 0, "at most 60"},
		{"seconds=1e1", false, 0, "whole number"},
		{"seconds=-0", true, 0, "above 0"},
		{"seconds=9223372036854775808", false, 0, "whole number"},
		{"seconds=0x1p2", true, 4, ""}, // as pprof reads it (ParseFloat): 4 s
		{"seconds=%2B5", false, 5, ""}, // +5, as pprof reads it (ParseInt): 5 s
		{"seconds=1;seconds=3600", false, 0, "does not parse"},
	} {
		got, err := profileSeconds(c.query, c.fraction, 30)
		switch {
		case c.refused == "" && (err != nil || got != c.want):
			t.Errorf("%q: %v, %v; want %v", c.query, got, err, c.want)
		case c.refused != "" && (err == nil || !strings.Contains(err.Error(), c.refused)):
			t.Errorf("%q: %v, %v; want refused: %s", c.query, got, err, c.refused)
		}
	}
}

// A profile, trace or delta profile asking for more than
// maxProfileSeconds is answered 400 at once, saying the bound: before,
// /debug/pprof/profile?seconds=3600 held the process's CPU profile (and a
// connection) for the hour. A second CPU profile while one runs is
// answered 409 saying when it ends.
func TestProfileBounded(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	get := profileGetter(addrs.Admin) // a request that runs its hour fails in 10 s
	for _, path := range []string{
		"/debug/pprof/profile?seconds=3600",
		"/debug/pprof/trace?seconds=61",
		"/debug/pprof/heap?seconds=100000",
	} {
		code, body, err := get(context.Background(), path)
		if err != nil || code != http.StatusBadRequest || !strings.Contains(body, "at most 60") {
			t.Errorf("GET %s: %d %q %v; want 400 naming the bound", path, code, body, err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		code, body, err := get(ctx, "/debug/pprof/profile?seconds=5")
		if err == nil && code != http.StatusOK {
			t.Errorf("the first profile: %d %q", code, body)
		}
		first <- err
	}()
	waitSlot(t, &n.profiles.cpu, true, "the first profile did not start within 5 s")
	code, body, err := get(context.Background(), "/debug/pprof/profile?seconds=1")
	if err != nil || code != http.StatusConflict || !strings.Contains(body, "already being taken") || !strings.Contains(body, "ends in") {
		t.Errorf("a second profile while one runs: %d %q %v; want 409 saying when it ends", code, body, err)
	}
	cancel() // the first ends with its client
	<-first
	waitSlot(t, &n.profiles.cpu, false, "the profile's slot was not freed within 5 s of its client leaving")
	if code, body, err := get(context.Background(), "/debug/pprof/trace?seconds=0.1"); err != nil || code != http.StatusOK {
		t.Errorf("a short trace: %d %q %v", code, body, err)
	}
}

// The profile handler reads the seconds the bound checked, and only
// those: pprof reads seconds with FormValue, which takes a multipart body
// too — on a GET — so a GET with no seconds in its query (the bound's
// default) and seconds=3600 in a multipart body ran its hour.
func TestProfileBoundIsWhatPprofReads(t *testing.T) {
	for _, query := range []string{"", "?seconds=5"} {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("seconds", "3600")
		mw.Close()
		r := httptest.NewRequest("GET", "/debug/pprof/profile"+query, &body)
		r.Header.Set("Content-Type", mw.FormDataContentType())
		var seen []string
		h := profileBound(false, 30, new(profileSlot), "a CPU profile", http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			seen = append(seen, r.FormValue("seconds"))
		}))
		h.ServeHTTP(httptest.NewRecorder(), r)
		want := strings.TrimPrefix(query, "?seconds=")
		if len(seen) != 1 || seen[0] != want {
			t.Errorf("GET %q with seconds=3600 in a multipart body: the profile read seconds %q, want %q (the query's)", query, seen, want)
		}
	}
}

// Delta profiles (/debug/pprof/heap?seconds=N, allocs, block, goroutine,
// mutex, threadcreate) are taken one at a time, whatever their kind: a
// second while one runs is answered 409 saying which runs and when it
// ends. Each held a goroutine and two profiles for its seconds, as many
// at once as callers asked. A profile at once (no seconds) is served
// meanwhile, and the slot is free again once the first one's client
// leaves.
func TestDeltaProfilesOneAtATime(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	get := profileGetter(addrs.Admin)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan error, 1)
	go func() {
		_, _, err := get(ctx, "/debug/pprof/heap?seconds=30")
		first <- err
	}()
	waitSlot(t, &n.profiles.delta, true, "the first delta profile did not start within 5 s")
	for _, path := range []string{"/debug/pprof/heap?seconds=1", "/debug/pprof/allocs?seconds=1", "/debug/pprof/goroutine?seconds=1", "/debug/pprof/mutex?seconds=1"} {
		code, body, err := get(context.Background(), path)
		if err != nil || code != http.StatusConflict || !strings.Contains(body, "a delta profile of heap (30 s) is already being taken") || !strings.Contains(body, "ends in") {
			t.Errorf("GET %s while a heap delta profile runs: %d %q %v; want 409 saying which runs and when it ends", path, code, body, err)
		}
	}
	if code, body, err := get(context.Background(), "/debug/pprof/heap"); err != nil || code != http.StatusOK {
		t.Errorf("a heap profile at once while a delta one runs: %d %q %v; want 200", code, body, err)
	}
	cancel() // the first ends with its client
	<-first
	waitSlot(t, &n.profiles.delta, false, "the delta profile's slot was not freed within 5 s of its client leaving")
	if code, body, err := get(context.Background(), "/debug/pprof/allocs?seconds=1"); err != nil || code != http.StatusOK {
		t.Errorf("a delta profile once the first left: %d %q %v; want 200", code, body, err)
	}
}

// profileGetter is GET of a path on the admin port at admin, under ctx
// and for 10 s at most: the answer's status and, for a failure's
// message, its body's first 300 bytes — a profile's (200) only counted.
func profileGetter(admin string) func(ctx context.Context, path string) (int, string, error) {
	hc := &http.Client{Timeout: 10 * time.Second}
	return func(ctx context.Context, path string) (int, string, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+admin+path, nil)
		resp, err := hc.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		if resp.StatusCode == http.StatusOK {
			return resp.StatusCode, fmt.Sprintf("(%d bytes of profile)", len(b)), nil
		}
		return resp.StatusCode, string(b), nil
	}
}

// busy reports whether a profile holds the slot.
func (s *profileSlot) busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.end.IsZero()
}

// waitSlot waits up to 5 s for slot's busy to be want, failing the test
// with failure past that.
func waitSlot(t *testing.T, slot *profileSlot, want bool, failure string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); slot.busy() != want; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(failure)
		}
	}
}
