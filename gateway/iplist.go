package gateway

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// IPList is an allow list and a deny list of client addresses. A denied
// address is refused; when the allow list is not empty, an address it does
// not contain is refused too. The zero value admits everyone.
type IPList struct {
	allow, deny []netip.Prefix
}

// ParseIPList parses CIDRs or single addresses ("203.0.113.0/24",
// "2001:db8::1"), naming the first bad entry.
func ParseIPList(allow, deny []string) (IPList, error) {
	var l IPList
	var err error
	if l.allow, err = parsePrefixes(allow); err != nil {
		return IPList{}, fmt.Errorf("allow list: %w", err)
	}
	if l.deny, err = parsePrefixes(deny); err != nil {
		return IPList{}, fmt.Errorf("deny list: %w", err)
	}
	return l, nil
}

// ParsePrefix reads a CIDR or a single address as a prefix.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR like 203.0.113.0/24", s)
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 { // ::ffff:a.b.c.d/n is a.b.c.d/(n-96)
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func parsePrefixes(in []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range in {
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Empty reports whether the list admits everyone.
func (l IPList) Empty() bool { return len(l.allow) == 0 && len(l.deny) == 0 }

// Admits reports whether addr may call.
func (l IPList) Admits(addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("") // a zoned address matches no prefix
	for _, p := range l.deny {
		if p.Contains(addr) {
			return false
		}
	}
	if len(l.allow) == 0 {
		return true
	}
	for _, p := range l.allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// clientAddr returns the address a request comes from: the peer, or, when
// the peer is a trusted proxy, the right-most X-Forwarded-For address that
// is not itself a trusted proxy.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := ap.Addr().Unmap().WithZone("")
	if len(trusted) == 0 || !inPrefixes(addr, trusted) {
		return addr
	}
	xff := r.Header.Values("X-Forwarded-For")
	for i := len(xff) - 1; i >= 0; i-- {
		parts := strings.Split(xff[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := parseHop(strings.TrimSpace(parts[j]))
			if err != nil {
				return addr // a garbled hop: trust nothing before it
			}
			addr = a.Unmap().WithZone("")
			if !inPrefixes(addr, trusted) {
				return addr
			}
		}
	}
	return addr
}

// parseHop reads an X-Forwarded-For entry: an address, or an address and
// port as some proxies write it ("203.0.113.5:4711", "[2001:db8::1]:4711").
func parseHop(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return netip.Addr{}, err
		}
		a = ap.Addr()
	}
	return a, nil
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
