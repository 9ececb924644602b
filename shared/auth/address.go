package auth

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddress is the address the request came from, as the load balancer saw it. Google's
// load balancer appends "<client>, <load balancer>" to X-Forwarded-For (the local gateway
// does the same), so the client is the second entry from the right and anything a client
// wrote before it is ignored. IPv6 clients are keyed by their /64, which one subscriber
// usually holds whole.
func clientAddress(r *http.Request) string {
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for h := range strings.SplitSeq(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	raw := ""
	switch {
	case len(hops) >= 2:
		raw = hops[len(hops)-2]
	case len(hops) == 1:
		raw = hops[0]
	default:
		raw, _, _ = net.SplitHostPort(r.RemoteAddr)
	}
	ip, err := netip.ParseAddr(raw)
	if err != nil {
		return "unknown"
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
