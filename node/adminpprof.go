package node

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxProfileSeconds bounds the seconds= of every /debug/pprof request: a
// CPU profile or trace (/debug/pprof/profile, /debug/pprof/trace) and a
// delta profile (/debug/pprof/heap?seconds=…). Unbounded, one request
// held the process's only CPU profile for as long as it asked — hours —
// and every operator after it was refused; and each held one of the
// port's adminMaxConnections all the while. A minute is what operators
// take (go tool pprof asks for 30 s by default); a longer look is several
// profiles one after another.
const maxProfileSeconds = 60

// adminProfiles holds the admin port's running CPU profile, execution
// trace and delta profile, one of each at a time. The runtime takes one
// CPU profile at a time and one trace, and pprof answered a second one
// 500, or, for a trace, made it wait; a delta profile
// (/debug/pprof/heap?seconds=…, and allocs, block, goroutine, mutex,
// threadcreate) held a goroutine and two profiles for its seconds, as
// many at once as callers asked. A second one of a kind is answered 409
// saying what runs and when it ends.
type adminProfiles struct {
	cpu, trace, delta profileSlot
}

// profileSlot is one kind of profile the admin port takes one at a time.
type profileSlot struct {
	mu   sync.Mutex
	end  time.Time // when the running one ends; zero: none runs
	what string    // what runs: "a CPU profile", "a delta profile of heap (30 s)"
}

// take takes the slot for what, to end in d, or says what runs instead.
func (s *profileSlot) take(what string, d time.Duration) (running string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.end.IsZero() {
		return fmt.Sprintf("%s is already being taken (one at a time); it ends in %v", s.what, max(time.Until(s.end), 0).Round(time.Second)), false
	}
	s.end, s.what = time.Now().Add(d), what
	return "", true
}

// free frees the slot its taker held.
func (s *profileSlot) free() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.end, s.what = time.Time{}, ""
}

// pprofHandlers adds the profiling endpoints to mux, behind the token
// like everything else.
func (n *Node) pprofHandlers(mux *http.ServeMux) {
	mux.Handle("GET /debug/pprof/", n.auth(paramsBy(pprofParams, profileBound(false, 0, nil, "", deltaBound(&n.profiles.delta, http.HandlerFunc(pprof.Index))))))
	mux.Handle("GET /debug/pprof/profile", n.auth(onlyParams(profileBound(false, 30, &n.profiles.cpu, "a CPU profile", http.HandlerFunc(pprof.Profile)), "seconds")))
	mux.Handle("GET /debug/pprof/trace", n.auth(onlyParams(profileBound(true, 1, &n.profiles.trace, "an execution trace", http.HandlerFunc(pprof.Trace)), "seconds")))
}

// pprofParams are the parameters pprof reads for path under
// /debug/pprof/: none for the index, debug and seconds for a profile
// (gc too for heap, the one it collects garbage before). Any other is
// refused (paramsBy): pprof ignored it.
func pprofParams(path string) []string {
	switch name := strings.TrimPrefix(path, "/debug/pprof/"); name {
	case "":
		return nil
	case "heap":
		return []string{"debug", "gc", "seconds"}
	default:
		return []string{"debug", "seconds"}
	}
}

// deltaProfiles are the profiles pprof serves as a delta over seconds=
// (its profileSupportsDelta): each such request held a goroutine and two
// profiles for its seconds.
var deltaProfiles = []string{"allocs", "block", "goroutine", "heap", "mutex", "threadcreate"}

// deltaBound serves a delta profile (one of deltaProfiles, with seconds=
// in its query: checked and bounded by profileBound) through slot, one
// at a time: another while one runs is answered 409 saying which runs
// and when it ends. Every other request (a profile at once, the index,
// a name pprof refuses) goes to h as it is.
func deltaBound(slot *profileSlot, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/debug/pprof/")
		secs, err := strconv.ParseInt(r.Form.Get("seconds"), 10, 64) // the query's alone: queryOnly
		if err != nil || !slices.Contains(deltaProfiles, name) {
			h.ServeHTTP(w, r)
			return
		}
		running, ok := slot.take(fmt.Sprintf("a delta profile of %s (%d s)", name, secs), time.Duration(secs)*time.Second)
		if !ok {
			http.Error(w, "admin: "+running, http.StatusConflict)
			return
		}
		defer slot.free()
		h.ServeHTTP(w, r)
	})
}

// profileBound answers 400 a request whose seconds parameter is given
// more than once, is not a number (a whole one unless fraction), is not
// positive, or exceeds maxProfileSeconds — pprof took each of the first
// three for its default (profile?seconds=1.5 ran 30 s). With running
// it serves one request at a time (what names it: "a CPU profile"), of
// deflt seconds without a seconds parameter (pprof's default): a request
// while one runs is answered 409 saying when that one ends, instead of
// pprof's 500 (CPU profile) or a wait (trace).
func profileBound(fraction bool, deflt float64, running *profileSlot, what string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secs, err := profileSeconds(r.URL.RawQuery, fraction, deflt)
		if err != nil {
			http.Error(w, "admin: "+err.Error(), http.StatusBadRequest)
			return
		}
		r = queryOnly(r)
		if running == nil {
			h.ServeHTTP(w, r)
			return
		}
		busy, ok := running.take(what, time.Duration(secs*float64(time.Second)))
		if !ok {
			http.Error(w, "admin: "+busy, http.StatusConflict)
			return
		}
		defer running.free()
		h.ServeHTTP(w, r)
	})
}

// queryOnly is r with its form the query's alone: pprof reads seconds
// with FormValue, which parses a multipart body too, on any method — a
// GET with no seconds in its query (checked: the default) and
// seconds=3600 in a multipart body ran its hour. The query parsed when
// profileSeconds checked it.
func queryOnly(r *http.Request) *http.Request {
	q, _ := url.ParseQuery(r.URL.RawQuery)
	r = r.WithContext(r.Context()) // a shallow copy
	r.Form, r.PostForm = q, url.Values{}
	return r
}

// profileSeconds is the seconds a pprof request with the raw query asks
// for (deflt when it names none), or why it is refused.
func profileSeconds(raw string, fraction bool, deflt float64) (float64, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return 0, fmt.Errorf("the query does not parse: %w", err)
	}
	v, ok := q["seconds"]
	switch {
	case !ok:
		return deflt, nil
	case len(v) != 1:
		return 0, fmt.Errorf("seconds given %d times: give it once", len(v))
	}
	var secs float64
	if fraction {
		secs, err = strconv.ParseFloat(v[0], 64)
	} else {
		var whole int64
		whole, err = strconv.ParseInt(v[0], 10, 64)
		secs = float64(whole)
	}
	if err != nil || !(secs > 0) {
		what := "a whole number of seconds"
		if fraction {
			what = "a number of seconds"
		}
		return 0, fmt.Errorf("seconds=%q: want %s, above 0 and at most %d", v[0], what, maxProfileSeconds)
	}
	if secs > maxProfileSeconds {
		return 0, fmt.Errorf("seconds=%s: at most %d on this port (for a longer look take several, one after another)", v[0], maxProfileSeconds)
	}
	return secs, nil
}
