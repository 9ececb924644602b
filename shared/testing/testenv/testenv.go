// Package testenv is the one way tests reach the local emulators that `make test` starts
// (see emulators/cmd/withemulators). Only tests import it. A test that needs an emulator fails,
// never skips, when the emulators are not there, so a green run means the test really ran.
package testenv

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"cloud.google.com/go/pubsub/v2"

	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/envelope"
	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/random"
)

// The variables withemulators sets for the command it runs.
const (
	envFirestore     = "FIRESTORE_EMULATOR_HOST"
	envPubSub        = "PUBSUB_EMULATOR_HOST"
	envKMS           = "TOK_KMS_ENDPOINT"
	envSecretManager = "TOK_SECRETMANAGER_ENDPOINT"
	envReport        = "TOK_TEST_REPORT"
)

// Require fails the test unless the emulator endpoints are set, and records the test in the
// TOK_TEST_REPORT file so withemulators can count the emulator-backed tests.
func Require(t testing.TB) {
	t.Helper()
	for _, k := range []string{envFirestore, envPubSub, envKMS, envSecretManager} {
		if os.Getenv(k) == "" {
			t.Fatalf("%s is not set: this test needs the emulators; run it with `make test` "+
				"(go run ./emulators/cmd/withemulators -- go test ./...)", k)
		}
	}
	if err := record(t.Name()); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// record appends the test to the report as "<package dir> <test name>", so equal test names
// in different packages count apart. O_APPEND keeps lines whole when packages run in parallel.
func record(name string) error {
	report := os.Getenv(envReport)
	if report == "" {
		return nil
	}
	dir, err := os.Getwd() // go test runs each package's tests in its own directory
	if err != nil {
		return fmt.Errorf("record test: %w", err)
	}
	f, err := os.OpenFile(report, os.O_APPEND|os.O_WRONLY, 0) //nolint:gosec // the path comes from withemulators
	if err != nil {
		return fmt.Errorf("record test: %w", err)
	}
	if _, err := fmt.Fprintf(f, "%s %s\n", dir, name); err != nil {
		_ = f.Close()
		return fmt.Errorf("record test: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("record test: %w", err)
	}
	return nil
}

// Project returns a fresh project ID, so a test sees only its own Firestore documents and
// Pub/Sub resources without resetting the emulators.
func Project(t testing.TB) string {
	t.Helper()
	Require(t)
	return "t-" + randomHex(6)
}

// Firestore returns a client for project on the emulator (found through
// FIRESTORE_EMULATOR_HOST), closed when the test ends.
func Firestore(t testing.TB, project string) *firestore.Client {
	t.Helper()
	return emulatorClient(t, "firestore", project, firestore.NewClient)
}

// PubSub returns a client for project on the emulator (found through PUBSUB_EMULATOR_HOST),
// closed when the test ends.
func PubSub(t testing.TB, project string) *pubsub.Client {
	t.Helper()
	return emulatorClient(t, "pubsub", project, pubsub.NewClient)
}

// emulatorClient makes a client for project with newClient, which finds its emulator
// through the environment, and closes it when the test ends.
func emulatorClient[C interface{ Close() error }](t testing.TB, what, project string, newClient func(context.Context, string, ...option.ClientOption) (C, error)) C {
	t.Helper()
	Require(t)
	c, err := newClient(t.Context(), project)
	if err != nil {
		t.Fatalf("%s client: %v", what, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// KMSEndpoint returns the address of the KMS emulator, for gcp.EmulatorOptions.
func KMSEndpoint(t testing.TB) string {
	t.Helper()
	Require(t)
	return os.Getenv(envKMS)
}

// SecretManagerEndpoint returns the address of the Secret Manager emulator, for gcp.EmulatorOptions.
func SecretManagerEndpoint(t testing.TB) string {
	t.Helper()
	Require(t)
	return os.Getenv(envSecretManager)
}

// KMSKey creates a symmetric encryption key in project on the KMS emulator and returns its
// name (projects/P/locations/global/keyRings/tok-test/cryptoKeys/K). Each call makes a new key.
func KMSKey(t testing.TB, project string) string {
	t.Helper()
	c, err := kms.NewKeyManagementClient(t.Context(), gcp.EmulatorOptions(KMSEndpoint(t))...)
	if err != nil {
		t.Fatalf("kms client: %v", err)
	}
	defer func() { _ = c.Close() }()
	parent := "projects/" + project + "/locations/global"
	const ring = "tok-test"
	_, err = c.CreateKeyRing(t.Context(), &kmspb.CreateKeyRingRequest{Parent: parent, KeyRingId: ring, KeyRing: &kmspb.KeyRing{}})
	if err != nil && status.Code(err) != codes.AlreadyExists { // an earlier KMSKey of this project made it
		t.Fatalf("create key ring: %v", err)
	}
	key, err := c.CreateCryptoKey(t.Context(), &kmspb.CreateCryptoKeyRequest{
		Parent:      parent + "/keyRings/" + ring,
		CryptoKeyId: "k-" + randomHex(6),
		CryptoKey:   &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT},
	})
	if err != nil {
		t.Fatalf("create crypto key: %v", err)
	}
	return key.GetName()
}

func randomHex(n int) string {
	return hex.EncodeToString(random.Bytes(n))
}

// Sealer returns an envelope sealer under a new KMS key of project on the KMS emulator.
func Sealer(t testing.TB, project string) *envelope.Sealer {
	t.Helper()
	key := KMSKey(t, project)
	c, err := kms.NewKeyManagementClient(t.Context(), gcp.EmulatorOptions(KMSEndpoint(t))...)
	if err != nil {
		t.Fatalf("kms client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	s, err := envelope.New(envelope.NewKMS(c), key)
	if err != nil {
		t.Fatalf("sealer: %v", err)
	}
	return s
}

// DropFirestoreWhenDone deletes every document of project on the emulator when the test
// ends, for a test that seeds so many that the tests after it would pay for them: the
// emulator keeps every project in one heap, and scans all of a collection ID's documents
// for a query that no index serves.
func DropFirestoreWhenDone(t testing.TB, project string) {
	t.Helper()
	Require(t)
	t.Cleanup(func() { DropFirestore(t, project) })
}

// DropFirestore deletes every document of project on the emulator now, for a benchmark
// whose rounds each write tens of thousands: kept, they would crowd the emulator's heap until
// its writes miss their deadlines.
func DropFirestore(t testing.TB, project string) {
	t.Helper()
	Require(t)
	// The emulator deletes 200,000 documents in over a minute.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	u := "http://" + os.Getenv(envFirestore) + "/emulator/v1/projects/" + project + "/databases/(default)/documents"
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u, nil)
	if err != nil {
		t.Errorf("testenv: drop %s: %v", project, err)
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("testenv: drop %s: %v", project, err)
		return
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("testenv: drop %s: %s", project, resp.Status)
	}
}
