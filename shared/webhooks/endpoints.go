package webhooks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
)

// maxDescription bounds an endpoint's description.
const maxDescription = 500

// EndpointInput is what a client sets on an endpoint. Nil fields are left as they are
// (PATCH); on create, URL and Events are required.
type EndpointInput struct {
	URL         *string
	Events      *[]string
	Description *string
	Enabled     *bool
}

func (s *Service) validate(ctx context.Context, t tenant.Tenant, in EndpointInput) error {
	if in.URL != nil {
		if _, err := s.policy.CheckURL(ctx, s.resolver, t.Env, *in.URL); err != nil {
			var ue *URLError
			if errors.As(err, &ue) {
				return &ValidationError{"url", ue.Reason}
			}
			return err
		}
	}
	if in.Events != nil {
		evs := *in.Events
		if len(evs) == 0 {
			return &ValidationError{"events", "must list at least one event type, or \"*\""}
		}
		seen := map[string]bool{}
		for i, e := range evs {
			switch {
			case e == AllEvents && len(evs) > 1:
				return &ValidationError{"events", "\"*\" must be the only entry"}
			case e != AllEvents && !KnownEventType(e):
				return &ValidationError{"events[" + strconv.Itoa(i) + "]", "is not a known event type (" + strings.Join(EventTypes, ", ") + ")"}
			case seen[e]:
				return &ValidationError{"events[" + strconv.Itoa(i) + "]", "is listed twice"}
			}
			seen[e] = true
		}
	}
	if in.Description != nil && len(*in.Description) > maxDescription {
		return &ValidationError{"description", "must be at most 500 characters"}
	}
	return nil
}

// CreateEndpoint registers an endpoint for t and returns it with its signing secret, which is
// stored only sealed and never shown again.
func (s *Service) CreateEndpoint(ctx context.Context, t tenant.Tenant, in EndpointInput) (Endpoint, string, error) {
	if in.URL == nil {
		return Endpoint{}, "", &ValidationError{"url", "is required"}
	}
	if in.Events == nil {
		return Endpoint{}, "", &ValidationError{"events", "is required"}
	}
	if err := s.validate(ctx, t, in); err != nil {
		return Endpoint{}, "", err
	}
	now := s.clock()
	ep := Endpoint{ID: ids.New(ids.Webhook), URL: *in.URL, Events: *in.Events, Enabled: true, CreatedAt: now, UpdatedAt: now}
	if in.Description != nil {
		ep.Description = *in.Description
	}
	if in.Enabled != nil {
		ep.Enabled = *in.Enabled
	}
	secret := NewSecret()
	sealed, err := s.sealer.Seal(ctx, []byte(secret), secretAAD(t, ep.ID))
	if err != nil {
		return Endpoint{}, "", fmt.Errorf("seal signing secret: %w", err)
	}
	ep.Secrets = []StoredSecret{{Sealed: sealed, CreatedAt: now}}
	coll := s.endpoints(t)
	err = s.fs.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		existing, err := tx.Documents(coll.Select()).GetAll()
		if err != nil {
			return err
		}
		if len(existing) >= s.maxEndpoints {
			return &ConflictError{fmt.Sprintf("The organisation already has %d webhook endpoints in this environment, the maximum; delete one first.", s.maxEndpoints)}
		}
		if err := tx.Create(coll.Doc(ep.ID), ep); err != nil {
			return err
		}
		return s.touchEndpoints(tx, t)
	})
	if err != nil {
		return Endpoint{}, "", err
	}
	return ep, secret, nil
}

// ListEndpoints returns t's endpoints, newest first.
func (s *Service) ListEndpoints(ctx context.Context, t tenant.Tenant) ([]Endpoint, error) {
	docs, err := s.endpoints(t).Documents(ctx).GetAll()
	if err != nil {
		return nil, err
	}
	out := make([]Endpoint, 0, len(docs))
	for _, d := range docs {
		var ep Endpoint
		if err := d.DataTo(&ep); err != nil {
			return nil, err
		}
		out = append(out, ep)
	}
	slices.SortFunc(out, func(a, b Endpoint) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
}

// GetEndpoint returns one endpoint of t, or ErrNotFound.
func (s *Service) GetEndpoint(ctx context.Context, t tenant.Tenant, id string) (Endpoint, error) {
	if !ids.Valid(ids.Webhook, id) {
		return Endpoint{}, ErrNotFound
	}
	return store.Get[Endpoint](ctx, s.endpoints(t).Doc(id), "webhook endpoint "+id, ErrNotFound)
}

// UpdateEndpoint applies a PATCH. Enabling a disabled endpoint clears its notice.
func (s *Service) UpdateEndpoint(ctx context.Context, t tenant.Tenant, id string, in EndpointInput) (Endpoint, error) {
	if !ids.Valid(ids.Webhook, id) {
		return Endpoint{}, ErrNotFound
	}
	if err := s.validate(ctx, t, in); err != nil {
		return Endpoint{}, err
	}
	ref := s.endpoints(t).Doc(id)
	var ep Endpoint
	err := s.fs.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		var err error
		if ep, err = store.GetTx[Endpoint](tx, ref, "webhook endpoint "+id, ErrNotFound); err != nil {
			return err
		}
		if in.URL != nil {
			ep.URL = *in.URL
		}
		if in.Events != nil {
			ep.Events = *in.Events
		}
		if in.Description != nil {
			ep.Description = *in.Description
		}
		if in.Enabled != nil {
			if *in.Enabled && !ep.Enabled {
				ep.DisabledAt, ep.DisabledReason, ep.FailingSince = nil, "", nil
			}
			ep.Enabled = *in.Enabled
		}
		ep.UpdatedAt = s.clock()
		if err := tx.Set(ref, ep); err != nil {
			return err
		}
		return s.touchEndpoints(tx, t)
	})
	return ep, err
}

// DeleteEndpoint removes an endpoint. Its pending deliveries are cancelled when their next
// attempt finds it gone; its delivery records expire with their TTL.
func (s *Service) DeleteEndpoint(ctx context.Context, t tenant.Tenant, id string) error {
	if _, err := s.GetEndpoint(ctx, t, id); err != nil {
		return err
	}
	return s.fs.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		if err := tx.Delete(s.endpoints(t).Doc(id)); err != nil {
			return err
		}
		return s.touchEndpoints(tx, t)
	})
}

// RotateSecret adds a new signing secret and returns it; the secrets active until now keep
// signing for SecretOverlap more, so receivers can switch without dropping a delivery.
func (s *Service) RotateSecret(ctx context.Context, t tenant.Tenant, id string) (Endpoint, string, time.Time, error) {
	if !ids.Valid(ids.Webhook, id) {
		return Endpoint{}, "", time.Time{}, ErrNotFound
	}
	secret := NewSecret()
	sealed, err := s.sealer.Seal(ctx, []byte(secret), secretAAD(t, id))
	if err != nil {
		return Endpoint{}, "", time.Time{}, fmt.Errorf("seal signing secret: %w", err)
	}
	ref := s.endpoints(t).Doc(id)
	var ep Endpoint
	now := s.clock()
	until := now.Add(SecretOverlap)
	err = s.fs.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		var err error
		if ep, err = store.GetTx[Endpoint](tx, ref, "webhook endpoint "+id, ErrNotFound); err != nil {
			return err
		}
		kept := ep.Secrets[:0]
		for _, sec := range ep.Secrets {
			if !sec.Active(now) {
				continue // expired: drop it
			}
			if sec.ExpiresAt == nil || sec.ExpiresAt.After(until) {
				sec.ExpiresAt = &until
			}
			kept = append(kept, sec)
		}
		ep.Secrets = append(kept, StoredSecret{Sealed: sealed, CreatedAt: now})
		ep.UpdatedAt = now
		if err := tx.Set(ref, ep); err != nil {
			return err
		}
		return s.touchEndpoints(tx, t)
	})
	return ep, secret, until, err
}
