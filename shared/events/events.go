// Package events defines Tok's domain events, publishes them to the events topic, and
// decodes the Pub/Sub messages that Eventarc delivers to event functions as CloudEvents.
package events

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/cloudevents/sdk-go/v2/event"

	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/tenant"
)

// Event is a domain event as organisations see it in webhooks and the event log.
type Event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"createdAt"`
	Data      json.RawMessage `json:"data"`
}

// Message attributes carry the tenant, so consumers route without parsing the body.
const (
	AttrType = "type"
	AttrEnv  = "env"
	AttrOrg  = "orgId"
)

// New builds an event of type typ with data for now.
func New(typ string, data any, now time.Time) (Event, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s event: %w", typ, err)
	}
	return Event{ID: ids.New(ids.Event), Type: typ, CreatedAt: now.UTC(), Data: b}, nil
}

// Publisher publishes events to one topic.
type Publisher struct {
	publisher *pubsub.Publisher
}

// NewPublisher publishes to topic (a short ID such as "tok-events" or a full name).
func NewPublisher(client *pubsub.Client, topic string) *Publisher {
	return &Publisher{publisher: client.Publisher(topic)}
}

// Publish sends e for tenant t and waits until Pub/Sub has it.
func (p *Publisher) Publish(ctx context.Context, t tenant.Tenant, e Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	res := p.publisher.Publish(ctx, &pubsub.Message{
		Data:       body,
		Attributes: map[string]string{AttrType: e.Type, AttrEnv: t.Env, AttrOrg: t.OrgID},
	})
	if _, err := res.Get(ctx); err != nil {
		return fmt.Errorf("publish event %s (%s): %w", e.ID, e.Type, err)
	}
	return nil
}

// PubSubMessage is the message inside a google.cloud.pubsub.topic.v1.messagePublished
// CloudEvent.
type PubSubMessage struct {
	Data        []byte            `json:"data"`
	Attributes  map[string]string `json:"attributes"`
	MessageID   string            `json:"messageId"`
	PublishTime time.Time         `json:"publishTime"`
}

// FromCloudEvent extracts the Pub/Sub message Eventarc wrapped in e.
func FromCloudEvent(e event.Event) (PubSubMessage, error) {
	var body struct {
		Message PubSubMessage `json:"message"`
	}
	if err := json.Unmarshal(e.Data(), &body); err != nil {
		return PubSubMessage{}, fmt.Errorf("decode Pub/Sub CloudEvent %s: %w", e.ID(), err)
	}
	return body.Message, nil
}

// Decode reads a domain event and its tenant from a Pub/Sub message.
func Decode(m PubSubMessage) (tenant.Tenant, Event, error) {
	t := tenant.Tenant{Env: m.Attributes[AttrEnv], OrgID: m.Attributes[AttrOrg]}
	if !t.Valid() {
		return tenant.Tenant{}, Event{}, fmt.Errorf("message %s has no valid tenant attributes", m.MessageID)
	}
	var e Event
	if err := json.Unmarshal(m.Data, &e); err != nil {
		return tenant.Tenant{}, Event{}, fmt.Errorf("decode event in message %s: %w", m.MessageID, err)
	}
	if !ids.Valid(ids.Event, e.ID) || e.Type == "" {
		return tenant.Tenant{}, Event{}, fmt.Errorf("message %s holds no valid event", m.MessageID)
	}
	return t, e, nil
}

// DomainHandler handles one domain event of one tenant.
type DomainHandler func(ctx context.Context, t tenant.Tenant, e Event) error

// Domain adapts h to a Pub/Sub-triggered CloudEvent function on the events topic (Messages).
func Domain(h DomainHandler) func(ctx context.Context, e event.Event) error {
	type domainEvent struct {
		t  tenant.Tenant
		ev Event
	}
	decode := func(m PubSubMessage) (domainEvent, error) {
		t, ev, err := Decode(m)
		return domainEvent{t, ev}, err
	}
	return Messages("event", decode, func(ctx context.Context, d domainEvent) error {
		return h(ctx, d.t, d.ev)
	})
}

// Messages adapts handle to a Pub/Sub-triggered CloudEvent function on a topic whose
// messages decode reads (what names them in logs). A message that cannot be read will never
// succeed, so it is logged and acknowledged; handle's errors are returned, so Pub/Sub
// redelivers.
func Messages[M any](what string, decode func(PubSubMessage) (M, error), handle func(context.Context, M) error) func(ctx context.Context, e event.Event) error {
	return func(ctx context.Context, e event.Event) error {
		msg, err := FromCloudEvent(e)
		if err != nil {
			slog.ErrorContext(ctx, "dropping malformed "+what+" message", "error", err)
			return nil
		}
		m, err := decode(msg)
		if err != nil {
			slog.ErrorContext(ctx, "dropping invalid "+what, "error", err)
			return nil
		}
		return handle(ctx, m)
	}
}
