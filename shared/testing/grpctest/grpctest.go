// Package grpctest serves a test's own gRPC services (a fake, or an emulator behind an
// interceptor) on a local port and dials them with a Google Cloud client. Only tests import it.
package grpctest

import (
	"context"
	"net"
	"testing"

	"google.golang.org/api/option"
	"google.golang.org/grpc"

	"tokapi.io/tok/shared/gcp"
)

// Client serves what register adds to a new gRPC server (made with opts) on a local port
// until the test ends, and returns a client of it made by newClient, closed when the test ends.
func Client[C interface{ Close() error }](t testing.TB, register func(*grpc.Server), newClient func(context.Context, ...option.ClientOption) (C, error), opts ...grpc.ServerOption) C {
	t.Helper()
	var lc net.ListenConfig
	lis, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(opts...)
	register(g)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	c, err := newClient(context.Background(), gcp.EmulatorOptions(lis.Addr().String())...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
