package payments

import (
	"context"
	"errors"
	"net/http"
	"time"

	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/store"
)

// Kind is one kind of record the payment service keeps as routes serve it (a payment, a
// refund, a refund batch, a VRP consent or payment): how a path's {id} finds it, where it
// lives and how the API shows it.
type Kind[T any] struct {
	What     string // the kind as a 404 names it, e.g. "Refund"
	Path     string // its resource's path before the ID, e.g. "/v1/refunds/"
	Get      func(ctx context.Context, scope store.Scope, id string) (T, error)
	NotFound error // what Get returns for a record the tenant does not have
	// Is (optional) tells the kind apart from other records Get reads (a refund from a
	// payment): a record it refuses is 404 too.
	Is   func(T) bool
	ID   func(T) string
	View func(T, time.Time) any
	Now  func() time.Time
}

// Found is the record a request's {id} names, with the caller's scope it was read in.
type Found[T any] struct {
	Record T
	Scope  store.Scope
}

// In reads the record r's {id} names in the scope admit gives (after its checks of the
// caller); one the tenant does not have is 404.
func (k Kind[T]) In(r *http.Request, admit func(*http.Request) (store.Scope, error)) (Found[T], error) {
	scope, err := admit(r)
	if err != nil {
		return Found[T]{}, err
	}
	id := r.PathValue("id")
	rec, err := k.Get(r.Context(), scope, id)
	if errors.Is(err, k.NotFound) || (err == nil && k.Is != nil && !k.Is(rec)) {
		return Found[T]{}, httpapi.NotFound(k.What + " " + id)
	}
	return Found[T]{Record: rec, Scope: scope}, err
}

// Show serves GET of the record the path names, for a caller admit lets in.
func (k Kind[T]) Show(admit func(*http.Request) (store.Scope, error)) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return httpapi.Answer(w, r, func(r *http.Request) (Found[T], error) { return k.In(r, admit) },
			func(_ context.Context, f Found[T]) (any, error) { return k.View(f.Record, k.Now()), nil })
	}
}

// Change serves a route that changes the record the path names (cancels, revokes it), for
// a caller admit lets in: change returns the record changed, answered as the API shows it.
func (k Kind[T]) Change(admit func(*http.Request) (store.Scope, error),
	change func(ctx context.Context, scope store.Scope, id string) (T, error)) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return httpapi.Answer(w, r, func(r *http.Request) (Found[T], error) { return k.In(r, admit) },
			func(ctx context.Context, f Found[T]) (any, error) {
				return k.Answer(change(ctx, f.Scope, k.ID(f.Record)))
			})
	}
}

// Creates serves a POST that makes a record of kind k from the body (httpapi.Create), for a
// caller admit lets in; make is given the client's IP address.
func Creates[T, In any](k Kind[T], admit func(*http.Request) (store.Scope, error),
	make func(ctx context.Context, scope store.Scope, in In, clientIP string) (T, error)) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return httpapi.Create(w, r, admit, func(ctx context.Context, scope store.Scope, in In) (string, any, error) {
			return k.Created(make(ctx, scope, in, httpapi.ClientIP(r)))
		})
	}
}

// Answer is rec as the API shows it now, or err.
func (k Kind[T]) Answer(rec T, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return k.View(rec, k.Now()), nil
}

// Created is what httpapi.Create answers for rec just made (its path and JSON), or err.
func (k Kind[T]) Created(rec T, err error) (string, any, error) {
	body, err := k.Answer(rec, err)
	if err != nil {
		return "", nil, err
	}
	return k.Path + k.ID(rec), body, nil
}

// Payments is the kind of the payments (not refunds) of s.
func (s *Store) Payments() Kind[Payment] {
	return s.kind("Payment", "/v1/payments/", func(p Payment) bool { return !p.IsRefund() }, viewAny(View))
}

// Refunds is the kind of the refunds of s.
func (s *Store) Refunds() Kind[Payment] {
	return s.kind("Refund", "/v1/refunds/", Payment.IsRefund, viewAny(RefundView))
}

// VRPPayments is the kind of the payments of s made under VRP consents.
func (s *Store) VRPPayments() Kind[Payment] {
	return s.kind("VRP payment", "/v1/vrps/", func(p Payment) bool { return p.VRPConsentID != "" }, viewAny(View))
}

func (s *Store) kind(what, path string, is func(Payment) bool, view func(Payment, time.Time) any) Kind[Payment] {
	return Kind[Payment]{What: what, Path: path, Get: s.Get, NotFound: ErrNotFound, Is: is, ID: func(p Payment) string { return p.ID }, View: view, Now: s.now}
}

// Batches is the kind of the refund batches of s.
func (s *Store) Batches() Kind[Batch] {
	return Kind[Batch]{What: "Refund batch", Path: "/v1/refund-batches/", Get: s.GetBatch, NotFound: ErrNotFound,
		ID: func(b Batch) string { return b.ID }, View: func(b Batch, _ time.Time) any { return BatchView(b) }, Now: s.now}
}

// viewAny is view with its JSON as any, for a Kind.
func viewAny[T, J any](view func(T, time.Time) J) func(T, time.Time) any {
	return func(rec T, now time.Time) any { return view(rec, now) }
}
