package banksync_test

import (
	"context"
	"strings"
	"testing"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/sandboxbank"
)

// authorizedConsent stores the AUTHORIZED consent record of the env's connection.
func authorizedConsent(t *testing.T, e *env) {
	t.Helper()
	now := e.clock.Now()
	k := connections.Consent{ID: e.cxn.ConsentID, Env: e.cxn.Env, OrgID: e.cxn.OrgID, BankID: e.cxn.BankID,
		ConnectionID: e.cxn.ID, Status: connections.ConsentAuthorized, ValidUntil: e.cxn.ValidUntil, CreatedAt: now, UpdatedAt: now}
	if _, err := e.scope.Collection(connections.CollConsents).Doc(k.ID).Set(context.Background(), k); err != nil {
		t.Fatal(err)
	}
}

func (e *env) records(t *testing.T) (connections.Connection, connections.Consent) {
	t.Helper()
	ctx := context.Background()
	var c connections.Connection
	var k connections.Consent
	cs, err := e.scope.Collection(connections.CollConnections).Doc(e.cxn.ID).Get(ctx)
	if err == nil {
		err = cs.DataTo(&c)
	}
	if err != nil {
		t.Fatal(err)
	}
	ks, err := e.scope.Collection(connections.CollConsents).Doc(e.cxn.ConsentID).Get(ctx)
	if err == nil {
		err = ks.DataTo(&k)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

func TestRevocationAtTheBankEndsTheConsentOnce(t *testing.T) {
	e := newEnv(t, sandboxbank.PersonaRevoke, 50)
	authorizedConsent(t, e)
	ctx := context.Background()
	w := e.worker()
	if _, err := w.Handle(ctx, e.request(true)); err != nil {
		t.Fatalf("first sync: %v", err)
	}
	c, k := e.records(t)
	if c.Status != connections.StatusRevoked || len(c.Tokens) != 0 {
		t.Fatalf("connection %s with %d token bytes, want REVOKED without tokens", c.Status, len(c.Tokens))
	}
	if k.Status != connections.ConsentRevoked || k.RevokedBy != connections.RevokedByBank || k.RevokedAt == nil {
		t.Fatalf("consent %s revokedBy %q revokedAt %v, want REVOKED by bank", k.Status, k.RevokedBy, k.RevokedAt)
	}
	// Redelivered sync and a second bank error change nothing and publish nothing again.
	if res, err := w.Handle(ctx, e.request(true)); err != nil || res.Skipped == "" {
		t.Fatalf("redelivered sync: %+v, %v; want skipped", res, err)
	}
	revokedErr := &bank.Error{Kind: bank.ConsentRevoked, Message: "revoked"}
	if ended, err := e.conns.EndAtBank(ctx, e.scope, e.cxn.ID, revokedErr); err != nil || !ended {
		t.Fatalf("EndAtBank again: %v, %v", ended, err)
	}
	evs := e.events.byType(connections.EventConsentRevoked)
	if len(evs) != 1 {
		t.Fatalf("%d consent.revoked events, want exactly 1", len(evs))
	}
	if got := string(evs[0].Data); !strings.Contains(got, `"status":"REVOKED"`) || !strings.Contains(got, `"reason":"bank"`) {
		t.Errorf("consent.revoked data %s", got)
	}
}

func TestExpiryReportedByTheBankEndsTheConsent(t *testing.T) {
	e := newEnv(t, sandboxbank.PersonaDemo, 50)
	authorizedConsent(t, e)
	ctx := context.Background()
	expired := &bank.Error{Kind: bank.ConsentExpired, Message: "expired"}
	for range 2 {
		if ended, err := e.conns.EndAtBank(ctx, e.scope, e.cxn.ID, expired); err != nil || !ended {
			t.Fatalf("EndAtBank: %v, %v", ended, err)
		}
	}
	c, k := e.records(t)
	if c.Status != connections.StatusExpired || k.Status != connections.ConsentExpired || k.RevokedBy != "" {
		t.Fatalf("connection %s, consent %s revokedBy %q; want EXPIRED, EXPIRED, none", c.Status, k.Status, k.RevokedBy)
	}
	if n := len(e.events.byType(connections.EventConsentExpired)); n != 1 {
		t.Fatalf("%d consent.expired events, want exactly 1", n)
	}
	// An outage says nothing about the consent.
	if ended, err := e.conns.EndAtBank(ctx, e.scope, e.cxn.ID, &bank.Error{Kind: bank.Unavailable}); err != nil || ended {
		t.Fatalf("EndAtBank(unavailable): %v, %v", ended, err)
	}
}
