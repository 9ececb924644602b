// Package specialaddr decides whether an IP address is an ordinary public unicast address,
// by the IANA special-purpose address registries (registry.go) rather than a hand list of
// "private" ranges, after normalising every IPv6 form that carries an IPv4 address: an IPv6
// address is public only if it and the IPv4 address it embeds both are.
package specialaddr

import (
	"net/netip"
)

// Public reports whether ip is a public unicast address: in no special-purpose block, not
// multicast, for IPv6 within the global unicast space, and carrying no IPv4 address that is
// not public itself. A zoned address (fe80::1%eth0) is never public.
func Public(ip netip.Addr) bool {
	if !ip.IsValid() || ip.Zone() != "" {
		return false
	}
	ip = ip.Unmap() // ::ffff:a.b.c.d is a.b.c.d written as IPv6
	if ip.Is4() {
		return publicIPv4(ip)
	}
	if !IPv6GlobalUnicast.Prefix.Contains(ip) || inAny(IPv6Special, ip) {
		return false
	}
	for _, v4 := range EmbeddedIPv4(ip) {
		if !publicIPv4(v4) {
			return false
		}
	}
	return true
}

func publicIPv4(ip netip.Addr) bool {
	return !IPv4Multicast.Prefix.Contains(ip) && !inAny(IPv4Special, ip)
}

func inAny(blocks []Block, ip netip.Addr) bool {
	for _, b := range blocks {
		if b.Prefix.Contains(ip) {
			return true
		}
	}
	return false
}

// The IPv6 forms that carry an IPv4 address (besides IPv4-mapped, which Unmap handles).
var (
	ipv4Compatible = netip.MustParsePrefix("::/96")           // RFC 4291 2.5.5.1, deprecated
	ipv4Translated = netip.MustParsePrefix("::ffff:0:0:0/96") // RFC 2765 (SIIT)
	nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96")    // RFC 6052
	nat64Local     = netip.MustParsePrefix("64:ff9b:1::/48")  // RFC 8215, RFC 6052 /48 layout
	sixToFour      = netip.MustParsePrefix("2002::/16")       // RFC 3056
	teredo         = netip.MustParsePrefix("2001::/32")       // RFC 4380
)

// EmbeddedIPv4 returns the IPv4 addresses an IPv6 address carries: the low 32 bits of an
// IPv4-compatible (::a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d) or NAT64 (64:ff9b::/96)
// address; the RFC 6052 /48 layout of 64:ff9b:1::/48; the 6to4 router (2002:AABB:CCDD::);
// a Teredo server and its (inverted) client; and the IPv4 address in an ISATAP interface
// identifier (…:0:5efe:a.b.c.d or …:200:5efe:a.b.c.d, RFC 5214) under any prefix.
func EmbeddedIPv4(ip netip.Addr) []netip.Addr {
	if !ip.Is6() || ip.Is4In6() {
		return nil
	}
	b := ip.As16()
	at := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{b[i], b[i+1], b[i+2], b[i+3]}) }
	var out []netip.Addr
	switch {
	case ipv4Compatible.Contains(ip), ipv4Translated.Contains(ip), nat64WellKnown.Contains(ip):
		out = append(out, at(12))
	case nat64Local.Contains(ip):
		// RFC 6052 section 2.2, prefix length 48: v4 bits 48-63, then (after octet 8, "u") 72-87.
		out = append(out, netip.AddrFrom4([4]byte{b[6], b[7], b[9], b[10]}))
	case sixToFour.Contains(ip):
		out = append(out, at(2))
	case teredo.Contains(ip):
		out = append(out, at(4), netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}))
	}
	if b[8]&^0x03 == 0 && b[9] == 0 && b[10] == 0x5e && b[11] == 0xfe {
		out = append(out, at(12))
	}
	return out
}
