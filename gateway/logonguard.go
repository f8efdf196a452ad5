package gateway

import (
	"hash/maphash"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/ringex/ringex/internal/ratelimit"
)

// maxGuardedAddrs bounds the addresses the logon guard remembers. Only
// an address whose bucket has refilled is forgotten: it carries nothing a
// fresh one would not. One with failures still counted — throttled or
// not — is kept until it has refilled: forgetting it would give it a
// fresh allowance, and an address cycling through more than the table
// holds its guesses back early. When the table is full of those, the
// addresses it has no room for share their network's allowance
// (logonGuard.wide), and past maxGuardedAddrs networks one more
// (logonGuard.spill).
const maxGuardedAddrs = 4096

// logonGuard limits the failed logons each remote address may make, so
// that secrets cannot be guessed at the speed of the network: every failed
// logon spends a token of that address's bucket (a burst of perMinute,
// refilled at perMinute a minute). An address with no token left is
// refused every logon — even with the right secret, or the guessing would
// go on — until one comes back. Other addresses are not affected — but
// for the new ones of a network whose addresses beyond the table spent
// its allowance, while maxGuardedAddrs addresses have failures counted
// (wide, spill).
//
// Guesses at one account from many addresses — a host with an IPv6 /48
// has 65 536 /64s, each with an allowance of its own — are limited by
// the account's bucket too (perAccount a minute): every failed logon
// naming the account spends a token of it. While it has none, a logon to
// the account is refused unchecked, right secret or not, unless it comes
// from an address that has logged on to the account with its secret
// before (known, below): the account's clients at their usual addresses
// go on logging on through an attack; a client at an address new to
// this node waits, as a throttled address does, until a token comes back.
// A known address's own failed logons naming the account are limited
// still (knownAddr: an address's allowance, or with no per-address limit
// the account's).
// Known addresses live in memory only: after a restart, or on the member
// that takes over after a failover, every address is new — which is why
// the account bucket is opt-in (config/default.yaml).
type logonGuard struct {
	perMinute  int // per address; 0: no limit
	perAccount int // per account; 0: no limit
	mu         sync.Mutex
	buckets    map[netip.Addr]*ratelimit.Bucket
	// slots holds the failed-logon allowances of every id, configured
	// or not — those that are not have one as well, so a throttled id
	// tells nobody whether it exists, while the guard's memory does not
	// grow with the ids guessed: accountSlots of them, an id's chosen by
	// a hash keyed at random when the guard is made (hashSlot), so
	// nobody can pick ids that share one. Ids sharing one throttle each
	// other, which shows only once most of the slots are throttled at
	// once: accountSlots × perAccount failed logons a minute. A
	// configured account shares its slot with the ids that are not (a
	// slot of its own would tell it apart: spending its allowance would
	// throttle no other id, ever), but with no other account: a client
	// of one account with a stale secret never throttles another.
	// accounts points each configured account at its slot: its hash's,
	// or the next free one if another account has that (see
	// newLogonGuard). Fixed at construction (the gateway's accounts are
	// its configuration's). Both nil when perAccount is 0.
	slots    []ratelimit.Bucket
	accounts map[uint32]*ratelimit.Bucket
	seed     maphash.Seed
	// known holds, per account, the addresses its secret logged on from
	// (at most maxKnownAddrs, the latest): only logons that proved the
	// secret add to it, so it is bounded by the configured accounts.
	known map[uint32]*knownAddrs
	// wide holds the failed-logon allowances (perMinute) of the
	// networks (wideKey: an IPv6 /48, an IPv4 /24) of the addresses
	// buckets has no room for: maxGuardedAddrs addresses, none refilled
	// — someone failing logons from more addresses than that, each
	// within the last minute. The addresses of one network share its
	// allowance: a host with a /48 keeping buckets full spends its
	// own, not that of every address new to the node (all of them after
	// a restart). At most maxGuardedAddrs networks, forgotten as
	// addresses are; spill is the one allowance (perMinute) the
	// networks beyond them share. A logon from an address whose
	// network's allowance (or spill) is spent is refused unchecked, as a
	// throttled address's is, unless the account named logged on from
	// it before (known), within that address's own allowance
	// (knownAddr): the accounts' clients at their usual addresses are
	// not locked out.
	wide  map[netip.Addr]*ratelimit.Bucket
	spill ratelimit.Bucket
	// nextScan and wideScan are when makeRoom may look for refilled
	// buckets again in buckets and wide, after a look that found few:
	// the look is paid once per refill interval, not for every logon
	// from an address with no room.
	nextScan, wideScan int64
}

// accountSlots is how many buckets the guard keeps for the ids named in
// logons (32 bytes each: 2 MiB).
const accountSlots = 1 << 16

func (g *logonGuard) hashSlot(id uint32) int {
	return int(maphash.Comparable(g.seed, id) % accountSlots)
}

// accountBucket is the bucket the failed logons naming id spend. Called
// with mu held, perAccount > 0.
func (g *logonGuard) accountBucket(id uint32) *ratelimit.Bucket {
	if b, ok := g.accounts[id]; ok {
		return b
	}
	return &g.slots[g.hashSlot(id)]
}

// maxKnownAddrs is how many addresses an account's logons are remembered
// from: a client's few machines, a primary and a standby site.
const maxKnownAddrs = 16

// knownAddrs are the latest addresses an account's secret logged on
// from: one logging on again becomes the latest, so a client's usual
// address is not pushed out by others it logged on from once since it
// was first seen.
type knownAddrs struct {
	addrs [maxKnownAddrs]knownAddr // addrs[:n], the least recent first
	n     int
}

// knownAddr is an address an account's secret logged on from, with the
// failed logons naming the account from it: it is let past the
// account's spent allowance, and the one it shares beyond the table
// (logonGuard.wide, spill), not past its own — or whoever shares it (an IPv4
// NAT, an IPv6 /64), or held the account's old secret, would guess the
// account's secret unlimited there. A logon with the secret does not
// refill it.
type knownAddr struct {
	a     netip.Addr
	fails ratelimit.Bucket
}

// find returns a's entry, or nil when a is not known.
func (k *knownAddrs) find(a netip.Addr) *knownAddr {
	if !a.IsValid() {
		return nil // no address: never known
	}
	for i := range k.addrs[:k.n] {
		if k.addrs[i].a == a {
			return &k.addrs[i]
		}
	}
	return nil
}

// add makes a the latest address, with a fresh allowance if it is new.
func (k *knownAddrs) add(a netip.Addr, fresh ratelimit.Bucket) {
	if !a.IsValid() {
		return // no address: never known (find)
	}
	e := knownAddr{a: a, fails: fresh}
	i := slices.IndexFunc(k.addrs[:k.n], func(x knownAddr) bool { return x.a == a })
	switch {
	case i >= 0: // known: it becomes the latest, its failures kept
		e = k.addrs[i]
	case k.n < maxKnownAddrs:
		k.n++
		i = k.n - 1
	default:
		i = 0 // the least recent goes
	}
	copy(k.addrs[i:k.n-1], k.addrs[i+1:k.n])
	k.addrs[k.n-1] = e
}

// newLogonGuard makes the guard of a gateway whose configured account
// ids are accounts.
func newLogonGuard(perMinute, perAccount int, accounts []uint32, now int64) *logonGuard {
	g := &logonGuard{perMinute: perMinute, perAccount: perAccount,
		buckets: map[netip.Addr]*ratelimit.Bucket{}, wide: map[netip.Addr]*ratelimit.Bucket{}}
	if perMinute > 0 || perAccount > 0 {
		g.known = map[uint32]*knownAddrs{}
	}
	if perMinute > 0 {
		g.spill = ratelimit.NewBurst(float64(perMinute)/60, float64(perMinute), now)
	}
	if perAccount > 0 {
		fresh := func() ratelimit.Bucket { return ratelimit.NewBurst(float64(perAccount)/60, float64(perAccount), now) }
		g.slots = make([]ratelimit.Bucket, accountSlots)
		for i := range g.slots {
			g.slots[i] = fresh()
		}
		g.seed = maphash.MakeSeed()
		// Each account in a slot no other account has: its hash's, or
		// the next free one. Which ids share a slot is a partition of
		// the ids either way, so it tells nobody which are accounts
		// (but that no two accounts share: as rare for any two ids as
		// 1 in accountSlots). Past accountSlots accounts, the rest have
		// a bucket of their own.
		g.accounts = make(map[uint32]*ratelimit.Bucket, len(accounts))
		taken := make(map[int]bool, len(accounts))
		for _, id := range accounts {
			if _, dup := g.accounts[id]; dup {
				continue
			}
			if len(taken) == accountSlots {
				b := fresh()
				g.accounts[id] = &b
				continue
			}
			s := g.hashSlot(id)
			for taken[s] {
				s = (s + 1) % accountSlots
			}
			taken[s] = true
			g.accounts[id] = &g.slots[s]
		}
	}
	return g
}

// outcome is what the guard made of a logon.
type outcome uint8

const (
	admitted outcome = iota
	throttled
	throttledAccount // the account has no failed logon left, and addr is new to it
	failed
)

// check runs authenticate for a logon to account from addr at now unless
// addr, or account for an address new to it, has used up its failed
// logons, and counts a failure: one critical section, so logons racing on
// parallel connections cannot all pass the check before any failure
// counts (authenticate is a hash of the secret, a microsecond: logons
// from every address queue for it).
func (g *logonGuard) check(addr netip.Addr, account uint32, now int64, authenticate func() bool) outcome {
	if g.perMinute == 0 && g.perAccount == 0 {
		if !authenticate() {
			return failed
		}
		return admitted
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	// A failure is counted in table's bucket of key (made if need be) —
	// addr's, or beyond buckets its network's — or in shared, the
	// network's bucket already in wide, or spill beyond both tables.
	var table map[netip.Addr]*ratelimit.Bucket
	var key netip.Addr
	var shared *ratelimit.Bucket // the allowance addr shares, beyond buckets
	if g.perMinute > 0 {
		b, ok := g.buckets[addr]
		switch {
		case ok && !b.Has(now):
			return throttled
		case ok || g.makeRoom(g.buckets, &g.nextScan, now):
			table, key = g.buckets, addr
		default:
			w := wideKey(addr)
			if wb, ok := g.wide[w]; ok {
				shared = wb
			} else if g.makeRoom(g.wide, &g.wideScan, now) {
				table, key = g.wide, w
			} else {
				shared = &g.spill
			}
		}
	}
	known := g.knownFrom(account, addr)
	if shared != nil && !shared.Has(now) && (known == nil || !known.fails.Has(now)) {
		return throttled
	}
	var ab *ratelimit.Bucket
	if g.perAccount > 0 {
		ab = g.accountBucket(account)
		if !ab.Has(now) && (known == nil || !known.fails.Has(now)) {
			return throttledAccount
		}
	}
	if authenticate() {
		g.remember(account, addr, now)
		return admitted
	}
	if known != nil {
		known.fails.Take(now)
	}
	switch {
	case shared != nil:
		shared.Take(now)
	case table != nil:
		b := table[key]
		if b == nil {
			nb := ratelimit.NewBurst(float64(g.perMinute)/60, float64(g.perMinute), now)
			b = &nb
			table[key] = b
		}
		b.Take(now)
	}
	if ab != nil {
		ab.Take(now) // from a known address too: a stale secret there is a failure like any
	}
	return failed
}

// counts reports how many addresses (buckets) and networks (wide) have
// failed logons still counted at now: those refilled hold nothing back,
// and go when room is needed.
func (g *logonGuard) counts(now int64) (addrs, networks int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	count := func(table map[netip.Addr]*ratelimit.Bucket) (n int) {
		for _, b := range table {
			if !b.Full(now) {
				n++
			}
		}
		return n
	}
	return count(g.buckets), count(g.wide)
}

// knownFrom returns addr's entry among those account's secret logged on
// from, nil if it is not one. Called with mu held.
func (g *logonGuard) knownFrom(account uint32, addr netip.Addr) *knownAddr {
	if k := g.known[account]; k != nil {
		return k.find(addr)
	}
	return nil
}

// remember notes that account's secret logged on from addr at now.
// Called with mu held.
func (g *logonGuard) remember(account uint32, addr netip.Addr, now int64) {
	if g.known == nil {
		return
	}
	k := g.known[account]
	if k == nil {
		k = new(knownAddrs)
		g.known[account] = k
	}
	// An address's allowance, or with no per-address limit the
	// account's: one of them is set (known is nil otherwise).
	allowance := g.perMinute
	if allowance == 0 {
		allowance = g.perAccount
	}
	k.add(addr, ratelimit.NewBurst(float64(allowance)/60, float64(allowance), now))
}

// makeRoom reports whether table (buckets or wide) has room for one
// more key, forgetting those whose bucket has refilled if it has none —
// never one with failures still counted (maxGuardedAddrs); *nextScan is
// when it may look again. Called with mu held, perMinute > 0.
func (g *logonGuard) makeRoom(table map[netip.Addr]*ratelimit.Bucket, nextScan *int64, now int64) bool {
	if len(table) < maxGuardedAddrs {
		return true
	}
	interval := int64(time.Minute) / int64(g.perMinute) // one token back
	if now < *nextScan && *nextScan-now <= interval {   // (further: the clock stepped back)
		return false
	}
	for a, b := range table {
		if b.Full(now) {
			delete(table, a)
		}
	}
	if len(table) >= maxGuardedAddrs*3/4 {
		*nextScan = now + interval
	}
	return len(table) < maxGuardedAddrs
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

// wideKey is the network of a guard key (guardKey) beyond the table: an
// IPv6 /48, a site's usual allocation, or an IPv4 /24.
func wideKey(a netip.Addr) netip.Addr {
	bits := 48
	if a.Is4() {
		bits = 24
	}
	if p, err := a.Prefix(bits); err == nil {
		return p.Addr()
	}
	return a
}
