package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
)

// Queue takes delivery Tasks: Pub/Sub in production (PubSubQueue); tests may run Tasks inline.
type Queue interface {
	Enqueue(ctx context.Context, t Task) error
}

// PubSubQueue publishes Tasks to a topic.
type PubSubQueue struct{ pub *pubsub.Publisher }

// NewPubSubQueue publishes to topic (normally DeliveriesTopic).
func NewPubSubQueue(client *pubsub.Client, topic string) *PubSubQueue {
	return &PubSubQueue{pub: client.Publisher(topic)}
}

// Enqueue publishes t and waits until Pub/Sub has it.
func (q *PubSubQueue) Enqueue(ctx context.Context, t Task) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	res := q.pub.Publish(ctx, &pubsub.Message{Data: b, Attributes: map[string]string{"env": t.Env, "orgId": t.OrgID}})
	if _, err := res.Get(ctx); err != nil {
		return fmt.Errorf("publish delivery task %s: %w", t.DeliveryID, err)
	}
	return nil
}

// DecodeTask reads a Task from a Pub/Sub message body.
func DecodeTask(data []byte) (Task, error) {
	var t Task
	if err := json.Unmarshal(data, &t); err != nil {
		return Task{}, fmt.Errorf("decode delivery task: %w", err)
	}
	if !(tenant.Tenant{Env: t.Env, OrgID: t.OrgID}).Valid() || t.WebhookID == "" || t.DeliveryID == "" || t.Seq < 0 {
		return Task{}, errors.New("delivery task lacks its tenant or IDs")
	}
	return t, nil
}

// Sealer encrypts signing secrets (shared/envelope.Sealer).
type Sealer interface {
	Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error)
	Open(ctx context.Context, blob, aad []byte) ([]byte, error)
}

// Service is the webhook machinery on one Firestore database.
type Service struct {
	fs           *firestore.Client
	sealer       Sealer
	queue        Queue
	now          func() time.Time
	resolver     Resolver
	schedule     Schedule
	maxEndpoints int
	policy       Policy
	// strict reaches public addresses only; loopback also reaches 127.0.0.1/::1 (sandbox
	// endpoints on localhost, where the policy allows them). Neither follows redirects (a 3xx
	// is a failed attempt) nor has a timeout of its own (post bounds each attempt by its context).
	strict, loopback *http.Transport
	// load bounds this instance's attempts in flight per endpoint; workers run them.
	load    endpointLoad
	workers *workers
	// cache keeps each tenant's enabled endpoints while they do not change.
	cache endpointCache
	// reads and commits group the concurrent fan-outs' calls.
	reads   *group[[]*firestore.DocumentRef, []*firestore.DocumentSnapshot]
	commits *group[[]write, struct{}]
}

// Option configures a Service.
type Option func(*Service)

// WithClock injects the clock.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithResolver injects the DNS resolver used at registration and at dial time.
func WithResolver(r Resolver) Option { return func(s *Service) { s.resolver = r } }

// WithPolicy sets what endpoints may reach beyond the public internet (default: nothing).
func WithPolicy(p Policy) Option { return func(s *Service) { s.policy = p } }

// WithSchedule injects the retry schedule (its randomness).
func WithSchedule(sch Schedule) Option { return func(s *Service) { s.schedule = sch } }

// WithMaxEndpoints changes the per-tenant endpoint limit (benchmarks).
func WithMaxEndpoints(n int) Option { return func(s *Service) { s.maxEndpoints = n } }

// New returns a Service. queue may be nil for functions that never enqueue.
func New(fs *firestore.Client, sealer Sealer, queue Queue, opts ...Option) *Service {
	s := &Service{fs: fs, sealer: sealer, queue: queue, now: time.Now, resolver: net.DefaultResolver, maxEndpoints: MaxEndpoints}
	for _, o := range opts {
		o(s)
	}
	s.reads, s.commits, s.workers = newReads(fs), newCommits(fs), newWorkers()
	s.strict = newTransport(newDialer(s.resolver, s.policy, false))
	s.loopback = newTransport(newDialer(s.resolver, s.policy, s.policy.Loopback))
	return s
}

func newTransport(d *dialer) *http.Transport {
	return &http.Transport{
		Proxy:             nil, // never an environment proxy: it would bypass the address check
		DialContext:       d.DialContext,
		ForceAttemptHTTP2: true,
		// Kept alive per host: many customers' endpoints may share one host (a webhook relay,
		// a platform's ingress), each with up to MaxInFlightPerEndpoint attempts at once, and a
		// connection closed for want of an idle slot is one dialled again for the next event.
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   Timeout,
		ResponseHeaderTimeout: Timeout,
	}
}

// clock is now as Firestore stores it (UTC, microseconds).
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func (s *Service) endpoints(t tenant.Tenant) *firestore.CollectionRef {
	return store.For(s.fs, t).Collection(EndpointsCollection)
}

func (s *Service) deliveries(t tenant.Tenant, webhookID string) *firestore.CollectionRef {
	return s.endpoints(t).Doc(webhookID).Collection(DeliveriesCollection)
}

func (s *Service) queueRef(deliveryID string) *firestore.DocumentRef {
	return s.fs.Collection(RetryQueueCollection).Doc(deliveryID)
}

// secretAAD binds a sealed secret to its organisation and endpoint.
func secretAAD(t tenant.Tenant, webhookID string) []byte {
	return []byte(t.OrgID + "/" + webhookID)
}

// ErrNotFound is returned for an endpoint or delivery that does not exist in the tenant.
var ErrNotFound = errors.New("webhooks: not found")

// ValidationError names an invalid input field.
type ValidationError struct{ Field, Message string }

func (e *ValidationError) Error() string { return e.Field + " " + e.Message }

// ConflictError is a request the current state refuses.
type ConflictError struct{ Reason string }

func (e *ConflictError) Error() string { return e.Reason }

func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }
