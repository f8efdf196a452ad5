package gateway

import (
	"net"
	"net/netip"
	"sync"

	"github.com/ringex/ringex/internal/ratelimit"
)

// maxGuardedAddrs bounds the addresses the logon guard remembers. An
// address whose bucket has refilled carries nothing a fresh one would not,
// so those go first; if that is not enough the guard forgets arbitrary
// ones down to three quarters of the bound, so that the scan is paid once
// per thousand new addresses, not for each.
const maxGuardedAddrs = 4096

// logonGuard limits the failed logons each remote address may make, so
// that secrets cannot be guessed at the speed of the network: every failed
// logon spends a token of that address's bucket (a burst of perMinute,
// refilled at perMinute a minute). An address with no token left is
// refused every logon — even with the right secret, or the guessing would
// go on — until one comes back. Other addresses are not affected.
type logonGuard struct {
	perMinute int // 0: no limit
	mu        sync.Mutex
	buckets   map[netip.Addr]*ratelimit.Bucket
}

func newLogonGuard(perMinute int) *logonGuard {
	return &logonGuard{perMinute: perMinute, buckets: map[netip.Addr]*ratelimit.Bucket{}}
}

// outcome is what the guard made of a logon.
type outcome uint8

const (
	admitted outcome = iota
	throttled
	failed
)

// check runs authenticate for a logon from addr at now unless addr has
// used up its failed logons, and counts a failure: one critical section,
// so logons racing on parallel connections from one address cannot all
// pass the check before any failure counts (authenticate is a hash of the
// secret, a microsecond: logons from every address queue for it).
func (g *logonGuard) check(addr netip.Addr, now int64, authenticate func() bool) outcome {
	if g.perMinute == 0 {
		if !authenticate() {
			return failed
		}
		return admitted
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	b, ok := g.buckets[addr]
	if ok && !b.Has(now) {
		return throttled
	}
	if authenticate() {
		return admitted
	}
	if !ok {
		g.makeRoom(now)
		nb := ratelimit.NewBurst(float64(g.perMinute)/60, float64(g.perMinute), now)
		b = &nb
		g.buckets[addr] = b
	}
	b.Take(now)
	return failed
}

// makeRoom keeps the map below maxGuardedAddrs. Called with mu held.
func (g *logonGuard) makeRoom(now int64) {
	if len(g.buckets) < maxGuardedAddrs {
		return
	}
	for a, b := range g.buckets {
		if b.Full(now) {
			delete(g.buckets, a)
		}
	}
	if len(g.buckets) < maxGuardedAddrs {
		return
	}
	for a := range g.buckets {
		if len(g.buckets) < maxGuardedAddrs*3/4 {
			break
		}
		delete(g.buckets, a)
	}
}

// remoteAddr is what the logon guard counts a connection's failures
// against: its IPv4 address (unmapped, so a peer counts once whichever way
// the listener sees it), or the /64 of its IPv6 address — one host is
// usually given a whole /64 and could otherwise take a fresh address for
// every guess. The zero Addr for a connection that has none.
func remoteAddr(conn net.Conn) netip.Addr {
	ap, err := netip.ParseAddrPort(conn.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return guardKey(ap.Addr())
}

func guardKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return a
}
