// Package kmssm is an in-memory emulator of Cloud KMS (symmetric encryption) and Secret Manager
// that serves their real gRPC APIs, so the official Go clients and tink-go-gcpkms work against it
// unchanged. Neither service has an official emulator; this one mirrors the resource names,
// status codes and CRC32C integrity fields of the real services for the calls Tok uses.
package kmssm

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"regexp"
	"strconv"
	"sync"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Server holds the emulated state of both services. It is safe for concurrent use.
type Server struct {
	kms *kmsService
	sm  *smService
}

// New returns an empty emulator.
func New() *Server {
	now := func() time.Time { return time.Now().UTC() }
	return &Server{
		kms: &kmsService{now: now, rings: map[string]*kmspb.KeyRing{}, keys: map[string]*cryptoKey{}},
		sm:  &smService{now: now, secrets: map[string]*secret{}},
	}
}

// Register adds both services to g, so callers can add their own interceptors or services.
func (s *Server) Register(g *grpc.Server) {
	kmspb.RegisterKeyManagementServiceServer(g, s.kms)
	secretmanagerpb.RegisterSecretManagerServiceServer(g, s.sm)
}

// Running is an emulator serving on a local address.
type Running struct {
	lis    net.Listener
	grpc   *grpc.Server
	served chan struct{} // closed when Serve returns, after err is set
	err    error
}

// Start listens on addr (for example "127.0.0.1:0") and serves a new emulator in the background.
func Start(addr string) (*Running, error) {
	var lc net.ListenConfig
	lis, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("kmssm: listen on %s: %w", addr, err)
	}
	g := grpc.NewServer()
	New().Register(g)
	r := &Running{lis: lis, grpc: g, served: make(chan struct{})}
	go func() {
		r.err = g.Serve(lis)
		close(r.served)
	}()
	return r, nil
}

// Addr is the address the emulator listens on, usable as a client endpoint.
func (r *Running) Addr() string { return r.lis.Addr().String() }

// Stop stops serving, waiting for in-flight calls to finish. It is safe to call more than once.
func (r *Running) Stop() {
	r.grpc.GracefulStop()
	<-r.served
}

// Wait blocks until the server stops and reports why, for the standalone binary.
func (r *Running) Wait() error {
	<-r.served
	if r.err != nil && !errors.Is(r.err, grpc.ErrServerStopped) {
		return fmt.Errorf("kmssm: serve: %w", r.err)
	}
	return nil
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// crc32c is the checksum both services use for their integrity fields.
func crc32c(b []byte) int64 { return int64(crc32.Checksum(b, crcTable)) }

// Resource ID syntax of KMS key rings and crypto keys, and of secrets.
var (
	idPattern       = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,63}$`)
	secretIDPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,255}$`)
)

// pageStart reads a list's page_token: the index of the page's first item, 0 without one.
func pageStart(token string) (int, error) {
	if token == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(token)
	if err != nil || n < 0 {
		return 0, status.Errorf(codes.InvalidArgument, "invalid page_token %q", token)
	}
	return n, nil
}

// pageEnd returns where the page from start ends among total items, with at most size
// items (all with 0), and the next page's token ("" on the last page).
func pageEnd(start int, size int32, total int) (end int, next string) {
	end = total
	if n := int(size); n > 0 && start+n < total {
		end = start + n
	}
	if end < total {
		next = strconv.Itoa(end)
	}
	return end, next
}

// lookup finds name with find while holding mu and returns a copy of its message, so no
// caller shares the emulator's state.
func lookup[T any, M proto.Message](mu *sync.Mutex, find func(string) (T, error), name string, msg func(T) M) (M, error) {
	mu.Lock()
	defer mu.Unlock()
	x, err := find(name)
	if err != nil {
		var zero M
		return zero, err
	}
	return proto.CloneOf(msg(x)), nil
}

// versionsPage is one page of the versions of parent (found with find while holding mu),
// which versions lists in the list's order: copies of the page's messages, the total and
// the next page's token.
func versionsPage[P any, M proto.Message](mu *sync.Mutex, find func(string) (P, error), parent, token string, size int32, versions func(P) []M) ([]M, int32, string, error) {
	start, err := pageStart(token)
	if err != nil {
		return nil, 0, "", err
	}
	mu.Lock()
	defer mu.Unlock()
	p, err := find(parent)
	if err != nil {
		return nil, 0, "", err
	}
	all := versions(p)
	end, next := pageEnd(start, size, len(all))
	var page []M
	for i := min(start, len(all)); i < end; i++ {
		page = append(page, proto.CloneOf(all[i]))
	}
	return page, int32(len(all)), next, nil // #nosec G115 -- versions are created one per call, far below 2^31
}

// byName finds a resource by its full name; a missing one is NotFound, with the message
// (notFound, a format of the name) that the real service gives.
func byName[T any](m map[string]T, name, notFound string) (T, error) {
	v, ok := m[name]
	if !ok {
		return v, status.Errorf(codes.NotFound, notFound, name)
	}
	return v, nil
}

// versionNumber reads the N of a version name (from 1); what names the kind of version in
// the error.
func versionNumber(n, name, what string) (int, error) {
	v, err := strconv.Atoi(n)
	if err != nil || v < 1 {
		return 0, status.Errorf(codes.InvalidArgument, "invalid %s name %q", what, name)
	}
	return v, nil
}
