package gateway

import (
	"net"
	"net/netip"
	"sync"
)

// ConnsPerAddr counts a port's open connections by remote address — an
// IPv4 address, or the /64 of an IPv6 one, as the logon guard keys them —
// and refuses one more than its limit from any one address. Without it
// one host could hold every connection a port allows (order entry keeps
// a connection that sends nothing until its logon deadline; market data
// keeps a subscriber as long as it reads) and lock every other client
// out. Safe for concurrent use; a limit of 0 refuses nothing.
type ConnsPerAddr struct {
	limit int
	mu    sync.Mutex
	open  map[netip.Addr]int
}

// NewConnsPerAddr counts connections with limit per address (0: none).
func NewConnsPerAddr(limit int) *ConnsPerAddr {
	return &ConnsPerAddr{limit: limit, open: map[netip.Addr]int{}}
}

// Open counts conn against its address, or reports false — counting
// nothing — when the address has limit open already. A true answer is
// paired with one Close of the address it returns.
func (c *ConnsPerAddr) Open(conn net.Conn) (netip.Addr, bool) {
	a := remoteAddr(conn)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.limit > 0 && c.open[a] >= c.limit {
		return a, false
	}
	c.open[a]++
	return a, true
}

// Close uncounts a connection Open let in.
func (c *ConnsPerAddr) Close(a netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[a]--; c.open[a] <= 0 {
		delete(c.open, a) // the map holds only addresses with connections open
	}
}
