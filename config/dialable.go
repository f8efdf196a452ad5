package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// DialableHost reports why host (without its port) is no address other
// members and clients can dial, nil when it is one: an empty host or an
// unspecified address (0.0.0.0, ::) each dialer reads as its own
// machine; a number inet_aton reads as an IPv4 address in a form other
// than a.b.c.d (0, 0.0, 127.1, 2130706433, 0x7f000001, 010.0.0.1) the
// C library's resolver (getaddrinfo: macOS, a cgo build told to use it)
// dials as that address — "0" this very machine — where Go's own
// resolver looks it up as a name: the members would not agree on where
// it is. A name whose labels start with digits ("0.n3.example") is a
// name to both.
func DialableHost(host string) error {
	if host == "" {
		return errors.New("want a host others can reach, not an empty one")
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("%s is no address to dial", host)
	}
	if v4, ok := inetAton(host); ok && ip == nil {
		if v4.IsUnspecified() {
			return fmt.Errorf("%s is %s to the C library's resolver: no address to dial", host, v4)
		}
		return fmt.Errorf("%s is %s to the C library's resolver and a host name to Go's: write %s", host, v4, v4)
	}
	return nil
}

// undialable is DialableHost's reason in parentheses, after a space; ""
// for a dialable host.
func undialable(host string) string {
	if err := DialableHost(host); err != nil {
		return " (" + err.Error() + ")"
	}
	return ""
}

// inetAton reads host as the C library's inet_aton does (and
// getaddrinfo before it looks a name up): one to four parts split at
// '.', each decimal, octal after a leading 0 or hexadecimal after 0x;
// the last part fills the bytes the others leave ("127.1" is 127.0.0.1,
// "2130706433" too). ok is false for anything it does not read as an
// IPv4 address.
func inetAton(host string) (netip.Addr, bool) {
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		n, ok := inetAtonPart(p)
		if !ok {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if n > 0xff {
				return netip.Addr{}, false
			}
			v |= n << (24 - 8*i)
			continue
		}
		if n >= 1<<(8*(5-len(parts))) {
			return netip.Addr{}, false
		}
		v |= n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// inetAtonPart reads one part of inet_aton's address: decimal digits,
// octal ones after a 0 ("0" alone is 0), or at least one hexadecimal
// digit after 0x; at most 32 bits.
func inetAtonPart(p string) (uint64, bool) {
	base, digits := 10, p
	switch {
	case p == "0":
		return 0, true
	case strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X"):
		base, digits = 16, p[2:]
	case strings.HasPrefix(p, "0"):
		base, digits = 8, p[1:]
	}
	n, err := strconv.ParseUint(digits, base, 32) // no sign, no '_' in an explicit base
	return n, err == nil
}
