package authstate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/random"
)

// OutcomeCollection holds the answers of callbacks that outlasted the browser's patience:
// such a callback shows a waiting page at once and keeps its answer under a ticket, which
// the page's link (and its refresh, once the work is done) opens. A stream the browser lost
// loses nothing: the ticket's URL answers as the callback would have.
const OutcomeCollection = "oauthOutcomes"

// MaxTicketLen bounds the ticket an outcome URL may carry; longer ones were never issued.
const MaxTicketLen = 64

// Outcome is a callback's answer as it would have gone to the browser: a redirect
// (Location) or a page (Status, ContentType, Body). Done is false while the work runs.
type Outcome struct {
	Done        bool      `firestore:"done"`
	Status      int       `firestore:"status"`
	Location    string    `firestore:"location,omitempty"`
	ContentType string    `firestore:"contentType,omitempty"`
	Body        []byte    `firestore:"body,omitempty"`
	ExpiresAt   time.Time `firestore:"expiresAt"`
}

func outcomeHash(ticket string) string {
	sum := sha256.Sum256([]byte("tok-callback-outcome\x00" + ticket))
	return hex.EncodeToString(sum[:])
}

// NewOutcome stores a pending outcome for TTL and returns its unguessable ticket (only its
// hash is stored).
func (s Store) NewOutcome(ctx context.Context, now time.Time) (string, error) {
	ticket := random.Token(32)
	if _, err := s.Client.Collection(OutcomeCollection).Doc(outcomeHash(ticket)).Create(ctx, Outcome{ExpiresAt: now.Add(TTL)}); err != nil {
		return "", fmt.Errorf("store callback outcome: %w", err)
	}
	return ticket, nil
}

// FinishOutcome records the callback's answer under its ticket.
func (s Store) FinishOutcome(ctx context.Context, ticket string, o Outcome) error {
	_, err := s.Client.Collection(OutcomeCollection).Doc(outcomeHash(ticket)).Update(ctx, []firestore.Update{
		{Path: "done", Value: true}, {Path: "status", Value: o.Status}, {Path: "location", Value: o.Location},
		{Path: "contentType", Value: o.ContentType}, {Path: "body", Value: o.Body}})
	if err != nil {
		return fmt.Errorf("record callback outcome: %w", err)
	}
	return nil
}

// Outcome reads the outcome of a ticket; an unknown or expired ticket is ErrBadState.
func (s Store) Outcome(ctx context.Context, ticket string, now time.Time) (Outcome, error) {
	if ticket == "" || len(ticket) > MaxTicketLen {
		return Outcome{}, ErrBadState
	}
	snap, err := s.Client.Collection(OutcomeCollection).Doc(outcomeHash(ticket)).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return Outcome{}, ErrBadState
	}
	var o Outcome
	if err == nil {
		err = snap.DataTo(&o)
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("read callback outcome: %w", err)
	}
	if !now.Before(o.ExpiresAt) {
		return Outcome{}, ErrBadState
	}
	return o, nil
}
