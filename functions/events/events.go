// Package events is the Events function: the organisation's event log for the last 30 days,
// as recorded by the eventlog function.
//
//	GET /v1/events        any role; newest first; ?type=consent.authorized to filter
//	GET /v1/events/{id}   any role
package events

import (
	"context"
	"net/http"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/auth"
	domain "tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/lists"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/webhooks"
)

func init() {
	platform.HTTP("Events", platform.With(platform.Firestore, handler))
}

func handler(fs *firestore.Client) http.Handler { return NewHandler(fs, time.Now) }

type server struct {
	fs  *firestore.Client
	now func() time.Time
}

// NewHandler returns the function's routes. Requests must carry an auth.Caller.
func NewHandler(fs *firestore.Client, now func() time.Time) http.Handler {
	s := &server{fs: fs, now: now}
	rt := httpapi.NewRouter()
	rt.Handle("GET /v1/events", s.list)
	rt.Handle("GET /v1/events/{id}", s.get)
	return rt
}

func callerTenant(ctx context.Context) (tenant.Tenant, error) {
	c, err := auth.CallerFrom(ctx)
	if err != nil {
		return tenant.Tenant{}, err
	}
	return c.Tenant, nil
}

func (s *server) list(w http.ResponseWriter, r *http.Request) error {
	t, err := callerTenant(r.Context())
	if err != nil {
		return err
	}
	q := store.For(s.fs, t).Collection(domain.LogCollection).Query
	if typ := r.URL.Query().Get("type"); typ != "" {
		if !webhooks.KnownEventType(typ) {
			return httpapi.InvalidField("type", "is not a known event type")
		}
		q = q.Where("type", "==", typ)
	}
	q = q.Where("createdAt", ">=", s.now().Add(-domain.LogRetention)).
		OrderBy("createdAt", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc)
	return lists.Serve(w, r, lists.Spec[lists.CreatedID, domain.Event]{
		Valid:    func(p lists.CreatedID) bool { return p.Is(ids.Event) },
		Fetch:    lists.Query[lists.CreatedID](q, domain.LogEntry.Event),
		Position: func(e domain.Event) lists.CreatedID { return lists.CreatedID{CreatedAt: e.CreatedAt, ID: e.ID} },
	})
}

func (s *server) get(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	t, err := callerTenant(ctx)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if !ids.Valid(ids.Event, id) {
		return httpapi.NotFound("The event")
	}
	snap, err := store.For(s.fs, t).Collection(domain.LogCollection).Doc(id).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return httpapi.NotFound("The event")
	}
	if err != nil {
		return err
	}
	var rec domain.LogEntry
	if err := snap.DataTo(&rec); err != nil {
		return err
	}
	if rec.CreatedAt.Before(s.now().Add(-domain.LogRetention)) {
		return httpapi.NotFound("The event")
	}
	httpapi.WriteJSON(w, http.StatusOK, rec.Event())
	return nil
}
