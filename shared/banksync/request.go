package banksync

import (
	"context"
	"encoding/json"
	"fmt"

	"cloud.google.com/go/pubsub/v2"

	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/tenant"
)

// RequestsTopic carries sync requests to the worker; TickTopic the scheduler's ticks.
const (
	RequestsTopic = "tok-sync-requests"
	TickTopic     = "tok-sync-tick"
)

// Request asks for one connection to be synced: the JSON of a RequestsTopic message, whose
// attributes env and orgId repeat the tenant.
type Request struct {
	Env          string `json:"env"`
	OrgID        string `json:"orgId"`
	ConnectionID string `json:"connectionId"`
	// Attended is true for the first sync at authorisation, while the PSU is present: it
	// does not count against the consent's unattended accesses and goes as far back as the
	// bank allows.
	Attended bool   `json:"attended"`
	Reason   string `json:"reason"` // authorized, renewed, scheduled, refresh, ...
	// PSUIPAddress is the present customer's address, sent to the bank (PSU-IP-Address) on
	// an attended refresh.
	PSUIPAddress string `json:"psuIpAddress,omitempty"`
	// Reserved says the unattended access this sync counts as was already taken from the
	// budget (by the refresh that asked for it), so the worker does not take it again.
	Reserved bool `json:"reserved,omitempty"`
}

// ReasonRefresh is the Reason of a sync asked for through POST /v1/consents/{id}/refresh;
// the worker publishes sync.completed when it is done.
const ReasonRefresh = "refresh"

// Tenant of the request.
func (r Request) Tenant() tenant.Tenant { return tenant.Tenant{Env: r.Env, OrgID: r.OrgID} }

func (r Request) valid() bool { return r.Tenant().Valid() && r.ConnectionID != "" }

// RequestPublisher publishes Requests.
type RequestPublisher struct {
	publisher *pubsub.Publisher
}

// NewRequestPublisher publishes to topic (RequestsTopic unless a test names another).
func NewRequestPublisher(client *pubsub.Client, topic string) *RequestPublisher {
	if topic == "" {
		topic = RequestsTopic
	}
	return &RequestPublisher{publisher: client.Publisher(topic)}
}

// Publish sends one sync request and waits until Pub/Sub has it.
func (p *RequestPublisher) Publish(ctx context.Context, req Request) error {
	if !req.valid() {
		return fmt.Errorf("sync request: invalid tenant or connection: %+v", req)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	res := p.publisher.Publish(ctx, &pubsub.Message{Data: body,
		Attributes: map[string]string{events.AttrEnv: req.Env, events.AttrOrg: req.OrgID}})
	if _, err := res.Get(ctx); err != nil {
		return fmt.Errorf("publish sync request for %s: %w", req.ConnectionID, err)
	}
	return nil
}

// DecodeRequest reads a Request from a Pub/Sub message, checking that the tenant
// attributes agree with the body.
func DecodeRequest(m events.PubSubMessage) (Request, error) {
	var req Request
	if err := json.Unmarshal(m.Data, &req); err != nil {
		return Request{}, fmt.Errorf("decode sync request %s: %w", m.MessageID, err)
	}
	if !req.valid() || m.Attributes[events.AttrEnv] != req.Env || m.Attributes[events.AttrOrg] != req.OrgID {
		return Request{}, fmt.Errorf("sync request %s: tenant attributes and body disagree or are missing", m.MessageID)
	}
	return req, nil
}
