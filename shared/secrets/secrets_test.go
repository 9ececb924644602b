package secrets

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/emulators/kmssm"
	"tokapi.io/tok/shared/testing/grpctest"
)

const project = "p1"

// server serves svc (the emulator, or a fake) and counts AccessSecretVersion calls, each
// delayed by delay so concurrent callers overlap.
func server(t *testing.T, register func(*grpc.Server), delay time.Duration) (*secretmanager.Client, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	count := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if strings.HasSuffix(info.FullMethod, "/AccessSecretVersion") {
			calls.Add(1)
			time.Sleep(delay)
		}
		return h(ctx, req)
	}
	return grpctest.Client(t, register, secretmanager.NewClient, grpc.UnaryInterceptor(count)), &calls
}

func emulator(t *testing.T, delay time.Duration) (*secretmanager.Client, *atomic.Int64) {
	t.Helper()
	return server(t, kmssm.New().Register, delay)
}

func createSecret(t *testing.T, c *secretmanager.Client, id string) {
	t.Helper()
	_, err := c.CreateSecret(context.Background(), &secretmanagerpb.CreateSecretRequest{
		Parent: "projects/" + project, SecretId: id,
		Secret: &secretmanagerpb.Secret{Replication: &secretmanagerpb.Replication{
			Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func addVersion(t *testing.T, c *secretmanager.Client, id, value string) string {
	t.Helper()
	v, err := c.AddSecretVersion(context.Background(), &secretmanagerpb.AddSecretVersionRequest{
		Parent: "projects/" + project + "/secrets/" + id, Payload: &secretmanagerpb.SecretPayload{Data: []byte(value)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return v.GetName()
}

func get(t *testing.T, r *Reader, id, want string) {
	t.Helper()
	got, err := r.Get(context.Background(), id)
	if err != nil || string(got) != want {
		t.Fatalf("Get(%s) = %q, %v; want %q", id, got, err, want)
	}
}

func TestCachingAndRefresh(t *testing.T) {
	c, calls := emulator(t, 0)
	createSecret(t, c, "pepper")
	addVersion(t, c, "pepper", "v1")
	clock := time.Unix(1_700_000_000, 0)
	r := New(c, project, time.Minute)
	r.now = func() time.Time { return clock }

	get(t, r, "pepper", "v1")
	addVersion(t, c, "pepper", "v2")
	clock = clock.Add(59 * time.Second)
	get(t, r, "pepper", "v1")
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d server calls within the ttl, want 1", n)
	}
	clock = clock.Add(time.Second)
	get(t, r, "pepper", "v2")
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d server calls after the ttl, want 2", n)
	}

	// A caller mutating its copy must not change what the next caller gets.
	v, err := r.Get(context.Background(), "pepper")
	if err != nil {
		t.Fatal(err)
	}
	v[0] = 'X'
	get(t, r, "pepper", "v2")
}

func TestConcurrentGetSharesOneFetch(t *testing.T) {
	c, calls := emulator(t, 100*time.Millisecond)
	createSecret(t, c, "webhook-key")
	addVersion(t, c, "webhook-key", "k1")
	r := New(c, project, time.Minute)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if v, err := r.Get(context.Background(), "webhook-key"); err != nil || string(v) != "k1" {
				t.Errorf("Get = %q, %v", v, err)
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d server calls for 10 concurrent Gets, want 1", n)
	}
}

func TestDisabledLatestFallsBack(t *testing.T) {
	ctx := context.Background()
	c, _ := emulator(t, 0)
	createSecret(t, c, "bank-client")
	addVersion(t, c, "bank-client", "old")
	newest := addVersion(t, c, "bank-client", "new")
	if _, err := c.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: newest}); err != nil {
		t.Fatal(err)
	}
	get(t, New(c, project, time.Minute), "bank-client", "old")

	r := New(c, project, time.Minute)
	if v, err := r.Version(ctx, "bank-client", "1"); err != nil || string(v) != "old" {
		t.Fatalf("Version 1 = %q, %v", v, err)
	}
	_, err := r.Version(ctx, "bank-client", "2")
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("disabled version: %v, want FailedPrecondition", err)
	}
}

func TestMissingSecret(t *testing.T) {
	c, _ := emulator(t, 0)
	_, err := New(c, project, time.Minute).Get(context.Background(), "nope")
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "projects/p1/secrets/nope/versions/latest") {
		t.Fatalf("missing secret: %v, want a wrapped NotFound naming the secret", err)
	}
}

// corrupting answers every access with a payload whose checksum is wrong.
type corrupting struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer
}

func (corrupting) AccessSecretVersion(context.Context, *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	bad := int64(7)
	return &secretmanagerpb.AccessSecretVersionResponse{
		Payload: &secretmanagerpb.SecretPayload{Data: []byte("s3cr3t-value"), DataCrc32C: &bad},
	}, nil
}

func TestChecksumMismatchHidesValue(t *testing.T) {
	c, _ := server(t, func(g *grpc.Server) { secretmanagerpb.RegisterSecretManagerServiceServer(g, corrupting{}) }, 0)
	_, err := New(c, project, time.Minute).Get(context.Background(), "pepper")
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt payload: %v, want ErrCorrupt", err)
	}
	if bytes.Contains([]byte(err.Error()), []byte("s3cr3t")) {
		t.Fatal("error message contains the secret value")
	}
}
