package vrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/connectors"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/store"
)

// A mandate can end at the bank without Tok: the customer revokes it in their online
// banking, or the bank ends or expires it. Tok learns it from the bank's answers (a payment
// or funds confirmation refused with MANDATE_REVOKED or MANDATE_EXPIRED, or the mandate's
// status) and records it once: REVOKED with revokedBy bank, or EXPIRED, with its event in the
// consent's outbox. Later payments are refused by Tok without calling the bank.

// endedAtBank is the consent status a bank's error or mandate status means, or "".
func endedAtBank(kind bank.Kind, mandateStatus string) string {
	switch {
	case kind == bank.ConsentRevoked, mandateStatus == bank.MandateRevoked, mandateStatus == bank.MandateEnded:
		return StatusRevoked
	case kind == bank.ConsentExpired, mandateStatus == bank.MandateExpired:
		return StatusExpired
	}
	return ""
}

// EndAtBank records that the bank ended an AUTHORIZED consent's mandate (bank error err, or
// mandateStatus): REVOKED with revokedBy bank (vrp_consent.revoked) or EXPIRED
// (vrp_consent.expired). ended is false when the answer ends nothing or the consent was no
// longer AUTHORIZED (a repeat publishes nothing).
func (s *Service) EndAtBank(ctx context.Context, scope store.Scope, id string, err error, mandateStatus string) (Consent, bool, error) {
	to := endedAtBank(bank.KindOf(err), mandateStatus)
	if to == "" {
		c, gerr := s.Get(ctx, scope, id)
		return c, false, gerr
	}
	by := ""
	if to == StatusRevoked {
		by = RevokedByBank
	}
	c, ended, uerr := s.end(ctx, scope, id, to, by, StatusAuthorized)
	if ended {
		slog.InfoContext(ctx, "vrp consent ended at the bank", "vrpConsentId", id, "status", to)
	}
	return c, ended, uerr
}

// CheckAtBank asks the bank for the mandate's status of an AUTHORIZED consent and records an
// end it reports (EndAtBank); other consents are returned as they are.
func (s *Service) CheckAtBank(ctx context.Context, scope store.Scope, id string) (Consent, error) {
	c, err := s.Get(ctx, scope, id)
	if err != nil || c.Status != StatusAuthorized {
		return c, err
	}
	conn, sess, err := s.connect(ctx, scope, c)
	if err != nil {
		return Consent{}, err
	}
	st, err := conn.MandateStatus(ctx, sess)
	if err != nil && endedAtBank(bank.KindOf(err), "") == "" {
		return Consent{}, connectors.APIError(err)
	}
	c, _, err = s.EndAtBank(ctx, scope, id, err, st)
	return c, err
}

// sandboxRevoker is the sandbox bank's stand-in for a customer revoking a mandate there.
type sandboxRevoker interface {
	RevokeSandboxMandate(ctx context.Context, s bank.Session) error
}

// RevokeAtSandboxBank revokes an AUTHORIZED consent's mandate at Tok's sandbox bank as the
// customer would in their online banking, then checks the mandate as Tok does (CheckAtBank):
// the consent becomes REVOKED with revokedBy bank and vrp_consent.revoked is published once.
// Any other consent is 409 CONFLICT.
func (s *Service) RevokeAtSandboxBank(ctx context.Context, scope store.Scope, id string) (Consent, error) {
	c, err := s.Get(ctx, scope, id)
	if errors.Is(err, ErrNotFound) {
		return Consent{}, httpapi.NotFound("VRP consent " + id)
	}
	if err != nil {
		return Consent{}, err
	}
	if st, _ := c.EffectiveStatus(s.now()); st != StatusAuthorized {
		return Consent{}, httpapi.Conflict("Only an AUTHORIZED VRP consent can be revoked at the bank; this one is " + st + ".")
	}
	conn, err := s.Payments.Connectors.For(c.Env, c.BankID)
	if err != nil {
		return Consent{}, err
	}
	sb, ok := conn.(sandboxRevoker)
	if !ok {
		return Consent{}, httpapi.Conflict("The VRP consent's bank is not the sandbox bank.")
	}
	sess, err := s.session(ctx, scope, c, conn)
	if err != nil {
		return Consent{}, fmt.Errorf("revoke at the sandbox bank: %w", err)
	}
	if err := sb.RevokeSandboxMandate(ctx, sess); err != nil {
		return Consent{}, connectors.APIError(err)
	}
	return s.CheckAtBank(ctx, scope, id)
}
