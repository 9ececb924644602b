package gcp

import (
	"context"
	"fmt"
	"sync"

	"cloud.google.com/go/firestore"
	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/pubsub/v2"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
)

// Config says where the clients connect. Emulator endpoints are empty in production, where
// the official clients reach the real services; the Firestore and Pub/Sub clients read their
// own FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST.
type Config struct {
	// ProjectID is the Google Cloud project. Cloud Run functions set it; locally make dev does.
	ProjectID string `env:"GOOGLE_CLOUD_PROJECT, required"`
	// KMSEndpoint and SecretManagerEndpoint point the clients at Tok's local emulator
	// (emulators/kmssm).
	KMSEndpoint           string `env:"TOK_KMS_ENDPOINT"`
	SecretManagerEndpoint string `env:"TOK_SECRETMANAGER_ENDPOINT"`
	// FirestoreDatabase is the function's Firestore database: Tok's (default), or its own
	// (the sandbox bank's sandbox-bank, from the manifest).
	FirestoreDatabase string `env:"TOK_FIRESTORE_DATABASE, default=(default)"`
}

// Clients holds one of each Google client per instance. Each is created on first use,
// never at start-up: a function instance that is never called, or whose path never needs a
// client, makes no call to that service.
type Clients struct {
	cfg       Config
	firestore lazy[*firestore.Client]
	pubsub    lazy[*pubsub.Client]
	kms       lazy[*kms.KeyManagementClient]
	secrets   lazy[*secretmanager.Client]
}

// NewClients returns a Clients that has created nothing yet.
func NewClients(cfg Config) *Clients {
	return &Clients{cfg: cfg}
}

// Firestore returns the instance's Firestore client on the configured database
// (FIRESTORE_EMULATOR_HOST is honoured by the client itself).
func (c *Clients) Firestore(ctx context.Context) (*firestore.Client, error) {
	return c.firestore.get(func() (*firestore.Client, error) {
		db := c.cfg.FirestoreDatabase
		if db == "" {
			db = firestore.DefaultDatabaseID
		}
		return firestore.NewClientWithDatabase(context.WithoutCancel(ctx), c.cfg.ProjectID, db)
	})
}

// PubSub returns the instance's Pub/Sub client (PUBSUB_EMULATOR_HOST is honoured by the
// client itself).
func (c *Clients) PubSub(ctx context.Context) (*pubsub.Client, error) {
	return c.pubsub.get(func() (*pubsub.Client, error) {
		return pubsub.NewClient(context.WithoutCancel(ctx), c.cfg.ProjectID)
	})
}

// KMS returns the instance's Cloud KMS client.
func (c *Clients) KMS(ctx context.Context) (*kms.KeyManagementClient, error) {
	return c.kms.get(func() (*kms.KeyManagementClient, error) {
		return kms.NewKeyManagementClient(context.WithoutCancel(ctx), EmulatorOptions(c.cfg.KMSEndpoint)...)
	})
}

// SecretManager returns the instance's Secret Manager client.
func (c *Clients) SecretManager(ctx context.Context) (*secretmanager.Client, error) {
	return c.secrets.get(func() (*secretmanager.Client, error) {
		return secretmanager.NewClient(context.WithoutCancel(ctx), EmulatorOptions(c.cfg.SecretManagerEndpoint)...)
	})
}

// lazy creates a value once. Unlike sync.Once it retries after a failure, so one transient
// error at start-up does not poison the instance for its whole life.
type lazy[T any] struct {
	mu  sync.Mutex
	v   T
	set bool
}

func (l *lazy[T]) get(create func() (T, error)) (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.set {
		return l.v, nil
	}
	v, err := create()
	if err != nil {
		var zero T
		return zero, fmt.Errorf("create client: %w", err)
	}
	l.v, l.set = v, true
	return v, nil
}
