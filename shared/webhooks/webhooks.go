// Package webhooks is Tok's webhook machinery: endpoints and their signing secrets, the
// fan-out of domain events into one delivery per subscribed endpoint, the delivery of each
// attempt (signed to the Standard Webhooks spec, SSRF-checked at dial time), and the retry
// schedule kept in Firestore.
//
// Flow:
//
//	tok-events ──▶ webhookfanout: one delivery per enabled, subscribed endpoint, its first
//	                 attempt made at once and every delivery recorded in one commit: those
//	                 that succeeded in the event's one fan-out record, each other one in its
//	                 own document with a retry-queue entry (one to a busy or slow endpoint
//	                 also a Task on tok-webhook-deliveries)
//	tok-webhook-deliveries ──▶ webhookdeliver: one POST per Task, the attempt recorded, the
//	                 next attempt (or the dead letter) decided by the schedule
//	tok-webhook-retry-tick (Cloud Scheduler, every minute) ──▶ webhookretry: polls the retry
//	                 queue every few seconds for its window and re-publishes due Tasks
//
// Pub/Sub push retries top out at 10 minutes and the emulator ignores dead-letter policies on
// push subscriptions, so the whole schedule lives in Firestore: a delivery is at least once,
// in no particular order.
package webhooks

import (
	"slices"
	"time"
)

// Topics of the webhook pipeline.
const (
	// DeliveriesTopic carries one Task per delivery attempt to make.
	DeliveriesTopic = "tok-webhook-deliveries"
	// RetryTickTopic is published to by Cloud Scheduler every minute.
	RetryTickTopic = "tok-webhook-retry-tick"
)

// Firestore collections. Endpoints and deliveries are tenant data (reached through
// store.For); the retry queue is a global index of pending deliveries, holding pointers only.
const (
	EndpointsCollection  = "webhooks"
	DeliveriesCollection = "deliveries" // under webhooks/{whk}
	// FanoutsCollection holds one record per fanned-out event, keyed by its ID: the payload
	// and the deliveries whose first attempt succeeded (the others are in deliveries).
	FanoutsCollection    = "webhookFanouts"
	RetryQueueCollection = "webhookRetries"
)

// Limits and durations of the product.
const (
	// MaxEndpoints is the number of endpoints per organisation and environment.
	MaxEndpoints = 10
	// Timeout bounds one delivery attempt: connect, send, and the response headers.
	Timeout = 10 * time.Second
	// MaxResponseBody is how much of a receiver's response is kept with the attempt.
	MaxResponseBody = 1024
	// SecretOverlap is how long a rotated-out secret keeps signing.
	SecretOverlap = 24 * time.Hour
	// RetryWindow is how long a failing delivery is retried, from its first attempt.
	RetryWindow = 24 * time.Hour
	// DisableAfter disables an endpoint whose every delivery failed for this long.
	DisableAfter = 72 * time.Hour
	// DeliveryRetention is how long delivery records are kept (Firestore TTL on expireAt).
	DeliveryRetention = 30 * 24 * time.Hour
	// Lease is how long a published Task owns its queue entry before the retry scheduler
	// publishes it again (a lost message is retried after at most this).
	Lease = 5 * time.Minute
)

// Event types.
const (
	EventPing = "webhook.ping"
	// AllEvents subscribes an endpoint to every event type.
	AllEvents = "*"
)

// EventTypes are the event types an endpoint may subscribe to.
var EventTypes = []string{
	"consent.authorized",
	"consent.rejected",
	"consent.failed",
	"consent.revoked",
	"consent.expiring",
	"consent.expired",
	"transactions.created",
	"transactions.updated",
	"transactions.removed",
	"account.balance_updated",
	"sync.failed",
	"sync.completed",
	"payment.created",
	"payment.authorized",
	"payment.completed",
	"payment.rejected",
	"payment.cancelled",
	"payment.failed",
	"payment.reconciled",
	"refund.created",
	"refund.authorized",
	"refund.completed",
	"refund.rejected",
	"refund.cancelled",
	"refund.failed",
	"refund.reconciled",
	"vrp_consent.authorized",
	"vrp_consent.revoked",
	"vrp_consent.expired",
	EventPing,
}

// KnownEventType reports whether typ is one of EventTypes.
func KnownEventType(typ string) bool { return slices.Contains(EventTypes, typ) }

// Delivery statuses.
const (
	StatusPending      = "pending"
	StatusSucceeded    = "succeeded"
	StatusDeadLettered = "dead_lettered"
	StatusCancelled    = "cancelled"
)

// Attempt triggers.
const (
	TriggerAutomatic = "automatic"
	TriggerManual    = "manual"
)

// Endpoint is a webhook endpoint as stored under the tenant.
type Endpoint struct {
	ID          string         `firestore:"id"`
	URL         string         `firestore:"url"`
	Events      []string       `firestore:"events"`
	Description string         `firestore:"description"`
	Enabled     bool           `firestore:"enabled"`
	Secrets     []StoredSecret `firestore:"secrets"`
	CreatedAt   time.Time      `firestore:"createdAt"`
	UpdatedAt   time.Time      `firestore:"updatedAt"`
	// FailingSince is the first failed attempt since the last success; nil while healthy.
	FailingSince *time.Time `firestore:"failingSince"`
	// DisabledAt and DisabledReason are the notice recorded when Tok disabled the endpoint.
	DisabledAt     *time.Time `firestore:"disabledAt"`
	DisabledReason string     `firestore:"disabledReason"`
}

// StoredSecret is a signing secret sealed with the envelope (aad orgId/webhookId).
type StoredSecret struct {
	Sealed    []byte     `firestore:"sealed"`
	CreatedAt time.Time  `firestore:"createdAt"`
	ExpiresAt *time.Time `firestore:"expiresAt"`
}

// Active reports whether the secret still signs at now.
func (s StoredSecret) Active(now time.Time) bool {
	return s.ExpiresAt == nil || now.Before(*s.ExpiresAt)
}

// Subscribed reports whether the endpoint wants events of type typ.
func (e Endpoint) Subscribed(typ string) bool {
	return slices.Contains(e.Events, AllEvents) || slices.Contains(e.Events, typ)
}

// Delivery is one event on its way to one endpoint, with every attempt.
type Delivery struct {
	ID        string `firestore:"id"`
	WebhookID string `firestore:"webhookId"`
	EventID   string `firestore:"eventId"`
	EventType string `firestore:"eventType"`
	// Payload is the exact body POSTed (and signed): the event as JSON.
	Payload        string     `firestore:"payload"`
	Status         string     `firestore:"status"`
	CreatedAt      time.Time  `firestore:"createdAt"`
	Attempts       []Attempt  `firestore:"attempts"`
	FirstAttemptAt *time.Time `firestore:"firstAttemptAt"`
	NextAttemptAt  *time.Time `firestore:"nextAttemptAt"`
	DeadLetteredAt *time.Time `firestore:"deadLetteredAt"`
	CancelReason   string     `firestore:"cancelReason"`
	ExpireAt       time.Time  `firestore:"expireAt"`
}

// Attempt is one POST of a delivery.
// (The JSON names are those of a fan-out record's encoded entries.)
type Attempt struct {
	At           time.Time `firestore:"at" json:"at"`
	Trigger      string    `firestore:"trigger" json:"trigger"`
	Success      bool      `firestore:"success" json:"success"`
	StatusCode   int       `firestore:"statusCode" json:"statusCode,omitempty"`
	LatencyMs    int64     `firestore:"latencyMs" json:"latencyMs"`
	ResponseBody string    `firestore:"responseBody" json:"responseBody,omitempty"`
	Error        string    `firestore:"error" json:"error,omitempty"`
}

// Task is the message on DeliveriesTopic: make one attempt of a delivery. Seq is the number
// of attempts the delivery had when the Task was made; a Task whose Seq no longer matches is
// stale (a duplicate) and dropped. Manual Tasks (redelivery) always attempt.
type Task struct {
	Env        string `json:"env" firestore:"env"`
	OrgID      string `json:"orgId" firestore:"orgId"`
	WebhookID  string `json:"webhookId" firestore:"webhookId"`
	DeliveryID string `json:"deliveryId" firestore:"deliveryId"`
	Seq        int    `json:"seq" firestore:"seq"`
	Manual     bool   `json:"manual,omitempty" firestore:"-"`
}

// queueEntry is a pending delivery in the global retry queue.
type queueEntry struct {
	Task
	DueAt time.Time `firestore:"dueAt"`
}
