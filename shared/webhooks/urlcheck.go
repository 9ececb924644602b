package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"tokapi.io/tok/shared/tenant"
)

// Resolver resolves host names; net.DefaultResolver is one. Tests inject their own to play
// DNS rebinding.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// URLError says why an endpoint URL is refused; its message is safe to show the client.
type URLError struct{ Reason string }

func (e *URLError) Error() string { return e.Reason }

// maxURLLen bounds an endpoint URL.
const maxURLLen = 2048

// nonPublic are the prefixes an endpoint may never reach (besides what netip's predicates
// catch): CGNAT, IETF protocol assignments, benchmarking, documentation, reserved, NAT64
// and 6to4/Teredo (which can embed private IPv4), ULA, site-local.
var nonPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32",
		"64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/32", "2001:db8::/32", "2002::/16",
		"fc00::/7", "fec0::/10",
	} {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}()

// IsPublic reports whether ip is a public unicast address: not private, loopback,
// link-local, multicast, unspecified, CGNAT, IPv6 ULA or otherwise special.
func IsPublic(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() ||
		ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// loopbackHost reports whether host names this machine in the way sandbox endpoints may.
func loopbackHost(host string) bool {
	switch strings.ToLower(host) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// allowsLoopback reports whether an endpoint URL of env may reach loopback addresses: only
// sandbox endpoints on http(s)://localhost or 127.0.0.1.
func allowsLoopback(env string, u *url.URL) bool {
	return env == tenant.Sandbox && loopbackHost(u.Hostname())
}

// ParseURL checks an endpoint URL's shape for env: https, or for sandbox also http on
// localhost/127.0.0.1; no credentials, no fragment. It does not resolve the host.
func ParseURL(env, raw string) (*url.URL, error) {
	if raw == "" || len(raw) > maxURLLen {
		return nil, &URLError{"must be an absolute https URL of at most 2048 characters"}
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return nil, &URLError{"must be an absolute https URL"}
	}
	if u.User != nil {
		return nil, &URLError{"must not carry credentials"}
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, &URLError{"must not have a fragment"}
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowsLoopback(env, u):
	case u.Scheme == "http" && env == tenant.Sandbox:
		return nil, &URLError{"must use https (sandbox endpoints may use http on localhost or 127.0.0.1 only)"}
	default:
		return nil, &URLError{"must use https"}
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, &URLError{"has an invalid port"}
		}
	}
	return u, nil
}

// CheckURL is ParseURL plus the address check: every address the host resolves to must be
// public, unless env is sandbox and the host is localhost/127.0.0.1.
func CheckURL(ctx context.Context, r Resolver, env, raw string) (*url.URL, error) {
	u, err := ParseURL(env, raw)
	if err != nil {
		return nil, err
	}
	if allowsLoopback(env, u) {
		return u, nil
	}
	if _, err := resolvePublic(ctx, r, u.Hostname()); err != nil {
		return nil, err
	}
	return u, nil
}

// resolvePublic resolves host and returns its addresses if every one is public.
func resolvePublic(ctx context.Context, r Resolver, host string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		addrs, err = r.LookupNetIP(ctx, "ip", host)
		if err != nil || len(addrs) == 0 {
			return nil, &URLError{"has a host name that does not resolve"}
		}
	}
	for _, ip := range addrs {
		if !IsPublic(ip) {
			return nil, &URLError{"resolves to a non-public address (" + ip.Unmap().String() + "); live endpoints must be reachable on the public internet"}
		}
	}
	return addrs, nil
}

// ErrBlockedAddress is the dial error for an address an endpoint may not reach.
var ErrBlockedAddress = errors.New("webhooks: destination address is not public")

// dialer dials only addresses its policy allows: it resolves the host itself, checks every
// address, and connects to a checked address (never re-resolving), so DNS rebinding between
// the check and the connection is impossible. The socket's Control checks once more.
type dialer struct {
	resolver      Resolver
	allowLoopback bool
	net           net.Dialer
}

func newDialer(r Resolver, allowLoopback bool) *dialer {
	d := &dialer{resolver: r, allowLoopback: allowLoopback}
	d.net = net.Dialer{Timeout: Timeout, Control: d.control}
	return d
}

func (d *dialer) allowed(ip netip.Addr) bool {
	return IsPublic(ip) || (d.allowLoopback && ip.Unmap().IsLoopback())
}

// control runs on the raw socket before connect: the last line of defence.
func (d *dialer) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !d.allowed(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrBlockedAddress, address)
	}
	return nil
}

// DialContext implements http.Transport.DialContext.
func (d *dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else if addrs, err = d.resolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	lastErr := fmt.Errorf("resolve %s: no addresses", host)
	for _, ip := range addrs {
		if !d.allowed(ip) {
			// One non-public address taints the host: refuse rather than pick another.
			return nil, fmt.Errorf("%w: %s resolves to %s", ErrBlockedAddress, host, ip.Unmap())
		}
	}
	for _, ip := range addrs {
		c, err := d.net.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	return nil, lastErr
}
