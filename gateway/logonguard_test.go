package gateway

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto/wire"
)

// logonFrom logs on from the local address from (any 127/8 address is
// loopback on Linux) and returns the gateway's answer: LogonAck or the
// LogonReject reason.
func logonFrom(t *testing.T, gw, from string, account uint32, secret string) (acked bool, why wire.LogonRejectReason) {
	t.Helper()
	acked, why, conn := testkit.LogonFrom(t, gw, from, account, secret)
	conn.Close()
	return acked, why
}

// awaitLogonAcked logs on from from again and again until the gateway
// acknowledges a logon, and fails the test, saying what got no room back,
// if none is acknowledged within 5 s.
func awaitLogonAcked(t *testing.T, gw, from string, account uint32, secret, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if ok, _ := logonFrom(t, gw, from, account, secret); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s got no room back", what)
		}
	}
}

// An address that fails its logons too often is refused every logon, the
// right secret included, until its allowance refills; another address
// logs on meanwhile as if nothing happened.
func TestFailedLogonsThrottled(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Unix(1_000_000, 0).UnixNano())
	g, _ := startGateway(t, Config{FailedLogonsPerMinute: 3, Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	addr := g.Addr().String()
	const attacker, bystander = "127.0.0.1", "127.0.0.2"

	for _, cred := range []struct {
		account uint32
		secret  string
	}{{1, "guess-1"}, {9, "one"}, {2, "guess-2"}} {
		if ok, why := logonFrom(t, addr, attacker, cred.account, cred.secret); ok || why != wire.LogonRejectReasonBadSecret {
			t.Fatalf("failed logon %+v answered ack=%v %v, want BadSecret", cred, ok, why)
		}
	}
	if ok, why := logonFrom(t, addr, attacker, 1, "one"); ok || why != wire.LogonRejectReasonTooManyFailedLogons {
		t.Fatalf("4th logon within the minute, right secret: ack=%v %v, want TooManyFailedLogons", ok, why)
	}
	if ok, _ := logonFrom(t, addr, bystander, 1, "one"); !ok {
		t.Fatal("another address refused while the first is throttled")
	}
	if ok, why := logonFrom(t, addr, bystander, 1, "nope"); ok || why != wire.LogonRejectReasonBadSecret {
		t.Fatalf("another address's first failure: ack=%v %v, want BadSecret", ok, why)
	}

	clock.Add(int64(19 * time.Second)) // 3 a minute: one back every 20 s
	if ok, why := logonFrom(t, addr, attacker, 1, "one"); ok || why != wire.LogonRejectReasonTooManyFailedLogons {
		t.Fatalf("after 19 s: ack=%v %v, want still refused", ok, why)
	}
	clock.Add(int64(2 * time.Second))
	if ok, why := logonFrom(t, addr, attacker, 1, "one"); !ok {
		t.Fatalf("after 21 s: %v, want a logon", why)
	}
	if n := g.Counters.Disconnects[CauseLogonThrottled].Load(); n != 2 {
		t.Fatalf("logon_throttled disconnects = %d, want 2", n)
	}
	if n := g.Counters.Disconnects[CauseLogonFailed].Load(); n != 4 {
		t.Fatalf("logon_failed disconnects = %d, want 4", n)
	}
}

// apartID is the first id from from on that is not configured and shares
// no account's failed-logon allowance (one in accountSlots ids does,
// picked at random by the guard's seed): a test naming an unknown id
// next to accounts must not depend on that draw.
func apartID(g *logonGuard, from uint32, accounts ...uint32) uint32 {
	for id := from; ; id++ {
		if _, ok := g.accounts[id]; ok {
			continue
		}
		b := g.accountBucket(id)
		if !slices.ContainsFunc(accounts, func(a uint32) bool { return g.accountBucket(a) == b }) {
			return id
		}
	}
}

func fail() bool { return false }
func pass() bool { return true }

// Logons racing on parallel connections from one address get no more
// secrets checked than its allowance: the check and the count are one.
func TestLogonGuardParallelGuesses(t *testing.T) {
	const allowance, guesses = 3, 40
	g := newLogonGuard(allowance, 0, nil, 0)
	now := time.Unix(1_000_000, 0).UnixNano()
	from := netip.AddrFrom4([4]byte{127, 0, 0, 3})
	if n := parallelGuesses(g, guesses, func(int) netip.Addr { return from }, 1, now); n != allowance {
		t.Fatalf("%d of %d parallel guesses had their secret checked, allowance %d", n, guesses, allowance)
	}
}

// parallelGuesses makes guesses failed logons to account at once, the
// i-th from addr(i), each slow to check so that the others arrive
// meanwhile, and returns how many had the secret checked.
func parallelGuesses(g *logonGuard, guesses int, addr func(int) netip.Addr, account uint32, now int64) int32 {
	var checked atomic.Int32
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Go(func() {
			g.check(addr(i), account, now, func() bool {
				checked.Add(1)
				time.Sleep(time.Millisecond)
				return false
			})
		})
	}
	wg.Wait()
	return checked.Load()
}

// The guard remembers a bounded number of addresses, and forgets those
// whose allowance has refilled when it needs room.
func TestLogonGuardBounded(t *testing.T) {
	g := newLogonGuard(10, 0, nil, 0)
	t0 := time.Unix(1_000_000, 0).UnixNano()
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	for i := range 2 * maxGuardedAddrs {
		g.check(addr(i), 1, t0, fail)
		if len(g.buckets) > maxGuardedAddrs {
			t.Fatalf("%d addresses remembered, bound %d", len(g.buckets), maxGuardedAddrs)
		}
	}
	// One address used up its allowance; the map is full of addresses
	// whose buckets refill within a minute.
	for range 10 {
		g.check(addr(0), 1, t0, fail)
	}
	if g.check(addr(0), 1, t0, pass) != throttled {
		t.Fatal("an address with no failures left is not refused")
	}
	// Two minutes on every bucket has refilled: the next time the map is
	// full, all of them go at once.
	later := t0 + int64(2*time.Minute)
	for i := 0; len(g.buckets) > 100; i++ {
		if i == maxGuardedAddrs {
			t.Fatalf("%d addresses still remembered after %d new ones", len(g.buckets), i)
		}
		g.check(addr(1<<20+i), 1, later, fail)
	}
	if g.check(addr(0), 1, later, pass) == throttled {
		t.Fatal("the refilled address is still refused")
	}
}

// Failures count per IPv4 address, and per /64 for IPv6: a host given a
// /64 cannot take a fresh address for every guess.
func TestLogonGuardKeys(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"192.0.2.1", "192.0.2.2", false},
		{"192.0.2.1", "::ffff:192.0.2.1", true},
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true},
		{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
	} {
		a, b := guardKey(netip.MustParseAddr(tc.a)), guardKey(netip.MustParseAddr(tc.b))
		if (a == b) != tc.same {
			t.Errorf("%s and %s: keys %v and %v, same=%v wanted", tc.a, tc.b, a, b, tc.same)
		}
	}
}

// Guessing one account's secret from many addresses, each within its own
// allowance: once the account has been the target of
// FailedLogonsPerAccountPerMinute failed logons, a logon to it from an
// address that never logged on to it is refused unchecked, right secret
// or not — while its client, at an address it logged on from before,
// still logs on, and other accounts are untouched. An unknown account id
// is throttled alike, so a throttled id tells nobody it exists.
func TestFailedLogonsThrottledPerAccount(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Unix(1_000_000, 0).UnixNano())
	g, _ := startGateway(t, Config{FailedLogonsPerMinute: 2, FailedLogonsPerAccountPerMinute: 5,
		Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	addr := g.Addr().String()
	const user = "127.0.0.10"
	unknown := apartID(g.guard, 9, 1, 2)
	if ok, why := logonFrom(t, addr, user, 1, "one"); !ok {
		t.Fatalf("the account's client: %v", why)
	}
	// guesses makes two failed logons (an address's allowance) to account
	// from each of six addresses, and counts those whose secret was checked.
	guesses := func(account uint32, subnet int) (checked int) {
		for i := 1; i <= 6; i++ {
			from := fmt.Sprintf("127.0.%d.%d", subnet, i)
			for range 2 {
				switch ok, why := logonFrom(t, addr, from, account, "guess"); {
				case ok:
					t.Fatalf("guess at account %d from %s logged on", account, from)
				case why == wire.LogonRejectReasonBadSecret:
					checked++
				case why != wire.LogonRejectReasonTooManyFailedLogons:
					t.Fatalf("guess at account %d from %s: %v", account, from, why)
				}
			}
		}
		return checked
	}
	if n := guesses(1, 1); n != 5 {
		t.Fatalf("%d guesses at account 1's secret checked from 6 addresses, want the account's allowance of 5", n)
	}
	if ok, why := logonFrom(t, addr, "127.0.1.7", 1, "one"); ok || why != wire.LogonRejectReasonTooManyFailedLogons {
		t.Fatalf("a new address, right secret, account out of failures: ack=%v %v, want TooManyFailedLogons", ok, why)
	}
	if ok, why := logonFrom(t, addr, user, 1, "one"); !ok {
		t.Fatalf("the account's client, at the address it logged on from before, locked out: %v", why)
	}
	if ok, why := logonFrom(t, addr, "127.0.1.8", 2, "two"); !ok {
		t.Fatalf("another account refused: %v", why)
	}
	if n := guesses(unknown, 2); n != 5 {
		t.Fatalf("%d guesses at unknown account %d checked, want 5, as for an account that exists", n, unknown)
	}
	clock.Add(int64(13 * time.Second)) // 5 a minute: one back every 12 s
	if ok, why := logonFrom(t, addr, "127.0.1.9", 1, "one"); !ok {
		t.Fatalf("a new address once the account's allowance refilled: %v", why)
	}
}

// Guesses racing at one account from as many addresses get no more
// secrets checked than the account's allowance; an account remembers the
// latest maxKnownAddrs addresses its secret logged on from, and none that
// only failed.
func TestLogonGuardPerAccount(t *testing.T) {
	const allowance, guesses = 3, 40
	now := time.Unix(1_000_000, 0).UnixNano()
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}) }
	g := newLogonGuard(0, allowance, []uint32{7, 8}, now)
	if n := parallelGuesses(g, guesses, addr, 7, now); n != allowance {
		t.Fatalf("%d of %d parallel guesses from as many addresses had the secret checked, account allowance %d", n, guesses, allowance)
	}
	if g.check(addr(0), 7, now, pass) != throttledAccount {
		t.Fatal("an address that only failed is let past an account with no failures left")
	}

	g = newLogonGuard(0, 1, []uint32{7, 8}, now)
	for i := range maxKnownAddrs + 1 {
		if g.check(addr(1000+i), 7, now, pass) != admitted {
			t.Fatalf("logon %d refused", i)
		}
	}
	g.check(addr(2000), 7, now, fail) // the account's one failure
	if got := g.check(addr(1000), 7, now, pass); got != throttledAccount {
		t.Fatalf("the oldest of %d known addresses: %v, want forgotten", maxKnownAddrs+1, got)
	}
	for i := 1; i <= maxKnownAddrs; i++ {
		if got := g.check(addr(1000+i), 7, now, pass); got != admitted {
			t.Fatalf("known address %d: %v, want admitted", i, got)
		}
	}
	if got := g.check(addr(1001), 8, now, pass); got != admitted {
		t.Fatalf("another account: %v", got) // its own bucket, full
	}
}

// The addresses an account is let in from while its failures are spent
// are the latest its secret logged on from: an address it logs on from
// again and again — its client's usual one — stays among them however
// many others it also logged on from once since it was first seen (a
// list of the first-seen addresses forgot it: the 16th other address
// took its place, though the usual one logged on after 15 of them).
func TestLogonGuardKnowsTheLatestAddresses(t *testing.T) {
	now := time.Unix(1_000_000, 0).UnixNano()
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}) }
	g := newLogonGuard(0, 1, []uint32{7}, now)
	usual := addr(0)
	for i := 1; i <= maxKnownAddrs; i++ {
		if g.check(usual, 7, now, pass) != admitted {
			t.Fatalf("the usual address's logon %d refused", i)
		}
		if g.check(addr(i), 7, now, pass) != admitted {
			t.Fatalf("logon from address %d refused", i)
		}
	}
	g.check(addr(5000), 7, now, fail) // the account's one failure
	if got := g.check(usual, 7, now, pass); got != admitted {
		t.Fatalf("the address the account's secret logged on from the most times, last but one: %v, want admitted", got)
	}
}

// Each configured account has a failed-logon allowance of its own: two
// whose ids share their low 16 bits shared one, so a client of one with
// a stale secret — or anyone naming it — throttled the other. Ids that
// are not configured are throttled as an account is, in a fixed number
// of buckets however many are named.
func TestLogonGuardAccountsApart(t *testing.T) {
	const allowance = 2
	now := time.Unix(1_000_000, 0).UnixNano()
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}) }
	const honest, stale = 1, 1<<16 + 1 // the same low 16 bits
	g := newLogonGuard(0, allowance, []uint32{honest, stale}, now)
	absent := apartID(g, 2<<16+1, honest, stale)
	for i := range allowance {
		if got := g.check(addr(i), stale, now, fail); got != failed {
			t.Fatalf("failed logon %d to account %d: %v", i, stale, got)
		}
	}
	if got := g.check(addr(100), stale, now, pass); got != throttledAccount {
		t.Fatalf("account %d past its allowance, from a new address: %v, want throttledAccount", stale, got)
	}
	if got := g.check(addr(101), honest, now, pass); got != admitted {
		t.Fatalf("account %d (the same low bits), from a new address: %v, want admitted", honest, got)
	}
	for i := range allowance {
		if got := g.check(addr(200+i), absent, now, fail); got != failed {
			t.Fatalf("failed logon %d to unknown id %d: %v", i, absent, got)
		}
	}
	if got := g.check(addr(300), absent, now, fail); got != throttledAccount {
		t.Fatalf("unknown id %d past its allowance: %v, want throttledAccount, as an account", absent, got)
	}
	if got := g.check(addr(301), honest, now, fail); got != failed {
		t.Fatalf("account %d after unknown id %d was throttled: %v, want its secret checked", honest, absent, got)
	}
	for id := range uint32(10_000) {
		g.check(addr(400), 1<<20+id, now, fail)
	}
	if len(g.accounts) != 2 || len(g.slots) != accountSlots || g.accounts[honest] == g.accounts[stale] {
		t.Fatalf("after 10 000 unknown ids: %d accounts, %d slots; want 2 and %d", len(g.accounts), len(g.slots), accountSlots)
	}
}

// A table full of addresses with failures counted forgets none of them:
// it forgot arbitrary ones, throttled ones too, down to three quarters
// of maxGuardedAddrs, so an attacker with more addresses than that (an
// IPv6 /48 is 65 536 /64s) had its throttled ones let go and guessed on.
// The addresses it has no room for share their network's allowance (all
// of one /24 here); once that is spent they are refused unchecked — but for an account's client at
// an address it logged on from before — until buckets refill.
func TestLogonGuardKeepsThrottledAddresses(t *testing.T) {
	const allowance = 2
	t0 := time.Unix(1_000_000, 0).UnixNano()
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 3, byte(i >> 8), byte(i)}) }
	g := newLogonGuard(allowance, 0, nil, t0)
	usual := netip.AddrFrom4([4]byte{192, 0, 2, 1})
	if got := g.check(usual, 1, t0, pass); got != admitted {
		t.Fatalf("the account's client: %v", got)
	}
	for i := range maxGuardedAddrs {
		for range allowance {
			g.check(addr(i), 1, t0, fail)
		}
	}
	if len(g.buckets) != maxGuardedAddrs {
		t.Fatalf("%d addresses remembered, want the table full (%d)", len(g.buckets), maxGuardedAddrs)
	}
	// More addresses than the table holds: the first failures share their
	// /24's allowance, then every new address of it is refused unchecked.
	checked := failBeyondTable(t, g, addr, t0)
	if checked != allowance {
		t.Fatalf("%d logons from 100 addresses beyond the table checked, want the shared allowance of %d", checked, allowance)
	}
	if got := g.check(addr(maxGuardedAddrs+200), 1, t0, pass); got != throttled {
		t.Fatalf("a new address, right secret, the shared allowance spent: %v, want throttled", got)
	}
	for i := range maxGuardedAddrs {
		if got := g.check(addr(i), 1, t0, pass); got != throttled {
			t.Fatalf("throttled address %d after %d more addresses failed: %v, want still throttled", i, 100, got)
		}
	}
	if len(g.buckets) > maxGuardedAddrs {
		t.Fatalf("%d addresses remembered, bound %d", len(g.buckets), maxGuardedAddrs)
	}
	if got := g.check(usual, 1, t0, pass); got != admitted {
		t.Fatalf("the account's client at its usual address, table full: %v, want admitted", got)
	}
	// A minute on, every bucket has refilled: the next new address makes
	// room, and its logon is checked.
	later := t0 + int64(time.Minute)
	if got := g.check(addr(maxGuardedAddrs+300), 1, later, pass); got != admitted {
		t.Fatalf("a new address once the table's buckets refilled: %v, want admitted", got)
	}
	if got := g.check(addr(maxGuardedAddrs+301), 1, later, fail); got != failed {
		t.Fatalf("a new address's failure once the table's buckets refilled: %v, want failed", got)
	}
	if n := len(g.buckets); n != 1 {
		t.Fatalf("%d addresses remembered after the refill, want the one that failed since", n)
	}
}

// An address an account's secret logged on from is let past a spent
// shared allowance (spill) or account allowance, so that the account's
// client is not locked out — but its own failed logons naming the
// account are still bounded, by an address's allowance (or, with no
// per-address limit, the account's). They were not: with the table full
// (or the account's failures spent) a known address had every guess at
// the account checked — someone sharing a client's IPv4 NAT or IPv6
// /64, or holding an account's old secret, guessed its new one at the
// speed of the network.
func TestLogonGuardKnownAddressStillLimited(t *testing.T) {
	const allowance, guesses = 2, 20
	t0 := time.Unix(1_000_000, 0).UnixNano()
	usual := netip.AddrFrom4([4]byte{192, 0, 2, 1})
	checkedFrom := func(g *logonGuard, account uint32) (checked int) {
		for range guesses {
			switch got := g.check(usual, account, t0, fail); got {
			case failed:
				checked++
			case throttled, throttledAccount:
			default:
				t.Fatalf("guess from the known address: %v", got)
			}
		}
		return checked
	}

	// The table full, the allowance the known address shares beyond it
	// (its network's) spent.
	g := newLogonGuard(allowance, 0, nil, t0)
	if got := g.check(usual, 1, t0, pass); got != admitted {
		t.Fatalf("the account's client: %v", got)
	}
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 4, byte(i >> 8), byte(i)}) }
	for i := range maxGuardedAddrs {
		g.check(addr(i), 1, t0, fail)
	}
	neighbour := netip.AddrFrom4([4]byte{192, 0, 2, 99})
	for range allowance {
		g.check(neighbour, 1, t0, fail)
	}
	if got := g.check(neighbour, 1, t0, pass); got != throttled {
		t.Fatalf("beyond the full table, the shared allowance spent: %v, want throttled", got)
	}
	if n := checkedFrom(g, 1); n != allowance {
		t.Fatalf("table full: %d of %d guesses from a known address checked, want an address's allowance of %d", n, guesses, allowance)
	}
	if got := g.check(usual, 1, t0, pass); got != throttled {
		t.Fatalf("the known address after its allowance, right secret: %v, want throttled", got)
	}
	if got := g.check(usual, 1, t0+int64(31*time.Second), pass); got != admitted {
		t.Fatalf("the known address once a failure came back: %v, want admitted", got)
	}

	// No per-address limit: the account's allowance bounds it.
	g = newLogonGuard(0, allowance, []uint32{7}, t0)
	if got := g.check(usual, 7, t0, pass); got != admitted {
		t.Fatalf("the account's client: %v", got)
	}
	for i := range allowance {
		g.check(addr(i), 7, t0, fail)
	}
	if n := checkedFrom(g, 7); n != allowance {
		t.Fatalf("account spent: %d of %d guesses from a known address checked, want %d", n, guesses, allowance)
	}
}

// Addresses beyond a full table share their network's allowance — an
// IPv6 /48's, an IPv4 /24's — and only past maxGuardedAddrs networks
// one allowance for all: one host with a /48 (65 536 /64s) keeping the
// table full spends its own network's allowance, not every newcomer's.
// All of them shared one, so it kept every client at an address new to
// the node out — after a restart or a failover, every client — with 10
// failed logons a minute more than it took to keep the table full.
func TestLogonGuardSpillsByNetwork(t *testing.T) {
	const allowance = 2
	t0 := time.Unix(1_000_000, 0).UnixNano()
	g := newLogonGuard(allowance, 0, nil, t0)
	attacker := func(i int) netip.Addr { // a /64 of 2001:db8:1::/48
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, byte(i >> 8), byte(i)})
	}
	for i := range maxGuardedAddrs {
		g.check(attacker(i), 1, t0, fail)
	}
	if len(g.buckets) != maxGuardedAddrs {
		t.Fatalf("%d addresses remembered, want the table full (%d)", len(g.buckets), maxGuardedAddrs)
	}
	checked := failBeyondTable(t, g, attacker, t0)
	if checked != allowance {
		t.Fatalf("%d logons from 100 more /64s of the /48 checked, want its allowance of %d", checked, allowance)
	}
	if got := g.check(attacker(maxGuardedAddrs+200), 1, t0, pass); got != throttled {
		t.Fatalf("another /64 of the /48, right secret, its allowance spent: %v, want throttled", got)
	}
	for _, a := range []string{"2001:db8:2:1::7", "192.0.2.7"} {
		if got := g.check(guardKey(netip.MustParseAddr(a)), 1, t0, pass); got != admitted {
			t.Fatalf("a client at %s, new to the node, another network than the one failing: %v, want admitted", a, got)
		}
	}

	// Past maxGuardedAddrs networks the rest share one allowance, and
	// neither table grows past its bound.
	network := func(i int) netip.Addr { // a /64 of the /48 2001:db8:ff00+i::
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xff ^ byte(i>>8), byte(i)})
	}
	for i := range maxGuardedAddrs - 1 { // and the attacker's /48
		g.check(network(i), 1, t0, fail)
	}
	checked = 0
	for i := maxGuardedAddrs; i < maxGuardedAddrs+100; i++ {
		if g.check(network(i), 1, t0, fail) == failed {
			checked++
		}
	}
	if checked != allowance {
		t.Fatalf("%d logons from 100 networks beyond both tables checked, want the one shared allowance of %d", checked, allowance)
	}
	if len(g.buckets) > maxGuardedAddrs || len(g.wide) > maxGuardedAddrs {
		t.Fatalf("%d addresses and %d networks remembered, bound %d each", len(g.buckets), len(g.wide), maxGuardedAddrs)
	}
}

// Whether an id is configured does not show in which ids share its
// failed-logon allowance: an attacker who spends an id's allowance and
// then names others, one a minute, finds those that share it — for an
// account as for an id that does not exist. An account's allowance was
// its own, shared with no id, so an id with no other id ever throttled
// along with it was an account: about 65 536 failed logons told whether
// an id exists.
func TestLogonGuardHidesWhichIDsExist(t *testing.T) {
	const x = 77
	for _, configured := range []bool{false, true} {
		var accounts []uint32
		if configured {
			accounts = []uint32{x, 78}
		}
		t0 := time.Unix(1_000_000, 0).UnixNano()
		g := newLogonGuard(0, 1, accounts, t0)
		from := netip.AddrFrom4([4]byte{10, 5, 0, 1})
		found := false
		for k := range 1 << 21 {
			now := t0 + int64(k)*int64(time.Minute) // every allowance refilled
			if got := g.check(from, x, now, fail); got != failed {
				t.Fatalf("configured=%v: id %d's first failure of the minute: %v", configured, x, got)
			}
			if g.check(from, 1<<24+uint32(k), now, fail) == throttledAccount {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("configured=%v: no id found sharing id %d's allowance in %d tries (expected within ~%d)", configured, x, 1<<21, accountSlots)
		}
	}
}

// GuardCounts tells an operator how full the guard's tables are — at
// maxGuardedAddrs addresses, new ones share their network's allowance —
// counting only entries with failures still counted: one refilled is
// forgotten when room is needed, and holds nothing back.
func TestLogonGuardCounts(t *testing.T) {
	const allowance = 2
	t0 := time.Unix(1_000_000, 0).UnixNano()
	g := newLogonGuard(allowance, 0, nil, t0)
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 6, byte(i >> 8), byte(i)}) }
	for i := range maxGuardedAddrs + 10 {
		g.check(addr(i), 1, t0, fail)
	}
	g.check(netip.MustParseAddr("192.0.2.1"), 1, t0, fail)
	if a, n := g.counts(t0); a != maxGuardedAddrs || n != 2 {
		t.Fatalf("counts %d addresses, %d networks; want %d and 2 (10.6.16.0/24, 192.0.2.0/24)", a, n, maxGuardedAddrs)
	}
	if a, n := g.counts(t0 + int64(time.Minute)); a != 0 || n != 0 {
		t.Fatalf("a minute on, every allowance refilled: counts %d addresses, %d networks; want none", a, n)
	}
}

// failBeyondTable fails a logon naming account 1 from each of the 100
// addresses after the table's maxGuardedAddrs (addr(i)), each checked
// or refused unchecked, and returns how many were checked.
func failBeyondTable(t *testing.T, g *logonGuard, addr func(int) netip.Addr, now int64) (checked int) {
	t.Helper()
	for i := maxGuardedAddrs; i < maxGuardedAddrs+100; i++ {
		switch got := g.check(addr(i), 1, now, fail); got {
		case failed:
			checked++
		case throttled:
		default:
			t.Fatalf("address %d (%v) beyond the table: %v", i, addr(i), got)
		}
	}
	return checked
}
