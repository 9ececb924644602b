package gcp

import (
	"context"
	"fmt"
	"sync"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/firestore/apiv1/firestorepb"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
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
// client, makes no call to that service. Firestore and Secret Manager, which every function
// uses, are here; a client only some functions use is a Kind of its own package (Pub/Sub in
// shared/gcp/pubsubclient, KMS in shared/gcp/kmsclient), so the other functions' binaries
// do not link its library.
type Clients struct {
	cfg       Config
	firestore lazy[*firestore.Client]
	secrets   lazy[*secretmanager.Client]

	mu    sync.Mutex
	kinds map[any]any // *Kind[T] -> *lazy[T]
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
		client, err := firestore.NewClientWithDatabase(context.WithoutCancel(ctx), c.cfg.ProjectID, db, ClientOptions("")...)
		if err == nil {
			go prepare(firestoreMessages)
		}
		return client, err
	})
}

// firestoreMessages are the messages of a document read and of a conditional write (the
// key's lookup and the rate limiter's lease on an instance's first request).
var firestoreMessages = []proto.Message{
	&firestorepb.BatchGetDocumentsRequest{}, &firestorepb.BatchGetDocumentsResponse{},
	&firestorepb.Document{}, &firestorepb.Value{}, &firestorepb.MapValue{}, &firestorepb.ArrayValue{},
	&firestorepb.CommitRequest{}, &firestorepb.CommitResponse{}, &firestorepb.Write{},
	&firestorepb.DocumentMask{}, &firestorepb.Precondition{}, &firestorepb.WriteResult{},
	&timestamppb.Timestamp{},
}

// secretMessages are a secret read's, prepared while its connection is set up.
var secretMessages = []proto.Message{
	&secretmanagerpb.AccessSecretVersionRequest{}, &secretmanagerpb.AccessSecretVersionResponse{},
	&secretmanagerpb.SecretPayload{},
}

// prepare has protobuf build the coders of msgs' types, which it otherwise does on a type's
// first use: run as a client is made, on another core, it takes that work off the path of
// an instance's first calls (the Firestore ones wait on Secret Manager for the pepper).
func prepare(msgs []proto.Message) {
	for _, m := range msgs {
		_ = proto.Size(m)
	}
}

// SecretManager returns the instance's Secret Manager client.
func (c *Clients) SecretManager(ctx context.Context) (*secretmanager.Client, error) {
	return c.secrets.get(func() (*secretmanager.Client, error) {
		client, err := secretmanager.NewClient(context.WithoutCancel(ctx), ClientOptions(c.cfg.SecretManagerEndpoint)...)
		if err == nil {
			go prepare(secretMessages)
		}
		return client, err
	})
}

// Kind is a client that only some functions use, declared by the package that wraps its
// library. Like the clients above, an instance creates it once, on first use.
type Kind[T any] struct {
	create func(ctx context.Context, cfg Config) (T, error)
}

// NewKind declares a kind of client made by create, which must not keep ctx past its
// return (it is given one without cancellation: the client outlives the request that made it).
func NewKind[T any](create func(ctx context.Context, cfg Config) (T, error)) *Kind[T] {
	return &Kind[T]{create: create}
}

// Get returns the instance's client of kind k, creating it on first use.
func (k *Kind[T]) Get(ctx context.Context, c *Clients) (T, error) {
	c.mu.Lock()
	l, ok := c.kinds[k].(*lazy[T])
	if !ok {
		if c.kinds == nil {
			c.kinds = map[any]any{}
		}
		l = &lazy[T]{}
		c.kinds[k] = l
	}
	c.mu.Unlock()
	return l.get(func() (T, error) { return k.create(context.WithoutCancel(ctx), c.cfg) })
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
