package connections

import (
	"context"
	"time"

	"tokapi.io/tok/shared/authstate"
	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/connectors"
)

// AtBank asks bank b for consent c (ID, tenant, ConnectionID, Access, ValidUntil and
// CallbackURL set) with the bank redirecting to callbackURI, and returns c awaiting the
// customer's SCA at the bank with the single-use state to store beside it (sealed PKCE
// verifier). The caller writes both in one transaction. The bank may shorten ValidUntil.
func (s *Service) AtBank(ctx context.Context, states authstate.Store, b bankcatalog.Bank, c Consent, callbackURI string, now time.Time) (Consent, authstate.State, error) {
	conn, err := s.Connectors.For(c.Env, b.ID)
	if err != nil {
		return Consent{}, authstate.State{}, err
	}
	state := bank.NewState()
	verifier, challenge := bank.NewPKCE()
	started, err := conn.CreateConsent(ctx, bank.ConsentRequest{
		Access: c.Access, ValidUntil: c.ValidUntil, FrequencyPerDay: b.Limits.FrequencyPerDay,
		RedirectURI: callbackURI, State: state, CodeChallenge: challenge,
	})
	if err != nil {
		return Consent{}, authstate.State{}, connectors.APIError(err)
	}
	if !started.ValidUntil.IsZero() && started.ValidUntil.Before(c.ValidUntil) {
		c.ValidUntil = started.ValidUntil
	}
	sealed, err := states.SealVerifier(ctx, c.ID, verifier)
	if err != nil {
		return Consent{}, authstate.State{}, err
	}
	c.BankID, c.BankConsentID, c.Status, c.RedirectURL = b.ID, started.BankConsentID, ConsentAwaiting, started.AuthorizeURL
	c.AuthorizeBy, c.ValidUntil = now.Add(authstate.TTL), c.ValidUntil.UTC().Truncate(time.Microsecond)
	c.FrequencyPerDay, c.StateHash, c.UpdatedAt = b.Limits.FrequencyPerDay, authstate.Hash(state), now
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	return c, authstate.State{Env: c.Env, OrgID: c.OrgID, ConsentID: c.ID, Verifier: sealed, ExpiresAt: c.AuthorizeBy, CreatedAt: now}, nil
}

// MaxConsentDays is the longest consent b gives (at most PSD2's 180 days).
func MaxConsentDays(b bankcatalog.Bank) int {
	if d := b.Limits.MaxConsentDays; d > 0 && d < 180 {
		return d
	}
	return 180
}
