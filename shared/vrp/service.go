package vrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/authstate"
	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/callbackurl"
	"tokapi.io/tok/shared/clock"
	"tokapi.io/tok/shared/connectors"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tokenvault"
)

// ErrNotFound is a VRP consent the tenant does not have.
var ErrNotFound = errors.New("vrp: consent not found")

// ErrNotAwaiting is a callback for a consent no longer awaiting authorisation.
var ErrNotAwaiting = errors.New("vrp: the consent is no longer awaiting authorisation")

// Service runs VRP consents and their payments on the payment service's parts (store,
// token vault, states, bank connectors, poll requests).
type Service struct {
	Payments  *payments.Service
	Validator *Validator
	// SendGrace is how long a reserved payment waits for its first send to the bank before
	// the status worker sends it instead (default 30s).
	SendGrace time.Duration

	queues reservations
}

// New is the VRP service on p; it makes p's poller follow VRP payments too. orgs checks
// callbackUrls (nil where no consent is created).
func New(p *payments.Service, orgs callbackurl.Orgs) *Service {
	s := &Service{Payments: p, Validator: &Validator{Payments: p.Validator, Orgs: orgs}}
	p.VRP = s
	return s
}

func (s *Service) now() time.Time { return s.Payments.Clock() }

func (s *Service) fs() *firestore.Client { return s.Payments.Store.FS }

func (s *Service) sendGrace() time.Duration { return clock.Or(s.SendGrace, 30*time.Second) }

func consentRef(scope store.Scope, id string) *firestore.DocumentRef {
	return scope.Collection(Collection).Doc(id)
}

// Get returns a VRP consent of the scope's tenant.
func (s *Service) Get(ctx context.Context, scope store.Scope, id string) (Consent, error) {
	return store.GetID[Consent](ctx, scope.Collection(Collection), ids.VRPConsent, id, "vrp consent", ErrNotFound)
}

// update changes a consent in one transaction; fn returns whether it changed it. The events
// fn puts in the outbox (enqueue) are committed with the change and published after it; a
// publishing failure leaves them for the sweep.
func (s *Service) update(ctx context.Context, scope store.Scope, id string, fn func(c *Consent, now time.Time) (bool, error)) (Consent, error) {
	return s.updateTx(ctx, scope, id, func(_ *firestore.Transaction, c *Consent, now time.Time) (bool, error) { return fn(c, now) })
}

// updateTx is update with fn inside the transaction, for writes to other documents with the
// consent's (fn does its reads before its writes). fn's error is returned as it is.
func (s *Service) updateTx(ctx context.Context, scope store.Scope, id string, fn func(tx *firestore.Transaction, c *Consent, now time.Time) (bool, error)) (Consent, error) {
	var c Consent
	var fnErr error
	err := s.fs().RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var err error
		if c, err = store.GetTx[Consent](tx, consentRef(scope, id), "vrp consent "+id, ErrNotFound); err != nil {
			return err
		}
		changed, err := fn(tx, &c, s.now())
		if fnErr = err; err != nil || !changed {
			return err
		}
		return tx.Set(consentRef(scope, id), c)
	})
	if fnErr != nil {
		return Consent{}, fnErr
	}
	if err != nil {
		return Consent{}, fmt.Errorf("update vrp consent %s: %w", id, err)
	}
	s.flush(ctx, scope, c)
	return c, nil
}

// flush publishes a consent's outbox; what fails stays there for the sweep.
func (s *Service) flush(ctx context.Context, scope store.Scope, c Consent) {
	if err := payments.FlushOutbox(ctx, s.fs(), s.Payments.Store.Events, scope.Tenant(), consentRef(scope, c.ID), c.Outbox); err != nil {
		slog.WarnContext(ctx, "vrp consent events left in the outbox for the sweep", "vrpConsentId", c.ID, "error", err)
	}
}

// ListQuery is the query of GET /v1/vrp-consents: the tenant's consents, newest first (ID
// as tie-break), optionally of one status.
func (s *Service) ListQuery(scope store.Scope, status string) firestore.Query {
	q := scope.Collection(Collection).Query
	if status != "" {
		q = q.Where("status", "==", status)
	}
	return q.OrderBy("createdAt", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc)
}

func (s *Service) callbackURI() string {
	return strings.TrimSuffix(s.Payments.PublicURL, "/") + "/v1/callback"
}

// Create validates req, registers the mandate at the bank and records the consent awaiting
// the customer's SCA, with its single-use state and sealed PKCE verifier. Without bankId
// and accountId the consent waits for the customer to pick a bank on Tok's hosted pages
// (its redirectUrl is the pages' single-use link; ChooseBank goes on from there).
func (s *Service) Create(ctx context.Context, scope store.Scope, req CreateRequest, clientIP string) (Consent, error) {
	now := s.now()
	d, err := s.Validator.validate(ctx, scope, req, now)
	if err != nil {
		return Consent{}, err
	}
	psuIP := clientIP
	if req.PSUIPAddress != "" {
		if net.ParseIP(req.PSUIPAddress) == nil {
			return Consent{}, httpapi.InvalidField("psuIpAddress", "must be an IPv4 or IPv6 address")
		}
		psuIP = req.PSUIPAddress
	}
	t := scope.Tenant()
	c := d.consent
	c.ID, c.Env, c.OrgID, c.Status = ids.New(ids.VRPConsent), t.Env, t.OrgID, StatusAwaiting
	c.CreatedAt, c.UpdatedAt, c.Usage = now, now, map[string]Usage{}
	if d.bank.ID == "" {
		return s.recordHosted(ctx, scope, c, d.locale)
	}
	st, err := s.atBank(ctx, &c, psuIP, now)
	if err != nil {
		return Consent{}, err
	}
	err = s.fs().RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if err := tx.Create(consentRef(scope, c.ID), c); err != nil {
			return err
		}
		return s.Payments.States.Create(tx, c.StateHash, st)
	})
	if err != nil {
		return Consent{}, fmt.Errorf("record vrp consent: %w", err)
	}
	slog.InfoContext(ctx, "vrp consent created", "vrpConsentId", c.ID, "bankId", c.BankID)
	return c, nil
}

// atBank registers c's mandate at its bank (c.BankID) with the customer at psuIP and starts
// its SCA: it sets the bank's mandate ID, its SCA page, the authorisation window and the
// state hash on c, and returns the single-use state to record with c.
func (s *Service) atBank(ctx context.Context, c *Consent, psuIP string, now time.Time) (authstate.State, error) {
	conn, err := s.Payments.Connectors.For(c.Env, c.BankID)
	if err != nil {
		return authstate.State{}, err
	}
	l, err := c.Limits()
	if err != nil {
		return authstate.State{}, err
	}
	state := bank.NewState()
	verifier, challenge := bank.NewPKCE()
	mreq := bank.MandateRequest{CreditorIBAN: c.CreditorIBAN, CreditorName: c.CreditorName, DebtorIBAN: c.DebtorIBAN, Currency: c.Currency,
		MaximumIndividual: l.MaxIndividual, MinimumIndividual: l.MinIndividual, MaximumOccurrences: c.MaxOccurrences,
		ValidFrom: c.ValidFrom, TimeZone: c.TimeZone, VRPType: c.VRPType, RemittanceInfo: c.RemittanceInfo,
		RedirectURI: s.callbackURI(), State: state, CodeChallenge: challenge, PSUIPAddress: psuIP}
	if c.ValidTo != nil {
		mreq.ValidTo = *c.ValidTo
	}
	for _, p := range l.Periodic {
		mreq.PeriodicLimits = append(mreq.PeriodicLimits, bank.PeriodicLimit{MaximumAmount: p.Max, PeriodType: p.Type, Alignment: p.Alignment})
	}
	started, err := conn.CreateMandate(ctx, mreq)
	if err != nil {
		if k := bank.KindOf(err); k == bank.Invalid || k == bank.Rejected {
			return authstate.State{}, &httpapi.Error{Status: http.StatusBadRequest, Code: httpapi.CodeValidation, FromBank: true, Err: err,
				Message: "The bank refused the mandate as invalid; check the creditor, debtor and limits."}
		}
		return authstate.State{}, connectors.APIError(err)
	}
	c.BankMandateID, c.RedirectURL, c.AuthorizeBy = started.BankConsentID, started.AuthorizeURL, now.Add(authstate.TTL)
	sealed, err := s.Payments.States.SealVerifier(ctx, c.ID, verifier)
	if err != nil {
		return authstate.State{}, err
	}
	c.StateHash = authstate.Hash(state)
	return authstate.State{Env: c.Env, OrgID: c.OrgID, VRPConsentID: c.ID, Verifier: sealed, ExpiresAt: c.AuthorizeBy, CreatedAt: now}, nil
}

// Authorise records the customer's SCA result for the consent of a consumed state and
// returns where to send the browser: the consent's callbackUrl with vrpConsentId and status.
// A code the bank does not exchange is payments.ErrCodeNotExchanged and changes nothing.
func (s *Service) Authorise(ctx context.Context, st authstate.State, query url.Values) (string, error) {
	scope := store.For(s.fs(), st.Tenant())
	c, err := s.Get(ctx, scope, st.VRPConsentID)
	if err != nil {
		return "", err
	}
	if c.Status != StatusAwaiting {
		return "", ErrNotAwaiting
	}
	end := func(status, reason string) (string, error) {
		c, err := s.settle(ctx, scope, c.ID, func(c *Consent, _ time.Time) { c.Status, c.StatusReason = status, reason })
		if err != nil {
			return "", err
		}
		return callbackRedirect(c)
	}
	if authErr := bank.AuthorizationError(query); authErr != nil {
		slog.InfoContext(ctx, "vrp consent not authorised at the bank", "vrpConsentId", c.ID, "error", authErr)
		if bank.KindOf(authErr) == bank.Rejected {
			return end(StatusRejected, payments.ReasonDeniedByUser)
		}
		return end(StatusFailed, payments.ReasonAuthorizationFailed)
	}
	conn, err := s.Payments.Connectors.For(st.Env, c.BankID)
	if err != nil {
		return "", err
	}
	verifier, err := s.Payments.States.OpenVerifier(ctx, st)
	if err != nil {
		return "", err
	}
	tokens, err := conn.ExchangeCode(ctx, query.Get("code"), string(verifier), s.callbackURI())
	clear(verifier)
	if err != nil {
		// Not the bank's answer for this consent (another consent's code, a made-up one) or
		// no answer at all: nothing changes, and the customer's real redirect still can.
		slog.WarnContext(ctx, "vrp consent code not exchanged; the consent is unchanged", "vrpConsentId", c.ID, "error", err)
		return "", fmt.Errorf("%w: %w", payments.ErrCodeNotExchanged, err)
	}
	mst, err := conn.MandateStatus(ctx, bank.Session{BankConsentID: c.BankMandateID, AccessToken: tokens.AccessToken})
	switch {
	case err != nil:
		slog.WarnContext(ctx, "mandate status after authorisation failed", "vrpConsentId", c.ID, "error", err)
		return end(StatusFailed, payments.ReasonBankUnavailable)
	case mst != bank.MandateValid:
		return end(StatusRejected, payments.ReasonBankRejected)
	}
	sealed, err := s.Payments.Vault.Seal(ctx, TokensAAD(c.OrgID, c.ID), tokens)
	if err != nil {
		return "", err
	}
	c, err = s.settle(ctx, scope, c.ID, func(c *Consent, now time.Time) {
		c.Status, c.Tokens, c.TokenExpiresAt, c.AuthorizedAt = StatusAuthorized, sealed, tokens.ExpiresAt.UTC(), &now
	})
	if err != nil {
		return "", err
	}
	return callbackRedirect(c)
}

// settle ends a consent's authorisation with fn, once: ErrNotAwaiting if it was settled.
func (s *Service) settle(ctx context.Context, scope store.Scope, id string, fn func(c *Consent, now time.Time)) (Consent, error) {
	c, err := s.update(ctx, scope, id, func(c *Consent, now time.Time) (bool, error) {
		if c.Status != StatusAwaiting {
			return false, ErrNotAwaiting
		}
		fn(c, now)
		c.RedirectURL, c.UpdatedAt = "", now
		if c.Status != StatusAuthorized {
			c.EndedAt = &now
			return true, nil
		}
		return true, c.enqueue(EventAuthorized, now)
	})
	if errors.Is(err, ErrNotAwaiting) {
		return Consent{}, ErrNotAwaiting
	}
	return c, err
}

func callbackRedirect(c Consent) (string, error) {
	return payments.CallbackRedirect(c.CallbackURL, "vrpConsentId", c.ID, c.Status, c.StatusReason)
}

// connect is c's bank and the mandate's session there (session).
func (s *Service) connect(ctx context.Context, scope store.Scope, c Consent) (bank.Connector, bank.Session, error) {
	return s.Payments.Connect(c.Env, c.BankID, func(conn bank.Connector) (bank.Session, error) { return s.session(ctx, scope, c, conn) })
}

// session is the mandate's bank session (no PSU present), tokens refreshed by the vault.
func (s *Service) session(ctx context.Context, scope store.Scope, c Consent, conn bank.Connector) (bank.Session, error) {
	if len(c.Tokens) == 0 {
		return bank.Session{}, fmt.Errorf("vrp consent %s has no tokens", c.ID)
	}
	t, err := tokenvault.FreshIn(ctx, s.Payments.Vault, consentRef(scope, c.ID), TokensAAD(c.OrgID, c.ID), c, conn.Refresh)
	if err != nil {
		return bank.Session{}, fmt.Errorf("vrp consent %s: tokens: %w", c.ID, err)
	}
	return bank.Session{BankConsentID: c.BankMandateID, AccessToken: t.AccessToken}, nil
}

// Revoke ends a consent, at the bank first when it is authorised; a consent already ended
// is 409 CONFLICT.
func (s *Service) Revoke(ctx context.Context, scope store.Scope, id string) (Consent, error) {
	c, err := s.Get(ctx, scope, id)
	if err != nil {
		return Consent{}, err
	}
	switch st, _ := c.EffectiveStatus(s.now()); st {
	case StatusAwaiting:
		if err := s.Payments.States.Delete(ctx, c.StateHash); err != nil {
			return Consent{}, fmt.Errorf("delete state of %s: %w", id, err)
		}
	case StatusAuthorized:
		conn, err := s.Payments.Connectors.For(c.Env, c.BankID)
		if err != nil {
			return Consent{}, err
		}
		sess, err := s.session(ctx, scope, c, conn)
		if err == nil {
			err = conn.RevokeMandate(ctx, sess)
		}
		if err != nil && bank.KindOf(err) != bank.ConsentExpired && bank.KindOf(err) != bank.ConsentRevoked {
			return Consent{}, connectors.APIError(err)
		}
	default:
		return Consent{}, httpapi.Conflict("The VRP consent is " + st + " and can no longer be revoked.")
	}
	c, _, err = s.end(ctx, scope, id, StatusRevoked, RevokedByOrganisation, StatusAwaiting, StatusAuthorized)
	return c, err
}

// end records the end of a consent that is in one of the statuses from: REVOKED (by whom)
// with vrp_consent.revoked, or EXPIRED with vrp_consent.expired, committed with the change.
// A consent in none of them is returned as it is (ended false), so a repeat publishes
// nothing.
func (s *Service) end(ctx context.Context, scope store.Scope, id, to, by string, from ...string) (Consent, bool, error) {
	ended := false
	c, err := s.update(ctx, scope, id, func(c *Consent, now time.Time) (bool, error) {
		ended = slices.Contains(from, c.Status)
		if !ended {
			return false, nil
		}
		c.Status, c.StatusReason, c.RedirectURL, c.EndedAt, c.UpdatedAt = to, "", "", &now, now
		if to == StatusRevoked {
			c.RevokedBy = by
			return true, c.enqueue(EventRevoked, now)
		}
		return true, c.enqueue(EventExpired, now)
	})
	return c, ended && err == nil, err
}
