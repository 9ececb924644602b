// Package process has what starting a child process of the local stack (an emulator or a
// function) needs: a loopback port it may bind, given to it as a number, and the tail of its
// log for the error that says why it failed.
package spawn

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// ReservePort listens on a free loopback port below the kernel's ephemeral range; the
// caller closes the listener just before the process that binds the port starts. Below that
// range no port the kernel hands out in the gap (to another test's listener on port 0, or as
// an outgoing connection's source port) can take it, and a readiness dial to a port nobody
// holds cannot connect to itself.
func ReservePort(ctx context.Context) (net.Listener, int, error) {
	low := ephemeralLow()
	var lastErr error
	for range 200 {
		port := reservedPortMin + rand.IntN(low-reservedPortMin) //nolint:gosec // a port number, not a secret
		l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			return l, port, nil
		}
		lastErr = err
	}
	return nil, 0, fmt.Errorf("no free loopback port in %d-%d: %w", reservedPortMin, low-1, lastErr)
}

// reservedPortMin is the lowest port ReservePort picks: above the well-known and most
// registered servers' ports.
const reservedPortMin = 20000

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's default when the
// range cannot be read, and at least reservedPortMin+1000).
func ephemeralLow() int {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	return max(low, reservedPortMin+1000)
}

// logTailBytes is how much of a log LogTail returns.
const logTailBytes = 4096

// LogTail returns the last few kilobytes of the log at path.
func LogTail(path string) string {
	data, err := os.ReadFile(path) //nolint:gosec // a log file the stack itself created
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	if len(data) > logTailBytes {
		data = data[len(data)-logTailBytes:]
	}
	return string(data)
}
