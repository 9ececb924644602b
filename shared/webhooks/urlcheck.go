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

	"tokapi.io/tok/shared/specialaddr"
	"tokapi.io/tok/shared/tenant"
)

// Resolver resolves host names; net.DefaultResolver is one. Tests inject their own to play
// DNS rebinding.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// URLError says why an endpoint URL is refused; its message is safe to show the client: it
// never names an address the host resolved to.
type URLError struct{ Reason string }

func (e *URLError) Error() string { return e.Reason }

// maxURLLen bounds an endpoint URL.
const maxURLLen = 2048

// IsPublic reports whether ip is a public unicast address by the IANA special-purpose
// registries, every IPv6 form that embeds an IPv4 address normalised (shared/specialaddr).
func IsPublic(ip netip.Addr) bool { return specialaddr.Public(ip) }

// Policy is what a deployment lets endpoints reach beyond the public internet, and what it
// keeps them from. The zero Policy is a deployment's: public addresses only.
type Policy struct {
	// Loopback lets sandbox endpoints use http(s)://localhost, 127.0.0.1 or [::1]: only the
	// local stack sets it (TOK_WEBHOOK_LOOPBACK); a deployed sandbox never delivers to loopback.
	Loopback bool
	// Own are Tok's own base URLs (the API hosts, the sandbox bank): no endpoint may name
	// their host (on loopback, their host and port).
	Own []string
	// Internal are addresses of Tok's own processes, "ip" (every port) or "ip:port", that no
	// delivery connects to whatever a name resolves to: the load balancer's address in a
	// deployment; locally the gateway's listeners, the functions and the emulators.
	Internal []string
}

// loopbackHost reports whether host names this machine in the way sandbox endpoints may.
func loopbackHost(host string) bool {
	switch strings.ToLower(host) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// allowsLoopback reports whether an endpoint URL of env may reach loopback addresses.
func (p Policy) allowsLoopback(env string, u *url.URL) bool {
	return p.Loopback && env == tenant.Sandbox && loopbackHost(u.Hostname())
}

// canonicalHost is a URL's host as compared: lower case, without a trailing dot.
func canonicalHost(u *url.URL) string { return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".") }

// port is a URL's port, the scheme's default filled in.
func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	return map[string]string{"http": "80", "https": "443"}[u.Scheme]
}

// own reports whether u points at one of Tok's own hosts: the same host name, or on
// loopback (one machine, many services) the same port.
func (p Policy) own(u *url.URL) bool {
	for _, raw := range p.Own {
		o, err := url.Parse(raw)
		if err != nil || o.Host == "" {
			continue
		}
		switch {
		case loopbackHost(o.Hostname()) != loopbackHost(u.Hostname()):
		case loopbackHost(o.Hostname()):
			if port(o) == port(u) {
				return true
			}
		case canonicalHost(o) == canonicalHost(u):
			return true
		}
	}
	return false
}

// internal reports whether ap is one of Tok's own process addresses.
func (p Policy) internal(ap netip.AddrPort) bool {
	ip := ap.Addr().Unmap()
	for _, s := range p.Internal {
		if a, err := netip.ParseAddr(s); err == nil && a.Unmap() == ip {
			return true
		}
		if a, err := netip.ParseAddrPort(s); err == nil && a.Addr().Unmap() == ip && a.Port() == ap.Port() {
			return true
		}
		// The gateway's own loopback listeners are reachable as 127.0.0.1 and [::1] alike.
		if a, err := netip.ParseAddrPort(s); err == nil && a.Addr().IsLoopback() && ip.IsLoopback() && a.Port() == ap.Port() {
			return true
		}
	}
	return false
}

// validHostName accepts an IP literal or a DNS name whose last label is not all digits, so
// the numeric shorthands some resolvers read as addresses ("2130706433", "127.1",
// "0x7f.1") are refused instead of resolved.
func validHostName(host string) bool {
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" || len(host) > 253 {
		return false
	}
	labels := strings.Split(host, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return strings.TrimLeft(last, "0123456789") != "" && !strings.HasPrefix(strings.ToLower(last), "0x")
}

// ParseURL checks an endpoint URL's shape for env: https, or for sandbox where the policy
// allows loopback also http on localhost/127.0.0.1/[::1]; no credentials, no fragment, a
// valid host that is not one of Tok's own. It does not resolve the host.
func (p Policy) ParseURL(env, raw string) (*url.URL, error) {
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
	case u.Scheme == "http" && p.allowsLoopback(env, u):
	case u.Scheme == "http" && env == tenant.Sandbox && p.Loopback:
		return nil, &URLError{"must use https (sandbox endpoints may use http on localhost or 127.0.0.1 only)"}
	default:
		return nil, &URLError{"must use https"}
	}
	if !validHostName(u.Hostname()) {
		return nil, &URLError{"has an invalid host name"}
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, &URLError{"has an invalid port"}
		}
	}
	if p.own(u) {
		return nil, &URLError{"must not point at Tok's own API"}
	}
	return u, nil
}

// CheckURL is ParseURL plus the address check: every address the host resolves to must be
// public and none of Tok's own, unless the policy lets this sandbox endpoint reach loopback
// (where the dialer still keeps Tok's own ports out of reach).
func (p Policy) CheckURL(ctx context.Context, r Resolver, env, raw string) (*url.URL, error) {
	u, err := p.ParseURL(env, raw)
	if err != nil {
		return nil, err
	}
	if p.allowsLoopback(env, u) {
		return u, nil
	}
	addrs, err := resolvePublic(ctx, r, u.Hostname())
	if err != nil {
		return nil, err
	}
	n, _ := strconv.ParseUint(port(u), 10, 16)
	for _, ip := range addrs {
		if p.internal(netip.AddrPortFrom(ip, uint16(n))) {
			return nil, &URLError{"must not point at Tok's own API"}
		}
	}
	return u, nil
}

// resolvePublic resolves host and returns its addresses if every one is public. Its errors
// name no address: the client must not learn what an internal name resolves to.
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
			return nil, &URLError{"resolves to an address that is not public; live endpoints must be reachable on the public internet"}
		}
	}
	return addrs, nil
}

// ErrBlockedAddress is the dial error for an address an endpoint may not reach.
var ErrBlockedAddress = errors.New("webhooks: destination address is not public")

// ErrUnresolvable is the dial error for a host name that does not resolve (the resolver's
// own error, which may name internal DNS servers, is not kept).
var ErrUnresolvable = errors.New("webhooks: the host name does not resolve")

// dialer dials only addresses its policy allows: it resolves the host itself, checks every
// address, and connects to a checked address (never re-resolving), so DNS rebinding between
// the check and the connection is impossible. The socket's Control checks once more.
type dialer struct {
	resolver      Resolver
	allowLoopback bool
	policy        Policy
	net           net.Dialer
}

func newDialer(r Resolver, p Policy, allowLoopback bool) *dialer {
	d := &dialer{resolver: r, policy: p, allowLoopback: allowLoopback}
	d.net = net.Dialer{Timeout: Timeout, Control: d.control}
	return d
}

func (d *dialer) allowed(ap netip.AddrPort) bool {
	ip := ap.Addr()
	if d.policy.internal(ap) {
		return false
	}
	return IsPublic(ip) || (d.allowLoopback && ip.Unmap().IsLoopback())
}

// control runs on the raw socket before connect: the last line of defence.
func (d *dialer) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !d.allowed(ap) {
		return ErrBlockedAddress
	}
	return nil
}

// DialContext implements http.Transport.DialContext.
func (d *dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else if addrs, err = d.resolver.LookupNetIP(ctx, "ip", host); err != nil || len(addrs) == 0 {
		return nil, ErrUnresolvable
	}
	for _, ip := range addrs {
		if !d.allowed(netip.AddrPortFrom(ip, uint16(port))) {
			// One non-public address taints the host: refuse rather than pick another.
			return nil, ErrBlockedAddress
		}
	}
	var lastErr error
	for _, ip := range addrs {
		c, err := d.net.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), portStr))
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("connect to %s: %w", host, lastErr)
}
