// Package webhooks is the Webhooks function: the caller's webhook endpoints, their signing
// secrets and their deliveries.
//
//	GET    /v1/webhooks                                       any role
//	POST   /v1/webhooks                                       developer; 201 with the secret, shown once
//	GET    /v1/webhooks/{id}                                  any role
//	PATCH  /v1/webhooks/{id}                                  developer (url, events, description, enabled)
//	DELETE /v1/webhooks/{id}                                  developer; 204
//	POST   /v1/webhooks/{id}/rotate-secret                    developer; the old secret signs for 24 h more
//	POST   /v1/webhooks/{id}/test                             developer; 202, a webhook.ping event
//	GET    /v1/webhooks/{id}/deliveries                       any role; every attempt of each delivery
//	GET    /v1/webhooks/{id}/deliveries/{deliveryId}          any role
//	POST   /v1/webhooks/{id}/deliveries/{deliveryId}/redeliver developer; 202
//
// Endpoints belong to the caller's organisation and environment: another tenant's is 404.
package webhooks

import (
	"context"
	"errors"
	"net/http"
	"time"

	"tokapi.io/tok/shared/auth"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/gcp/pubsubclient"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/lists"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/tenant"
	wh "tokapi.io/tok/shared/webhooks"
)

func init() {
	platform.HTTP("Webhooks", platform.Using(pubsubclient.And(wh.FromEnv), build))
}

func build(_ context.Context, _ *platform.Env, p pubsubclient.Publishing[*wh.Service], topic events.Config) (http.Handler, error) {
	return NewHandler(p.Dep, events.NewPublisher(p.PubSub, topic.Topic).Publish, time.Now), nil
}

// PublishFunc publishes a domain event (events.Publisher.Publish).
type PublishFunc func(ctx context.Context, t tenant.Tenant, e events.Event) error

type server struct {
	svc     *wh.Service
	publish PublishFunc
	now     func() time.Time
}

// NewHandler returns the function's routes. Requests must carry an auth.Caller.
func NewHandler(svc *wh.Service, publish PublishFunc, now func() time.Time) http.Handler {
	s := &server{svc: svc, publish: publish, now: now}
	rt := httpapi.NewRouter()
	rt.Handle("GET /v1/webhooks", s.list)
	rt.Handle("POST /v1/webhooks", s.create)
	rt.Handle("GET /v1/webhooks/{id}", s.get)
	rt.Handle("PATCH /v1/webhooks/{id}", s.update)
	rt.Handle("DELETE /v1/webhooks/{id}", s.remove)
	rt.Handle("POST /v1/webhooks/{id}/rotate-secret", s.rotate)
	rt.Handle("POST /v1/webhooks/{id}/test", s.test)
	rt.Handle("GET /v1/webhooks/{id}/deliveries", s.deliveries)
	rt.Handle("GET /v1/webhooks/{id}/deliveries/{deliveryId}", s.delivery)
	rt.Handle("POST /v1/webhooks/{id}/deliveries/{deliveryId}/redeliver", s.redeliver)
	return rt
}

// caller is the tenant of a caller whose key holds at least need.
func caller(ctx context.Context, need auth.Role) (tenant.Tenant, error) {
	c, err := auth.CallerWithRole(ctx, need)
	return c.Tenant, err
}

func apiError(err error, what string) error {
	var (
		v *wh.ValidationError
		c *wh.ConflictError
	)
	switch {
	case errors.As(err, &v):
		return httpapi.InvalidField(v.Field, v.Message)
	case errors.As(err, &c):
		return httpapi.Conflict(c.Reason)
	case errors.Is(err, wh.ErrNotFound):
		return httpapi.NotFound(what)
	}
	return err
}

// ---- JSON shapes

type webhookJSON struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	Events      []string  `json:"events"`
	Description string    `json:"description"`
	Enabled     bool      `json:"enabled"`
	Environment string    `json:"environment"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	// PreviousSecretExpiresAt is set while a rotated-out secret still signs.
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt"`
	FailingSince            *time.Time `json:"failingSince"`
	DisabledAt              *time.Time `json:"disabledAt"`
	DisabledReason          *string    `json:"disabledReason"`
}

type webhookWithSecretJSON struct {
	webhookJSON
	Secret string `json:"secret"`
}

func (s *server) out(t tenant.Tenant, ep wh.Endpoint) webhookJSON {
	now := s.now()
	var prev *time.Time
	for _, sec := range ep.Secrets {
		if sec.ExpiresAt != nil && sec.Active(now) && (prev == nil || sec.ExpiresAt.After(*prev)) {
			prev = sec.ExpiresAt
		}
	}
	evs := ep.Events
	if evs == nil {
		evs = []string{}
	}
	return webhookJSON{ID: ep.ID, URL: ep.URL, Events: evs, Description: ep.Description, Enabled: ep.Enabled,
		Environment: t.Env, CreatedAt: ep.CreatedAt, UpdatedAt: ep.UpdatedAt, PreviousSecretExpiresAt: prev,
		FailingSince: ep.FailingSince, DisabledAt: ep.DisabledAt, DisabledReason: httpapi.Optional(ep.DisabledReason)}
}

type attemptJSON struct {
	AttemptedAt  time.Time `json:"attemptedAt"`
	Trigger      string    `json:"trigger"`
	Success      bool      `json:"success"`
	StatusCode   *int      `json:"statusCode"`
	LatencyMs    int64     `json:"latencyMs"`
	ResponseBody *string   `json:"responseBody"`
	Error        *string   `json:"error"`
}

type deliveryJSON struct {
	ID             string        `json:"id"`
	WebhookID      string        `json:"webhookId"`
	EventID        string        `json:"eventId"`
	EventType      string        `json:"eventType"`
	Status         string        `json:"status"`
	CreatedAt      time.Time     `json:"createdAt"`
	Attempts       []attemptJSON `json:"attempts"`
	NextAttemptAt  *time.Time    `json:"nextAttemptAt"`
	DeadLetteredAt *time.Time    `json:"deadLetteredAt"`
	CancelReason   *string       `json:"cancelReason"`
}

func deliveryOut(d wh.Delivery) deliveryJSON {
	out := deliveryJSON{ID: d.ID, WebhookID: d.WebhookID, EventID: d.EventID, EventType: d.EventType, Status: d.Status,
		CreatedAt: d.CreatedAt, Attempts: make([]attemptJSON, 0, len(d.Attempts)), NextAttemptAt: d.NextAttemptAt,
		DeadLetteredAt: d.DeadLetteredAt, CancelReason: httpapi.Optional(d.CancelReason)}
	for _, a := range d.Attempts {
		aj := attemptJSON{AttemptedAt: a.At, Trigger: a.Trigger, Success: a.Success, LatencyMs: a.LatencyMs, Error: httpapi.Optional(a.Error)}
		if a.StatusCode != 0 {
			code, body := a.StatusCode, a.ResponseBody
			aj.StatusCode, aj.ResponseBody = &code, &body
		}
		out.Attempts = append(out.Attempts, aj)
	}
	return out
}

// ---- endpoints

type webhookRequest struct {
	URL         *string   `json:"url"`
	Events      *[]string `json:"events"`
	Description *string   `json:"description"`
	Enabled     *bool     `json:"enabled"`
}

func (req webhookRequest) input() wh.EndpointInput {
	return wh.EndpointInput{URL: req.URL, Events: req.Events, Description: req.Description, Enabled: req.Enabled}
}

func (s *server) list(w http.ResponseWriter, r *http.Request) error {
	t, err := caller(r.Context(), auth.RoleReadOnly)
	if err != nil {
		return err
	}
	// At most MaxEndpoints exist, so one page holds them all; limit and cursor are only checked.
	if _, _, err := lists.Parse[string](r, nil); err != nil {
		return err
	}
	eps, err := s.svc.ListEndpoints(r.Context(), t)
	if err != nil {
		return err
	}
	out := make([]webhookJSON, 0, len(eps))
	for _, ep := range eps {
		out = append(out, s.out(t, ep))
	}
	httpapi.WriteJSON(w, http.StatusOK, httpapi.List[webhookJSON]{Data: out})
	return nil
}

func (s *server) create(w http.ResponseWriter, r *http.Request) error {
	developer := func(r *http.Request) (tenant.Tenant, error) { return caller(r.Context(), auth.RoleDeveloper) }
	return httpapi.Create(w, r, developer, func(ctx context.Context, t tenant.Tenant, req webhookRequest) (string, any, error) {
		ep, secret, err := s.svc.CreateEndpoint(ctx, t, req.input())
		if err != nil {
			return "", nil, apiError(err, "The webhook endpoint")
		}
		return "/v1/webhooks/" + ep.ID, webhookWithSecretJSON{webhookJSON: s.out(t, ep), Secret: secret}, nil
	})
}

func (s *server) get(w http.ResponseWriter, r *http.Request) error {
	return s.oneEndpoint(w, r, auth.RoleReadOnly, s.svc.GetEndpoint)
}

func (s *server) update(w http.ResponseWriter, r *http.Request) error {
	return s.oneEndpoint(w, r, auth.RoleDeveloper, func(ctx context.Context, t tenant.Tenant, id string) (wh.Endpoint, error) {
		var req webhookRequest
		if err := httpapi.DecodeJSON(w, r, &req); err != nil {
			return wh.Endpoint{}, err
		}
		return s.svc.UpdateEndpoint(ctx, t, id, req.input())
	})
}

// oneEndpoint answers with the endpoint that do returns for the path's, for a caller with at
// least role need.
func (s *server) oneEndpoint(w http.ResponseWriter, r *http.Request, need auth.Role,
	do func(ctx context.Context, t tenant.Tenant, id string) (wh.Endpoint, error)) error {
	t, err := caller(r.Context(), need)
	if err != nil {
		return err
	}
	ep, err := do(r.Context(), t, r.PathValue("id"))
	if err != nil {
		return apiError(err, "The webhook endpoint")
	}
	httpapi.WriteJSON(w, http.StatusOK, s.out(t, ep))
	return nil
}

func (s *server) remove(w http.ResponseWriter, r *http.Request) error {
	t, err := caller(r.Context(), auth.RoleDeveloper)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteEndpoint(r.Context(), t, r.PathValue("id")); err != nil {
		return apiError(err, "The webhook endpoint")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) rotate(w http.ResponseWriter, r *http.Request) error {
	t, err := caller(r.Context(), auth.RoleDeveloper)
	if err != nil {
		return err
	}
	ep, secret, _, err := s.svc.RotateSecret(r.Context(), t, r.PathValue("id"))
	if err != nil {
		return apiError(err, "The webhook endpoint")
	}
	httpapi.WriteJSON(w, http.StatusOK, webhookWithSecretJSON{webhookJSON: s.out(t, ep), Secret: secret})
	return nil
}

func (s *server) test(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	t, err := caller(ctx, auth.RoleDeveloper)
	if err != nil {
		return err
	}
	ep, err := s.svc.GetEndpoint(ctx, t, r.PathValue("id"))
	if err != nil {
		return apiError(err, "The webhook endpoint")
	}
	if !ep.Enabled {
		return httpapi.Conflict("The endpoint is disabled; enable it (PATCH enabled=true) before sending a test event.")
	}
	data := wh.PingData{WebhookID: ep.ID, Message: "Test event from Tok: your endpoint is reachable and verifies signatures."}
	ev, err := events.New(wh.EventPing, data, s.now())
	if err != nil {
		return err
	}
	if err := s.publish(ctx, t, ev); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusAccepted, ev)
	return nil
}

// ---- deliveries

func (s *server) deliveries(w http.ResponseWriter, r *http.Request) error {
	t, err := caller(r.Context(), auth.RoleReadOnly)
	if err != nil {
		return err
	}
	return lists.Serve(w, r, lists.Spec[lists.CreatedID, deliveryJSON]{
		Valid: func(p lists.CreatedID) bool { return p.Is(ids.Delivery) },
		Fetch: func(ctx context.Context, after *lists.CreatedID, n int) ([]deliveryJSON, error) {
			ds, err := s.svc.ListDeliveries(ctx, t, r.PathValue("id"), n, after)
			if err != nil {
				return nil, apiError(err, "The webhook endpoint")
			}
			out := make([]deliveryJSON, 0, len(ds))
			for _, d := range ds {
				out = append(out, deliveryOut(d))
			}
			return out, nil
		},
		Position: func(d deliveryJSON) lists.CreatedID { return lists.CreatedID{CreatedAt: d.CreatedAt, ID: d.ID} },
	})
}

func (s *server) delivery(w http.ResponseWriter, r *http.Request) error {
	return s.oneDelivery(w, r, auth.RoleReadOnly, http.StatusOK, s.svc.GetDelivery)
}

func (s *server) redeliver(w http.ResponseWriter, r *http.Request) error {
	return s.oneDelivery(w, r, auth.RoleDeveloper, http.StatusAccepted, s.svc.Redeliver)
}

// oneDelivery answers with status and the delivery that do returns for the path's endpoint
// and delivery, for a caller with at least role need.
func (s *server) oneDelivery(w http.ResponseWriter, r *http.Request, need auth.Role, status int,
	do func(ctx context.Context, t tenant.Tenant, webhookID, deliveryID string) (wh.Delivery, error)) error {
	t, err := caller(r.Context(), need)
	if err != nil {
		return err
	}
	d, err := do(r.Context(), t, r.PathValue("id"), r.PathValue("deliveryId"))
	if err != nil {
		return apiError(err, "The delivery")
	}
	httpapi.WriteJSON(w, status, deliveryOut(d))
	return nil
}
