package consents

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"tokapi.io/tok/shared/banksync"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/connectors"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/store"
)

// SyncRequester publishes sync requests (banksync.RequestPublisher).
type SyncRequester interface {
	Publish(ctx context.Context, req banksync.Request) error
}

type refreshRequest struct {
	PSUIPAddress *string `json:"psuIpAddress"`
}

// RefreshJSON is the answer to a refresh: the sync asked for, and the budget after it.
type RefreshJSON struct {
	ConsentID              string     `json:"consentId"`
	ConnectionID           string     `json:"connectionId"`
	Status                 string     `json:"status"`
	Attended               bool       `json:"attended"`
	RequestedAt            time.Time  `json:"requestedAt"`
	LastSyncAt             *time.Time `json:"lastSyncAt"`
	UnattendedAccessesLeft int        `json:"unattendedAccessesLeft"`
}

// syncView is what GET /v1/consents/{id} adds about the consent's syncs.
type syncView struct {
	LastSyncAt             *time.Time `json:"lastSyncAt"`
	NextSyncAt             *time.Time `json:"nextSyncAt"`
	UnattendedAccessesLeft *int       `json:"unattendedAccessesLeft"`
}

// consentWithSync is a consent as GET /v1/consents/{id} shows it.
type consentWithSync struct {
	ConsentJSON
	syncView
}

// current returns the connection whose current consent c is, active; else the error a
// refresh answers.
func (s *Server) current(ctx context.Context, scope store.Scope, c connections.Consent) (connections.Connection, error) {
	switch st := c.EffectiveStatus(s.now()); st {
	case connections.ConsentAuthorized:
	case connections.ConsentRevoked:
		return connections.Connection{}, connectors.ConsentRevokedError()
	case connections.ConsentExpired:
		return connections.Connection{}, connectors.ConsentExpiredError()
	default:
		return connections.Connection{}, httpapi.Conflict("Only an AUTHORIZED consent can be refreshed; this one is " + st + ".")
	}
	cx, err := s.Conns.Repo.Get(ctx, scope, c.ConnectionID)
	if err != nil {
		return connections.Connection{}, err
	}
	if cx.ConsentID != c.ID {
		return connections.Connection{}, httpapi.Conflict("This consent is no longer its connection's current consent.")
	}
	if err := connections.StatusError(cx.EffectiveStatus(s.now())); err != nil {
		return connections.Connection{}, err
	}
	return cx, nil
}

// refresh asks for a sync now. Without the customer present it takes one of the consent's
// unattended accesses of the day, atomically (a Firestore transaction), before anything is
// published: 429 ACCESS_EXCEEDED with Retry-After when none is left.
func (s *Server) refresh(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var in refreshRequest
	scope, c, err := s.loadToAct(w, r, &in)
	if err != nil {
		return err
	}
	var ip string
	if in.PSUIPAddress != nil {
		a, err := netip.ParseAddr(*in.PSUIPAddress)
		if err != nil || a.Zone() != "" {
			return httpapi.InvalidField("psuIpAddress", "must be the customer's IPv4 or IPv6 address")
		}
		ip = a.String()
	}
	cx, err := s.current(ctx, scope, c)
	if err != nil {
		return err
	}
	now := s.now()
	budget := banksync.Budget{FS: s.Conns.Repo.Client}
	attended := ip != ""
	var left int
	if !attended {
		if left, err = budget.Reserve(ctx, scope, cx, banksync.SyncResource, now); errors.Is(err, banksync.ErrBudget) {
			next := banksync.DayAfter(now)
			w.Header().Set("Retry-After", strconv.Itoa(int(next.Sub(now).Seconds())+1))
			return &httpapi.Error{Status: http.StatusTooManyRequests, Code: httpapi.CodeAccessExceeded, Message: fmt.Sprintf(
				"The consent's %d unattended accesses of today are used; the next is possible at %s. With the customer present, send psuIpAddress.",
				budget.Limit(cx), next.Format(time.RFC3339))}
		} else if err != nil {
			return err
		}
	}
	if s.Sync == nil {
		return errors.New("no sync requester configured")
	}
	if err := s.Sync.Publish(ctx, banksync.Request{Env: scope.Tenant().Env, OrgID: scope.Tenant().OrgID, ConnectionID: cx.ID,
		Attended: attended, Reason: banksync.ReasonRefresh, PSUIPAddress: ip, Reserved: !attended}); err != nil {
		return err
	}
	// An unattended refresh answers what its own reservation left, so no read after the
	// publish can fail a refresh whose sync is queued (a retry would take another access).
	if attended {
		if left, err = budget.Left(ctx, scope, cx, now); err != nil {
			return err
		}
	}
	httpapi.WriteJSON(w, http.StatusAccepted, RefreshJSON{ConsentID: c.ID, ConnectionID: cx.ID, Status: "queued",
		Attended: attended, RequestedAt: now, LastSyncAt: cx.LastSyncAt, UnattendedAccessesLeft: left})
	return nil
}

// syncOf reads the sync state of the consent's connection, when it is the current consent.
func (s *Server) syncOf(ctx context.Context, scope store.Scope, c connections.Consent) (syncView, error) {
	cx, err := s.Conns.Repo.Get(ctx, scope, c.ConnectionID)
	if errors.Is(err, connections.ErrNotFound) || (err == nil && cx.ConsentID != c.ID) {
		return syncView{}, nil
	}
	if err != nil {
		return syncView{}, err
	}
	v := syncView{LastSyncAt: cx.LastSyncAt}
	if c.EffectiveStatus(s.now()) == connections.ConsentAuthorized && cx.EffectiveStatus(s.now()) == connections.StatusActive {
		left, err := banksync.Budget{FS: s.Conns.Repo.Client}.Left(ctx, scope, cx, s.now())
		if err != nil {
			return syncView{}, err
		}
		v.NextSyncAt, v.UnattendedAccessesLeft = cx.NextSyncAt, &left
	}
	return v, nil
}
