package spawn

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestReservePortIsBelowTheEphemeralRange(t *testing.T) {
	low := ephemeralLow()
	seen := map[int]bool{}
	for range 50 {
		l, port, err := ReservePort(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if port < reservedPortMin || port >= low {
			t.Errorf("port %d outside %d-%d", port, reservedPortMin, low-1)
		}
		if got := l.Addr().String(); got != net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) {
			t.Errorf("listener on %s, port %d", got, port)
		}
		seen[port] = true
		defer func() { _ = l.Close() }()
	}
	// Held listeners are never handed out twice.
	if len(seen) != 50 {
		t.Errorf("%d distinct ports of 50", len(seen))
	}
}

func TestLogTailKeepsTheEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.log")
	if err := os.WriteFile(path, []byte(strings.Repeat("x", 10000)+"the last line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := LogTail(path)
	if len(got) != logTailBytes || !strings.HasSuffix(got, "the last line\n") {
		t.Errorf("tail of %d bytes ending %q", len(got), got[len(got)-20:])
	}
	if got := LogTail(filepath.Join(t.TempDir(), "none.log")); !strings.Contains(got, "cannot read log") {
		t.Errorf("missing log: %q", got)
	}
}
