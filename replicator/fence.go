package replicator

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"

	"github.com/ringex/ringex/vfs"
)

// ErrFenced stops a member whose raft RPCs another member refused because
// a committed membership change moved its id to another address
// (Replace): this process is the member a replacement took over from —
// it was not lost, only silent — and must not run on: two processes
// voting as one member can elect two leaders in one term.
var ErrFenced = errors.New("replicator: fenced: this member was moved to another address by a membership change")

// ErrFenceFile: the file of former addresses does not parse.
var ErrFenceFile = errors.New("replicator: the file of fenced addresses is damaged")

// ErrFenceNotWritten stops a member that could not write or fsync the
// file of former addresses after a committed move (contract item 4):
// after a failed fsync what the disk holds is unknown (fail stop), and a
// member restarted without the move in the file would take raft RPCs
// from the moved member's former address again.
var ErrFenceNotWritten = errors.New("replicator: the file of fenced addresses could not be written")

// fencedMark starts the text of a refusal (the network transport passes
// only an error's text): the refused process recognises it and stops.
const fencedMark = "ringex fenced:"

// fenceFile, in the raft directory, keeps the former addresses across
// restarts: the committed change that fenced an address may be folded
// into a raft snapshot by then, never seen again.
const fenceFile = "fenced"

// fenceAside, beside fenceFile, holds what a write of the file that
// failed would have written (fence.write), for the next start to take
// (openFence): a move a leader's raft snapshot brought is in no raft
// log entry to apply again, and raft starts from that snapshot, its
// membership taken as already current — compared with raft's before it
// (started) only while the log still holds that, and raft empties the
// log once the install returned (removeOldLogs: the log store is
// monotonic).
const fenceAside = fenceFile + ".aside"

// fenceResolveWithin bounds the name lookups of the former addresses.
const fenceResolveWithin = 2 * time.Second

// fence keeps the raft addresses committed membership changes moved a
// member away from, and refuses RPCs a process still there sends under
// the member's id (cutTransport.forward). Only committed moves fence:
// one appended by a leader deposed before it committed may be dropped,
// and the member would still be at that address. A member that heard of
// the move only in a leader's raft snapshot (the entry compacted away)
// fences by comparing the snapshot's membership with the one raft held
// before (installed), and again at each start from that snapshot
// (started).
//
// Invariant: an address is fenced for a member only while the latest
// committed membership this member applied has the member elsewhere —
// a member moved back to a former address is not refused there. (At a
// start, until raft applies the entries after its snapshot again, the
// file may list an address raft's membership has the member at: it is
// not refused, place.)
type fence struct {
	path string
	log  zerolog.Logger

	// mu: updates (update), from Open and raft's FSM goroutine. Never
	// held over a name's lookup (up to fenceResolveWithin): Open's place
	// and the FSM goroutine's observe would each wait out the other's.
	mu      sync.Mutex
	former  map[raft.ServerID][]string           // under mu: addresses as the membership had them, sorted
	current map[raft.ServerID]raft.ServerAddress // under mu: the last committed membership applied since Open
	moves   uint64                               // under mu: takes that changed former (and rebuilt refused)
	// fs (under mu) writes the file, its writes and fsyncs timed by
	// pending: raft's FSM goroutine waits in them, holding mu, and the
	// disk watch stops a member whose disk stopped answering there as
	// under its raft log (Replicator.StateWaiting).
	fs      vfs.FS
	pending vfs.Pending
	// asideFirst (under mu) is set once a write of the file failed: every
	// later write goes aside (write), so that the text the next start
	// takes first is the newest — a file written after it would be taken
	// over by the older text left aside.
	asideFirst bool

	// refused: by member, each address an RPC's header may carry from a
	// former place (the names resolved: a member's header has the IP and
	// port it resolved its own address to), and where the member is now.
	refused atomic.Pointer[map[raft.ServerID]map[string]string]
}

// openFence loads dir's file of former addresses (none: nothing fenced).
func openFence(dir string, log zerolog.Logger) (*fence, error) {
	f := &fence{path: filepath.Join(dir, fenceFile), log: log,
		former: map[raft.ServerID][]string{}, current: map[raft.ServerID]raft.ServerAddress{}}
	f.fs = vfs.Observed(vfs.Default, &f.pending)
	if err := f.takeAside(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("replicator: %w", err)
	}
	if f.former, err = parseFence(b); err != nil {
		return nil, fmt.Errorf("%w: %s: %v; it lists the raft addresses members were moved away from (cluster replace) — "+
			"copy it from another member's raft directory (each member that applied a replace lists its move), "+
			"or remove it if no member was ever replaced", ErrFenceFile, f.path, err)
	}
	return f, nil // nothing refused until place
}

// takeAside makes the file set aside by a write that failed (write) the
// file of fenced addresses: it holds former as the member had it when it
// stopped, the move that write was for included. Done before the file is
// read, and before raft runs; an error stops the start (fail stop).
func (f *fence) takeAside() error {
	aside := filepath.Join(filepath.Dir(f.path), fenceAside)
	b, err := os.ReadFile(aside)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("replicator: %w", err)
	}
	if _, err := parseFence(b); err != nil {
		return fmt.Errorf("%w: %s: %v; it is what this member could not write to %s when it stopped — "+
			"copy %s from another member's raft directory and remove this one",
			ErrFenceFile, aside, err, f.path, fenceFile)
	}
	if err := f.fs.Rename(aside, f.path); err != nil {
		return fmt.Errorf("%w: %s over %s: %w", ErrFenceNotWritten, aside, f.path, err)
	}
	if err := f.fs.SyncDir(filepath.Dir(f.path)); err != nil {
		return fmt.Errorf("%w: %s over %s: %w", ErrFenceNotWritten, aside, f.path, err)
	}
	f.log.Warn().Str("file", f.path).Msg("replicator: took the fenced addresses set aside when this member stopped, not written then")
	return nil
}

// place starts refusing, given the membership raft holds at its start:
// an address it has a member at is never refused for that member (its
// name may resolve otherwise today than when the member moved away).
func (f *fence) place(servers []raft.Server) {
	at := make(map[raft.ServerID]raft.ServerAddress, len(servers))
	for _, s := range servers {
		at[s.ID] = s.Address
	}
	var moves uint64
	first := true
	f.update(func(n *names) {
		if first {
			moves, first = f.moves, false
		}
		// A take that fenced or lifted an address while the names were
		// looked up rebuilt refused from the committed membership it
		// applied — newer than raft's membership read before (at): kept.
		if f.moves == moves && f.resolved(at, n) {
			f.resolve(at, n)
		}
	})
}

// update runs apply under mu with the names it needs resolved, looked up
// without mu: apply asks n for each address it needs before it changes
// anything, and changes nothing when n lacks one (n.missing); those are
// then looked up, mu let go, and apply runs again — on what the fence
// holds then: an update that came in between (Open's place, raft's FSM
// goroutine's observe) is applied on, and the names it brought are
// looked up in turn.
func (f *fence) update(apply func(n *names)) {
	n := &names{of: map[string][]string{}}
	for {
		f.mu.Lock()
		apply(n)
		f.mu.Unlock()
		if len(n.missing) == 0 {
			return
		}
		n.lookUp()
	}
}

// started takes the membership of the raft snapshot raft starts from
// (servers) as the last one committed before this start, and fences a
// move from before, the membership raft held before that snapshot
// (membershipBefore), as installed fences it. Raft applies only the
// entries after that snapshot, and does not tell StoreConfiguration of
// the membership in it: without it observe knew no member's address
// until a membership entry came. And a member killed after raft stored a
// leader's snapshot, before installed compared memberships, wrote the
// move nowhere (no write failed: nothing aside, takeAside); its log is
// then as it was, raft emptying it only once the install returned.
// Called before raft starts.
//
// Unlike installed it lifts nothing and refuses nothing yet (place
// does): an entry after the snapshot may have moved a member away from
// where the snapshot has it — the file lists that address — and raft
// applies that entry again only once a leader commits it.
func (f *fence) started(before, servers []raft.Server) error { return f.take(servers, before, false) }

// membershipBefore is the membership raft held before the raft snapshot
// it starts from (metas[0], the newest): the latest membership entry of
// logs at or before that snapshot's index and after the snapshot before
// it (metas[1]), else that one's membership; nil when neither holds one
// (a member that joined by that snapshot). The log holds TrailingEntries
// before that snapshot, or, after a kill under a leader's install, the
// member's log since its newest snapshot of its own. Called before
// anything is stored in logs since it was opened: the entries it reads
// are those OpenLogStore found (membershipAtOpen), newest first, which
// costs no read of the others — a read of each entry's type back from
// the snapshot took as long as raft's own scan of a long log
// (BenchmarkMembershipBefore).
func membershipBefore(logs *LogStore, metas []*raft.SnapshotMeta) ([]raft.Server, error) {
	first, err := logs.FirstIndex()
	if err != nil {
		return nil, err
	}
	last, err := logs.LastIndex()
	if err != nil {
		return nil, err
	}
	floor := first
	var older []raft.Server
	if len(metas) > 1 {
		floor, older = max(first, metas[1].Index+1), metas[1].Configuration.Servers
	}
	at := logs.membershipAtOpen()
	for k := len(at) - 1; first > 0 && k >= 0 && at[k] >= floor; k-- {
		if at[k] > min(last, metas[0].Index) {
			continue
		}
		c, ok, err := membershipAt(logs, at[k])
		if err != nil {
			return nil, err
		}
		if ok {
			return c.Servers, nil
		}
	}
	return older, nil
}

// membershipDecodes returns ErrCorrupt naming the first membership entry
// of logs after index after that does not decode, nil when each does.
// Raft's NewRaft decodes each membership entry after the raft snapshot
// it starts from (after: that snapshot's index, 0 with none) and
// panicked on one that did not: the start died naming nothing. Called
// before anything is stored in logs since it was opened: the entries it
// checks are those OpenLogStore found (membershipAtOpen), which costs no
// read of the others — a scan of each entry's type took as long as
// raft's own scan of the log (BenchmarkMembershipDecodes).
func membershipDecodes(logs *LogStore, after uint64) error {
	for _, i := range logs.membershipAtOpen() {
		if i <= after {
			continue
		}
		if _, _, err := membershipAt(logs, i); err != nil && !errors.Is(err, raft.ErrLogNotFound) {
			return err
		}
	}
	return nil
}

// membershipAt is the membership entry i of logs holds, ok false when
// the entry is not a membership entry; ErrCorrupt when it does not
// decode (decodeConfiguration).
func membershipAt(logs *LogStore, i uint64) (c raft.Configuration, ok bool, err error) {
	typ, err := logs.entryType(i)
	if err != nil || typ != raft.LogConfiguration {
		return c, false, err
	}
	var l raft.Log
	if err := logs.GetLog(i, &l); err != nil {
		return c, false, err
	}
	c, err = decodeConfiguration(logs.dir, &l)
	return c, err == nil, err
}

// decodeConfiguration is the membership entry l holds, or ErrCorrupt
// naming the entry and where it is (the log's directory, or who sent
// it): raft's DecodeConfiguration panics on data that does not decode,
// and a start reading such an entry (whole in the log store, its check
// good: written so) died of the panic, naming nothing.
func decodeConfiguration(where string, l *raft.Log) (raft.Configuration, error) {
	c, err := decodeMembership(l.Data)
	if err != nil {
		return c, fmt.Errorf("%w: %s: entry %d, a membership entry, does not decode: %v", ErrCorrupt, where, l.Index, err)
	}
	return c, nil
}

// decodeMembership is raft's DecodeConfiguration of b, its panic on
// bytes that do not decode an error.
func decodeMembership(b []byte) (c raft.Configuration, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	return raft.DecodeConfiguration(b), nil
}

// parseFence reads lines "<member id> <address>"; "#" starts a comment.
func parseFence(b []byte) (map[raft.ServerID][]string, error) {
	if !textOnly(b) {
		return nil, errors.New("not text: a control byte in it")
	}
	former := map[raft.ServerID][]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		idText, addr, ok := strings.Cut(line, " ")
		id, err := strconv.ParseUint(idText, 10, 32)
		if !ok || err != nil || id == 0 {
			return nil, fmt.Errorf("line %d: %q is not \"<member id> <host:port>\"", n, line)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		sid := serverID(uint32(id))
		if !slices.Contains(former[sid], addr) {
			former[sid] = append(former[sid], addr)
			slices.Sort(former[sid])
		}
	}
	return former, sc.Err()
}

// textOnly: no NUL or other control byte but tab and line ends — what a
// zeroed or foreign block leaves, never encode.
func textOnly(b []byte) bool {
	return !slices.ContainsFunc(b, func(c byte) bool { return c < ' ' && c != '\n' && c != '\t' && c != '\r' })
}

// observe takes a committed membership (raft's FSM goroutine): a member
// at another socket than in the last one (movedFrom) fences its old
// address, and is refused no longer at the address it is at now. An
// error (ErrFenceNotWritten) says the file was not written: refused
// until this process stops, not after — the member must stop.
func (f *fence) observe(servers []raft.Server) error { return f.take(servers, nil, true) }

// installed takes the membership of a raft snapshot a leader sent this
// member (Restore, on raft's FSM goroutine), given before, the membership
// raft held until then. Raft passes neither to StoreConfiguration, and a
// move whose entry the leader compacted into the snapshot never reaches
// this member as an entry. A raft snapshot holds only committed state: a
// member it has at another address than before, or than the last
// committed membership applied, is committed elsewhere, and that address
// is fenced as observe fences it — so this member refuses the old process
// too and, restarted in place to load the state, starts with the peers it
// ran with (stalePeers). (Before may hold a move a deposed leader
// appended and the snapshot dropped: the member is not at that address
// either, and the invariant holds.)
//
// before is raft's own membership, from its log and snapshots, never the
// peers: raft takes the peers only when a new cluster bootstraps, so an
// address edited into them without a replace is not in it, and a member
// that joined holds none before its first snapshot — neither is taken
// for a former address, and peers naming one are still refused
// (checkMembership).
func (f *fence) installed(before, servers []raft.Server) error { return f.take(servers, before, true) }

// take is observe of servers, with also, when not nil, more addresses
// the members had before them. With lift false (started) an address
// servers has a member at stays fenced, and refused is left as it is.
func (f *fence) take(servers, also []raft.Server, lift bool) (err error) {
	alsoAt := make(map[raft.ServerID]raft.ServerAddress, len(also))
	for _, s := range also {
		alsoAt[s.ID] = s.Address
	}
	f.update(func(n *names) { err = f.takeResolved(servers, alsoAt, lift, n) })
	return err
}

// takeResolved is take under mu, with n (see update).
func (f *fence) takeResolved(servers []raft.Server, alsoAt map[raft.ServerID]raft.ServerAddress, lift bool, n *names) error {
	// Raft's membership may spell an address as this member's peers did
	// when it bootstrapped, a leader's entry or snapshot as the leader's
	// did: the same socket is no move, from the last committed membership
	// applied as from also.
	befores := make([][]raft.ServerAddress, len(servers))
	changes, respelt := false, false
	for i, s := range servers {
		for _, at := range []map[raft.ServerID]raft.ServerAddress{f.current, alsoAt} {
			was, ok := at[s.ID]
			if !ok || was == s.Address {
				continue
			}
			respelt = true
			if !n.sameSocket(was, s.Address) { // a name for its IP, another form of an IPv6 address: no move
				befores[i] = append(befores[i], was)
				changes = changes || !slices.Contains(f.former[s.ID], string(was))
			}
		}
		changes = changes || lift && slices.Contains(f.former[s.ID], string(s.Address))
	}
	if lift && (respelt || changes) {
		// refused may be built again below, from former and current as
		// they will be: the addresses they hold now, servers' and befores
		// (asked for by sameSocket). Asked for with the pairs compared,
		// before any is looked up, they are looked up in one round.
		for _, s := range servers {
			n.need(string(s.Address))
		}
		f.resolved(f.current, n)
	}
	if len(n.missing) > 0 {
		return nil // nothing changed yet: update looks them up and comes again
	}
	for i, s := range servers {
		f.current[s.ID] = s.Address
		if k := slices.Index(f.former[s.ID], string(s.Address)); lift && k >= 0 {
			f.former[s.ID] = slices.Delete(f.former[s.ID], k, k+1)
		}
		for _, was := range befores[i] {
			if slices.Contains(f.former[s.ID], string(was)) {
				continue
			}
			f.former[s.ID] = append(f.former[s.ID], string(was))
			slices.Sort(f.former[s.ID])
			f.log.Warn().Str("member", string(s.ID)).Str("former", string(was)).Str("now", string(s.Address)).
				Msg("replicator: member moved: raft RPCs from a process still at its former address are refused, and it stops when told")
		}
	}
	if !changes {
		return nil
	}
	f.moves++
	err := f.write()
	if lift {
		f.resolve(f.current, n)
	}
	return err
}

// write writes former to the file. When that fails it writes the same
// text aside (fenceAside), which the next start takes first (takeAside):
// restarted from a leader's raft snapshot that brought the move, the
// member would otherwise have it nowhere. Once one failed, later writes
// go aside only (asideFirst): the member stops, but raft's FSM goroutine
// may take another move before it does. Either way the error
// (ErrFenceNotWritten) stops the member. The caller holds mu.
func (f *fence) write() error {
	b := f.encode()
	err := errors.New("a write of it failed before; the text goes aside")
	if !f.asideFirst {
		if err = vfs.ReplaceFile(f.fs, f.path, f.path+".tmp", b); err == nil {
			return nil
		}
		f.asideFirst = true
	}
	err = fmt.Errorf("%w: %s: %w; restarted without it this member would take raft RPCs from a moved member's former address — "+
		"the disk or its file system is failing", ErrFenceNotWritten, f.path, err)
	aside := filepath.Join(filepath.Dir(f.path), fenceAside)
	if aerr := vfs.ReplaceFile(f.fs, aside, aside+".tmp", b); aerr != nil {
		// An aside an earlier write left holds older text, which the
		// start would take over the file written by hand.
		return fmt.Errorf("%w; nor written aside to %s (%v): before this member starts again, write %s as %q and remove %s if it is there",
			err, aside, aerr, f.path, b, aside)
	}
	return fmt.Errorf("%w; written aside to %s, which its next start takes", err, aside)
}

// encode writes former as parseFence reads it. The caller holds mu.
func (f *fence) encode() []byte {
	var b bytes.Buffer
	b.WriteString("# raft addresses members were moved away from (cluster replace): RPCs from a process still there are refused\n")
	ids := make([]raft.ServerID, 0, len(f.former))
	for id := range f.former {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		for _, addr := range f.former[id] {
			fmt.Fprintf(&b, "%s %s\n", id, addr)
		}
	}
	return b.Bytes()
}

// resolved asks n for every address resolve needs of former and
// current, and reports whether n holds them all (else they are in
// n.missing). The caller holds mu.
func (f *fence) resolved(current map[raft.ServerID]raft.ServerAddress, n *names) bool {
	for id, addrs := range f.former {
		n.need(string(current[id]))
		n.need(addrs...)
	}
	return len(n.missing) == 0
}

// resolve builds refused from former: each address as written and as
// each IP its host resolves to, less any address current has the member
// at — the names as n resolved them (resolved holds). The caller holds
// mu.
func (f *fence) resolve(current map[raft.ServerID]raft.ServerAddress, n *names) {
	refused := map[raft.ServerID]map[string]string{}
	for id, addrs := range f.former {
		now := string(current[id])
		keep := set(n.all(now))
		for _, addr := range addrs {
			for _, a := range n.all(addr) {
				if !keep[a] {
					if refused[id] == nil {
						refused[id] = map[string]string{}
					}
					refused[id][a] = now
				}
			}
		}
	}
	f.refused.Store(&refused)
}

// resolve is addr and, for a host name, "ip:port" for each address it
// resolves to (none when the lookup fails: the name is still refused as
// written); for an IP address written otherwise than Go prints it
// ("[0:0::1]:7000"), also the form Go prints ("[::1]:7000"), which an
// RPC's header carries (raft's transport prints its resolved address).
// answered is whether it is an answer: false when a host name's lookup
// failed but for the name not existing (a timeout, a resolver not
// reached), its addresses then unknown rather than none.
func resolve(addr string) (out []string, answered bool) {
	if addr == "" {
		return nil, true
	}
	out = []string{addr}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return out, true
	}
	if ip := net.ParseIP(host); ip != nil {
		if canon := net.JoinHostPort(ip.String(), port); canon != addr {
			out = append(out, canon)
		}
		return out, true
	}
	ips, err := hostLookups.lookUp(host, fenceResolveWithin)
	for _, ip := range ips {
		out = append(out, net.JoinHostPort(ip, port))
	}
	var dnsErr *net.DNSError
	return out, err == nil || (errors.As(err, &dnsErr) && dnsErr.IsNotFound)
}

// lookupHost is the name lookup of resolve: a test's seam.
var lookupHost = net.DefaultResolver.LookupHost

// hostLookups are the name lookups under way (resolve's).
var hostLookups = lookups{of: map[string]*lookup{}}

// lookups bounds name lookups by their deadline even when the resolver
// does not honour its context (a Dial that ignores it): each runs on a
// goroutine of its own, and its caller stops waiting at the deadline.
// Invariant: at most one lookup of a host is under way — a caller
// asking for a host being looked up waits for that lookup — so a
// resolver that never returns holds one goroutine per name, not one
// per call.
type lookups struct {
	mu sync.Mutex
	of map[string]*lookup // under mu: by host, the lookup under way
}

// lookup is one name lookup: ips, err and expired are set before done
// is closed. expired: its context's deadline had passed when the resolver
// returned — the answer is that deadline's, not the resolver's.
type lookup struct {
	done    chan struct{}
	ips     []string
	err     error
	expired bool
}

// lookUp is lookupHost of host, or, past within, a timeout
// (context.DeadlineExceeded) while the lookup goes on for the next
// caller to join: a lookup begun by this call has that deadline in its
// context too. One joined, begun by a caller before, has that caller's
// earlier deadline: when it ends failed by it (expired), this caller,
// its own deadline not passed, looks the name up again rather than take
// the other's timeout — still one lookup of the name at a time.
func (ls *lookups) lookUp(host string, within time.Duration) ([]string, error) {
	deadline := time.Now().Add(within)
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		l := ls.join(host, deadline)
		select {
		case <-l.done:
			if l.err == nil || !l.expired || !time.Now().Before(deadline) {
				return l.ips, l.err
			}
		case <-timer.C:
			return nil, fmt.Errorf("replicator: looking up %s: %w", host, context.DeadlineExceeded)
		}
	}
}

// join returns the lookup of host under way, or one begun now with
// deadline.
func (ls *lookups) join(host string, deadline time.Time) *lookup {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if l, ok := ls.of[host]; ok {
		return l
	}
	l := &lookup{done: make(chan struct{})}
	ls.of[host] = l
	lookupHost := lookupHost // as it is now: a test puts it back when it ends
	go func() {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		l.ips, l.err = lookupHost(ctx, host)
		l.expired = ctx.Err() != nil
		ls.mu.Lock()
		delete(ls.of, host)
		ls.mu.Unlock()
		close(l.done)
	}()
	return l
}

// names is what resolve gave for each address looked up so far, out
// of the fence's mu, and the addresses asked for since that it lacks.
type names struct {
	of      map[string][]string
	missing []string
	failed  []string // looked up with no answer (resolve): of holds the address as written alone
}

// all is resolve of addr as looked up; nil, and addr noted missing,
// when it was not.
func (n *names) all(addr string) []string {
	if out, ok := n.of[addr]; ok {
		return out
	}
	if !slices.Contains(n.missing, addr) {
		n.missing = append(n.missing, addr)
	}
	return nil
}

// need asks for addrs (all).
func (n *names) need(addrs ...string) {
	for _, a := range addrs {
		n.all(a)
	}
}

// sameSocket is sameSocketAs of the names as looked up.
func (n *names) sameSocket(a, b raft.ServerAddress) bool {
	return sameSocketAs(string(a), string(b), n.all)
}

// lookedUp is names with the addresses of servers, and more, looked up
// together (lookUp): for a caller comparing every pair of them.
func lookedUp(servers []raft.Server, more ...string) *names {
	n := &names{of: map[string][]string{}}
	for _, s := range servers {
		n.need(string(s.Address))
	}
	n.need(more...)
	n.lookUp()
	return n
}

// lookUp resolves the missing addresses, all at once: each lookup ends
// within fenceResolveWithin, so a resolver that does not answer holds the
// caller — raft's FSM goroutine (observe, installed), Open (place,
// checkPeers), the admin handler (Replace, Members), a logon on a
// standby (Leader) — that long once a round, not once a name.
func (n *names) lookUp() {
	all := make([][]string, len(n.missing))
	answered := make([]bool, len(n.missing))
	var wg sync.WaitGroup
	for i, a := range n.missing {
		wg.Go(func() { all[i], answered[i] = resolve(a) })
	}
	wg.Wait()
	for i, a := range n.missing {
		n.of[a] = all[i]
		if !answered[i] {
			n.failed = append(n.failed, a)
		}
	}
	n.missing = nil
}

// answered tells whether every lookup of addrs was an answer (resolve):
// a comparison of them is then one to keep.
func (n *names) answered(addrs ...string) bool {
	return !slices.ContainsFunc(addrs, func(a string) bool { return slices.Contains(n.failed, a) })
}

func set(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// formerAt tells whether addr is one member id was moved away from.
func (f *fence) formerAt(id raft.ServerID, addr string) bool {
	refused := f.refused.Load()
	if refused == nil || len(*refused) == 0 {
		return false
	}
	_, ok := (*refused)[id][addr]
	return ok
}

// check is the refusal of an RPC from a fenced address, or nil.
func (f *fence) check(cmd any) error {
	refused := f.refused.Load()
	if refused == nil || len(*refused) == 0 {
		return nil
	}
	h, ok := cmd.(raft.WithRPCHeader)
	if !ok {
		return nil
	}
	hdr := h.GetRPCHeader()
	now, fenced := (*refused)[raft.ServerID(hdr.ID)][string(hdr.Addr)]
	if !fenced {
		return nil
	}
	if now == "" {
		now = "another address" // the move is known from the file alone since this member started
	}
	// No "%" in the text: the network transport passes it through
	// fmt.Errorf as the format.
	return errors.New(fencedMark + " member " + string(hdr.ID) + " was moved from " + string(hdr.Addr) + " to " + now +
		" (cluster replace): the process at " + string(hdr.Addr) + " is not a member; stop it for good")
}

// isFenceRefusal tells whether err is a member's refusal of this
// process's RPC (check) — as the network transport returns it, text only.
func isFenceRefusal(err error) bool {
	return err != nil && strings.Contains(err.Error(), fencedMark)
}
