package specialaddr

import (
	"net/netip"
	"testing"
)

func TestPublic(t *testing.T) {
	cases := []struct {
		addr string
		want bool
		why  string
	}{
		{"93.184.216.34", true, "public IPv4"},
		{"8.8.8.8", true, "public IPv4"},
		{"2606:4700:4700::1111", true, "public IPv6"},
		{"2a00:1450:4001:80b::200e", true, "public IPv6"},
		{"::ffff:93.184.216.34", true, "IPv4-mapped public address"},
		{"2002:5db8:d822::1", false, "6to4, even of a public IPv4 (2002::/16 is special)"},

		{"10.1.2.3", false, "private"},
		{"172.16.0.1", false, "private"},
		{"192.168.1.1", false, "private"},
		{"127.0.0.1", false, "loopback"},
		{"127.8.8.8", false, "loopback"},
		{"169.254.169.254", false, "link-local (metadata)"},
		{"100.64.0.1", false, "shared address space"},
		{"0.0.0.0", false, "this host"},
		{"0.1.2.3", false, "this network"},
		{"192.0.0.9", false, "PCP anycast"},
		{"192.0.0.170", false, "NAT64 discovery"},
		{"192.0.2.1", false, "TEST-NET-1"},
		{"192.31.196.1", false, "AS112"},
		{"192.52.193.1", false, "AMT"},
		{"192.88.99.1", false, "6to4 relay anycast"},
		{"192.175.48.1", false, "AS112 direct delegation"},
		{"198.18.0.1", false, "benchmarking"},
		{"198.51.100.7", false, "TEST-NET-2"},
		{"203.0.113.7", false, "TEST-NET-3"},
		{"224.0.0.1", false, "multicast"},
		{"239.255.255.250", false, "multicast"},
		{"240.0.0.1", false, "reserved"},
		{"255.255.255.255", false, "broadcast"},

		{"::1", false, "loopback"},
		{"::", false, "unspecified"},
		{"fe80::1", false, "link-local"},
		{"fe80::1%eth0", false, "zoned link-local"},
		{"fc00::1", false, "ULA"},
		{"fd12:3456::1", false, "ULA"},
		{"fec0::1", false, "site-local (outside 2000::/3)"},
		{"ff02::1", false, "multicast"},
		{"100::1", false, "discard-only"},
		{"100:0:0:1::1", false, "dummy prefix"},
		{"2001:db8::1", false, "documentation"},
		{"3fff::1", false, "documentation"},
		{"5f00::1", false, "SRv6"},
		{"2001:2::1", false, "benchmarking"},
		{"2001:20::1", false, "ORCHIDv2"},
		{"2620:4f:8000::1", false, "AS112"},
		{"4000::1", false, "outside global unicast"},

		{"::a9fe:a9fe", false, "IPv4-compatible 169.254.169.254"},
		{"::169.254.169.254", false, "IPv4-compatible, dotted"},
		{"::127.0.0.1", false, "IPv4-compatible loopback"},
		{"::a00:1", false, "IPv4-compatible 10.0.0.1"},
		{"::5db8:d822", false, "IPv4-compatible, even of a public IPv4"},
		{"::ffff:a9fe:a9fe", false, "IPv4-mapped metadata"},
		{"::ffff:127.0.0.1", false, "IPv4-mapped loopback"},
		{"::ffff:10.0.0.1", false, "IPv4-mapped private"},
		{"::ffff:0:a9fe:a9fe", false, "IPv4-translated metadata"},
		{"::ffff:0:127.0.0.1", false, "IPv4-translated loopback"},
		{"64:ff9b::a9fe:a9fe", false, "NAT64 metadata"},
		{"64:ff9b::10.0.0.1", false, "NAT64 private"},
		{"64:ff9b::93.184.216.34", false, "NAT64 (special block itself)"},
		{"64:ff9b:1:a9fe:a9:fe00::", false, "local NAT64"},
		{"2002:a9fe:a9fe::1", false, "6to4 metadata"},
		{"2002:7f00:1::1", false, "6to4 loopback"},
		{"2001:0:a9fe:a9fe::1", false, "Teredo"},
		{"2001::ffff:ffff:80ff:fefe", false, "Teredo"},
		{"2606:4700::5efe:a9fe:a9fe", false, "ISATAP identifier of metadata under a public prefix"},
		{"2606:4700::200:5efe:7f00:1", false, "ISATAP identifier of loopback under a public prefix"},
		{"2606:4700::200:5efe:5db8:d822", true, "ISATAP identifier of a public IPv4 under a public prefix"},
	}
	for _, c := range cases {
		if got := Public(netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("Public(%s) = %v, want %v (%s)", c.addr, got, c.want, c.why)
		}
	}
	if Public(netip.Addr{}) {
		t.Error("the zero Addr is public")
	}
}

func TestEmbeddedIPv4(t *testing.T) {
	for addr, want := range map[string][]string{
		"::a9fe:a9fe":                          {"169.254.169.254"},
		"::ffff:0:a00:1":                       {"10.0.0.1"},
		"64:ff9b::c000:221":                    {"192.0.2.33"},
		"64:ff9b:1:c000:2:2100::":              {"192.0.2.33"}, // RFC 6052 section 2.4 example, /48
		"2002:c000:221::1":                     {"192.0.2.33"},
		"2001:0:4136:e378:8000:63bf:3fff:fdd2": {"65.54.227.120", "192.0.2.45"}, // RFC 4380 example
		"2001:db8::200:5efe:c000:221":          {"192.0.2.33"},
		"2606:4700:4700::1111":                 nil,
		"::ffff:10.0.0.1":                      nil, // mapped: Public unmaps it instead
	} {
		got := EmbeddedIPv4(netip.MustParseAddr(addr))
		if len(got) != len(want) {
			t.Errorf("EmbeddedIPv4(%s) = %v, want %v", addr, got, want)
			continue
		}
		for i := range got {
			if got[i].String() != want[i] {
				t.Errorf("EmbeddedIPv4(%s) = %v, want %v", addr, got, want)
			}
		}
	}
}

// TestTablesParse: every registry block is canonical (its address is the block's first),
// so a typo in a transcription cannot silently widen or narrow it.
func TestTablesParse(t *testing.T) {
	for _, b := range append(append([]Block{IPv4Multicast, IPv6GlobalUnicast}, IPv4Special...), IPv6Special...) {
		if b.Prefix != b.Prefix.Masked() || b.Name == "" || b.RFC == "" {
			t.Errorf("block %v (%q, %q) is not canonical or not described", b.Prefix, b.Name, b.RFC)
		}
	}
}
