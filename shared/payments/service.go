package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/authstate"
	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/callbackurl"
	"tokapi.io/tok/shared/clock"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/connectors"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/money"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/tokenvault"
)

// Connectors gives the bank.Connector of a bank (connections.Connectors).
type Connectors interface {
	For(env, bankID string) (bank.Connector, error)
}

// PollRequester asks the payment-status function to poll a payment (PollPublisher).
type PollRequester interface {
	Publish(ctx context.Context, req PollRequest) error
}

// Service runs the steps of a payment. The zero values of the durations are the defaults.
type Service struct {
	Store      *Store
	Validator  *Validator
	Vault      *tokenvault.Vault
	States     authstate.Store
	Connectors Connectors
	// Conns gives bank sessions of AIS connections (confirmation of funds).
	Conns *connections.Service
	// Polls (optional) starts the status poller after authorisation.
	Polls PollRequester
	// VRP (optional) sends and follows VRP payments for the poller.
	VRP VRPFollower
	// PublicURL is the API's base URL without /v1; the banks redirect to PublicURL/v1/callback.
	PublicURL string

	// QuickPolls are the waits before each poll of one poller run (default 0, 2s, 4s, 8s:
	// the first poll at once, then slower); Backoff the waits between later runs, the last
	// repeated (default 1m, 2m, 5m, 15m, 1h); after PollBound (default 24h) the payment
	// stays PENDING with statusCheckOverdue and is checked daily.
	QuickPolls []time.Duration
	Backoff    []time.Duration
	PollBound  time.Duration
	// LeaseTTL bounds one poller run (default 90s): a poller killed mid-run holds the
	// payment at most this long.
	LeaseTTL time.Duration
}

// ForConnections is the Service on a function instance's connections service (Firestore,
// token vault, bank connectors, events). orgs (for callbackUrl checks) is needed to
// initiate, polls to start the poller after authorisation; either may be nil where the
// function does neither.
func ForConnections(c *connections.Service, orgs callbackurl.Orgs, polls PollRequester, publicURL string) *Service {
	return &Service{
		Store:      &Store{FS: c.Repo.Client, Events: c.Events, Now: c.Now},
		Validator:  &Validator{Banks: c.Connectors, Accounts: c.Repo, Orgs: orgs, Now: c.Now},
		Vault:      c.Vault,
		States:     authstate.Store{Client: c.Repo.Client, Sealer: c.Vault.Sealer},
		Connectors: c.Connectors,
		Conns:      c,
		Polls:      polls,
		PublicURL:  publicURL,
	}
}

func (s *Service) now() time.Time { return s.Store.now() }

// Clock is the service's time (the store's clock).
func (s *Service) Clock() time.Time { return s.now() }

func (s *Service) quickPolls() []time.Duration {
	if s.QuickPolls != nil {
		return s.QuickPolls
	}
	return []time.Duration{0, 2 * time.Second, 4 * time.Second, 8 * time.Second}
}

func (s *Service) backoff(attempt int) time.Duration {
	b := s.Backoff
	if b == nil {
		b = []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}
	}
	return b[min(attempt, len(b)-1)]
}

func (s *Service) pollBound() time.Duration { return clock.Or(s.PollBound, 24*time.Hour) }

func (s *Service) leaseTTL() time.Duration { return clock.Or(s.LeaseTTL, 90*time.Second) }

func (s *Service) callbackURI() string { return strings.TrimSuffix(s.PublicURL, "/") + "/v1/callback" }

// Initiate validates req, initiates the payment at the bank and records it awaiting the
// customer's SCA (payment.created), with its single-use state and sealed PKCE verifier. A
// bank that rejects the payment outright gives a REJECTED payment; a bank that fails gives
// 502 and records nothing. Without a bank (no bankId or accountId) the payment is recorded
// awaiting the customer's choice on Tok's hosted pages (ChooseBank).
func (s *Service) Initiate(ctx context.Context, scope store.Scope, req Request, clientIP string) (Payment, error) {
	d, err := s.Validator.Validate(ctx, scope, req)
	if err != nil {
		return Payment{}, err
	}
	if req.ConfirmFunds {
		ok, err := s.confirmFunds(ctx, scope, *d.Account, d.Amount)
		if err != nil {
			return Payment{}, err
		}
		if !ok {
			return Payment{}, insufficientFunds()
		}
	}
	now := s.now()
	p := newPayment(scope.Tenant(), d, now)
	if d.Bank.ID == "" {
		return s.recordHosted(ctx, scope, p, d.Locale)
	}
	psuIP := d.PSUIPAddress
	if psuIP == "" {
		psuIP = clientIP
	}
	verifier, refusal, err := s.atBank(ctx, &p, d, psuIP, now)
	if err != nil {
		return Payment{}, err
	}
	if refusal != nil {
		p.StatusHistory = nil // refused at once: the payment never awaited the customer
		if err := p.settle(*refusal, now); err != nil {
			return Payment{}, err
		}
		if _, err := ref(scope, p.ID).Create(ctx, p); err != nil {
			return Payment{}, fmt.Errorf("record payment: %w", err)
		}
		s.Store.flushLogged(ctx, scope, p)
		return p, nil
	}
	st, err := s.stateOf(ctx, p, verifier)
	if err != nil {
		return Payment{}, err
	}
	err = s.Store.FS.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if err := tx.Create(ref(scope, p.ID), p); err != nil {
			return err
		}
		return s.States.Create(tx, p.StateHash, st)
	})
	if err != nil {
		return Payment{}, fmt.Errorf("record payment: %w", err)
	}
	slog.InfoContext(ctx, "payment initiated", "paymentId", p.ID, "bankId", p.BankID, "product", p.Product)
	s.Store.flushLogged(ctx, scope, p)
	return p, nil
}

// newPayment is the record of draft d awaiting authorisation, before any bank is asked,
// with payment.created in its outbox.
func newPayment(t tenant.Tenant, d Draft, now time.Time) Payment {
	id := ids.New(ids.Payment)
	e2e := d.EndToEndID
	if e2e == "" {
		e2e = id // 30 characters: within Max35Text, and unique for reconciliation
	}
	p := Payment{
		ID: id, Env: t.Env, OrgID: t.OrgID, Status: StatusAwaiting, Instant: d.Instant,
		Amount: money.FormatAmount(d.Amount), Currency: d.Currency, CreditorIBAN: d.CreditorIBAN, CreditorName: d.CreditorName,
		DebtorIBAN: d.DebtorIBAN, RemittanceInfo: d.RemittanceInfo, EndToEndID: e2e, ExecutionDate: d.ExecutionDate,
		CallbackURL: d.CallbackURL, AuthorizeBy: now.Add(authstate.TTL), CreatedAt: now, UpdatedAt: now,
		StatusHistory: []Change{{Status: StatusAwaiting, At: now}},
	}
	if d.Account != nil {
		p.AccountID, p.DebtorName = d.Account.ID, d.Account.OwnerName
	}
	_ = p.Enqueue(EventCreated, now) // the event data of a new payment always encodes
	return p
}

// atBank initiates payment p of draft d at d.Bank with the customer present at psuIP, and
// fills p's bank fields. A bank that refuses the payment outright answers the change that
// records it (refusal); any other bank failure is the API's error.
func (s *Service) atBank(ctx context.Context, p *Payment, d Draft, psuIP string, now time.Time) (verifier string, refusal *Change, err error) {
	conn, err := s.Connectors.For(p.Env, d.Bank.ID)
	if err != nil {
		return "", nil, err
	}
	state := bank.NewState()
	verifier, challenge := bank.NewPKCE()
	t := d.Transfer
	t.EndToEndID = p.EndToEndID // the draft's, or the one Tok made up
	started, bankErr := conn.InitiatePayment(ctx, bank.Session{PSUPresent: true, PSUIPAddress: psuIP},
		bank.PaymentRequest{Transfer: t, RedirectURI: s.callbackURI(), State: state, CodeChallenge: challenge})
	if bankErr != nil && bank.KindOf(bankErr) != bank.Rejected {
		if bank.KindOf(bankErr) == bank.Invalid {
			return "", nil, &httpapi.Error{Status: http.StatusBadRequest, Code: httpapi.CodeValidation, FromBank: true, Err: bankErr,
				Message: "The bank refused the payment as invalid; check the creditor and debtor accounts."}
		}
		return "", nil, connectors.APIError(bankErr)
	}
	p.BankID, p.Product, p.Instant, p.UpdatedAt = d.Bank.ID, d.Product, d.Product == bank.ProductInstantSEPA, now
	if bankErr != nil {
		// Refused at initiation (the bank knew the debtor account could not pay).
		reason := ReasonBankRejected
		var be *bank.Error
		if errors.As(bankErr, &be) && be.BankCode == "FUNDS_NOT_AVAILABLE" {
			reason = ReasonInsufficientFunds
		}
		p.RedirectURL, p.AuthorizeBy = "", time.Time{}
		return "", &Change{Status: StatusRejected, BankStatus: bank.PaymentRejected, Reason: reason}, nil
	}
	p.BankStatus, p.RedirectURL, p.BankPaymentID = started.Status, started.AuthorizeURL, started.BankPaymentID
	p.AuthorizeBy, p.StateHash = now.Add(authstate.TTL), authstate.Hash(state)
	if n := len(p.StatusHistory); n > 0 && p.StatusHistory[n-1].Status == StatusAwaiting {
		p.StatusHistory[n-1].BankStatus = started.Status
	}
	return verifier, nil, nil
}

// settle applies status change c to p with its events in the outbox.
func (p *Payment) settle(c Change, now time.Time) error {
	types, _ := p.Advance(c, now)
	for _, typ := range types {
		if err := p.Enqueue(typ, now); err != nil {
			return err
		}
	}
	return nil
}

// stateOf is the single-use state of payment p's SCA redirect, with its PKCE verifier sealed.
func (s *Service) stateOf(ctx context.Context, p Payment, verifier string) (authstate.State, error) {
	sealed, err := s.States.SealVerifier(ctx, p.ID, verifier)
	if err != nil {
		return authstate.State{}, err
	}
	return authstate.State{Env: p.Env, OrgID: p.OrgID, PaymentID: p.ID, Verifier: sealed, ExpiresAt: p.AuthorizeBy, CreatedAt: p.UpdatedAt}, nil
}

// ErrNotAwaiting is a callback for a payment that is no longer awaiting authorisation.
var ErrNotAwaiting = errors.New("payments: the payment is no longer awaiting authorisation")

// ErrCodeNotExchanged wraps the bank's refusal of a redirect's code (a code of another
// authorisation, expired, made up) or its failure to answer: nothing changed and the state
// was not taken.
var ErrCodeNotExchanged = errors.New("payments: the bank did not exchange the code")

// Authorise records the customer's SCA result from the bank's redirect (query, checked with
// bank.CheckRedirect) for the payment, refund or refund batch of a pending state, and
// returns where to send the browser: the callbackUrl with paymentId (refundId, batchId) and
// status (and statusReason unless authorised). take consumes the state; it is called only
// once the bank's answer fits (a denial, or a code the bank exchanged), so a redirect
// without one changes nothing. It asks the bank for the status at once and starts the
// poller.
func (s *Service) Authorise(ctx context.Context, st authstate.State, query url.Values, clientIP string, take func(context.Context) error) (string, error) {
	if isBatch(st.PaymentID) {
		return s.authoriseBatch(ctx, st, query, clientIP, take)
	}
	scope := store.For(s.Store.FS, st.Tenant())
	p, err := s.Store.Get(ctx, scope, st.PaymentID)
	if err != nil {
		return "", err
	}
	if p.Status != StatusAwaiting {
		return "", ErrNotAwaiting
	}
	c, tokens, err := s.scaResult(ctx, st, query, p.BankID, p.ExecutionDate != "", clientIP, take, func(conn bank.Connector, sess bank.Session) (bank.PaymentState, error) {
		return s.bankStatus(ctx, conn, sess, p)
	})
	if err != nil {
		return "", err
	}
	also, err := s.keepTokens(ctx, p.OrgID, p.ID, tokens)
	if err != nil {
		return "", err
	}
	if p, err = s.settle(ctx, scope, p.ID, c, also); err != nil {
		return "", err
	}
	return callbackRedirect(p)
}

// keepTokens seals the bank's tokens of an SCA, if it gave any, for payment id of orgID,
// and returns what stores them on the payment (nil without tokens).
func (s *Service) keepTokens(ctx context.Context, orgID, id string, tokens *bank.Tokens) (func(*Payment), error) {
	if tokens == nil {
		return nil, nil
	}
	sealed, err := s.Vault.Seal(ctx, TokensAAD(orgID, id), *tokens)
	if err != nil {
		return nil, err
	}
	return func(p *Payment) { p.Tokens, p.TokenExpiresAt = sealed, tokens.ExpiresAt.UTC() }, nil
}

// scaResult reads the bank's redirect after an SCA: the status change it calls for and,
// when the customer authorised, the tokens (the bank's status is asked at once, as the
// customer is present). The state is taken (take) once the answer fits.
func (s *Service) scaResult(ctx context.Context, st authstate.State, query url.Values, bankID string, futureDated bool, clientIP string,
	take func(context.Context) error, status func(bank.Connector, bank.Session) (bank.PaymentState, error)) (Change, *bank.Tokens, error) {
	if authErr := bank.AuthorizationError(query); authErr != nil {
		c := Change{Status: StatusFailed, Reason: ReasonAuthorizationFailed}
		switch bank.KindOf(authErr) {
		case bank.Rejected:
			c = Change{Status: StatusRejected, Reason: ReasonDeniedByUser}
		case bank.Unavailable:
			c.Reason = ReasonBankUnavailable
		}
		if err := take(ctx); err != nil {
			return Change{}, nil, err
		}
		slog.InfoContext(ctx, "payment not authorised at the bank", "paymentId", st.PaymentID, "status", c.Status, "error", authErr)
		return c, nil, nil
	}
	conn, err := s.Connectors.For(st.Env, bankID)
	if err != nil {
		return Change{}, nil, err
	}
	verifier, err := s.States.OpenVerifier(ctx, st)
	if err != nil {
		return Change{}, nil, err
	}
	tokens, err := conn.ExchangeCode(ctx, query.Get("code"), string(verifier), s.callbackURI())
	clear(verifier)
	if err != nil {
		slog.WarnContext(ctx, "payment code not exchanged; the payment is unchanged", "paymentId", st.PaymentID, "error", err)
		return Change{}, nil, fmt.Errorf("%w: %w", ErrCodeNotExchanged, err)
	}
	if err := take(ctx); err != nil {
		return Change{}, nil, err
	}
	c := FromBank(bank.PaymentState{Status: bank.PaymentReceived}, futureDated)
	sess := bank.Session{AccessToken: tokens.AccessToken, PSUPresent: true, PSUIPAddress: clientIP}
	if ps, err := status(conn, sess); err == nil {
		c = FromBank(ps, futureDated)
	} else {
		slog.WarnContext(ctx, "payment status after authorisation failed; the poller asks again", "paymentId", st.PaymentID, "error", err)
	}
	return c, &tokens, nil
}

// settle applies an authorisation's outcome and starts polling unless it is final.
func (s *Service) settle(ctx context.Context, scope store.Scope, id string, c Change, also func(*Payment)) (Payment, error) {
	var advanced bool
	p, err := s.Store.Advance(ctx, scope, id, c, func(p *Payment) {
		advanced = true
		if also != nil {
			also(p)
		}
		if !Final(p.Status) {
			next := s.now()
			p.PollActive, p.NextPollAt = true, &next
		}
	})
	if err != nil {
		return Payment{}, err
	}
	if !advanced {
		return Payment{}, ErrNotAwaiting // a concurrent callback or the sweep settled it first
	}
	if p.PollActive && s.Polls != nil {
		if err := s.Polls.Publish(ctx, PollRequest{Env: p.Env, OrgID: p.OrgID, PaymentID: p.ID}); err != nil {
			slog.ErrorContext(ctx, "payment poll not requested; the sweep picks the payment up", "paymentId", p.ID, "error", err)
		}
	}
	return p, nil
}

func callbackRedirect(p Payment) (string, error) {
	idParam := "paymentId"
	if p.IsRefund() {
		idParam = "refundId"
	}
	return CallbackRedirect(p.CallbackURL, idParam, p.ID, p.Status, p.StatusReason)
}

// CallbackRedirect is where the callback sends the customer after an SCA: callbackURL with
// the resource's ID (under idParam), its status and, when set, statusReason.
func CallbackRedirect(callbackURL, idParam, id, status, reason string) (string, error) {
	u, err := url.Parse(callbackURL)
	if err != nil {
		return "", fmt.Errorf("%s callback URL: %w", id, err)
	}
	q := u.Query()
	q.Set(idParam, id)
	q.Set("status", status)
	if reason != "" {
		q.Set("statusReason", reason)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// connect is p's bank and a session there (session) for a call about p.
func (s *Service) connect(ctx context.Context, scope store.Scope, p Payment) (bank.Connector, bank.Session, error) {
	return s.Connect(p.Env, p.BankID, func(conn bank.Connector) (bank.Session, error) { return s.session(ctx, scope, p, conn) })
}

// Connect is the connector of bankID in env and the session there that session opens.
func (s *Service) Connect(env, bankID string, session func(bank.Connector) (bank.Session, error)) (bank.Connector, bank.Session, error) {
	conn, err := s.Connectors.For(env, bankID)
	if err != nil {
		return nil, bank.Session{}, err
	}
	sess, err := session(conn)
	return conn, sess, err
}

// session is a bank session for a status or cancellation call (no PSU present), with the
// payment's tokens refreshed by the vault when they are about to expire. A payment never
// authorised has none: banks answer its status calls on the TPP's certificate.
func (s *Service) session(ctx context.Context, scope store.Scope, p Payment, conn bank.Connector) (bank.Session, error) {
	if len(p.Tokens) == 0 {
		return bank.Session{}, nil
	}
	t, err := tokenvault.FreshIn(ctx, s.Vault, ref(scope, p.ID), TokensAAD(p.OrgID, p.ID), p, conn.Refresh)
	if err != nil {
		return bank.Session{}, fmt.Errorf("payment %s: tokens: %w", p.ID, err)
	}
	return bank.Session{AccessToken: t.AccessToken}, nil
}

// CancelRefund cancels a refund awaiting the organisation's authorisation, at the bank and
// then at Tok (refund.cancelled); the transaction of that change gives its amount back to
// what is left to refund of its payment (Store.Update). A refund sent in a batch waits on
// the batch's SCA and is 409, as is any refund no longer awaiting authorisation.
func (s *Service) CancelRefund(ctx context.Context, scope store.Scope, id string) (Payment, error) {
	r, err := s.Store.Get(ctx, scope, id)
	if err == nil && !r.IsRefund() {
		err = ErrNotFound
	}
	if err != nil {
		return Payment{}, err
	}
	if st, _ := r.EffectiveStatus(s.now()); st != StatusAwaiting {
		return Payment{}, httpapi.Conflict("The refund is " + st + " and can no longer be cancelled; only refunds AWAITING_AUTHORIZATION can.")
	}
	if r.BatchID != "" {
		return Payment{}, httpapi.Conflict("The refund is sent in refund batch " + r.BatchID + ", whose authorisation covers it; it can no longer be cancelled on its own.")
	}
	return s.Cancel(ctx, scope, id)
}

// Cancel cancels a payment awaiting authorisation or scheduled, at the bank first; any
// other payment is 409 CONFLICT.
func (s *Service) Cancel(ctx context.Context, scope store.Scope, id string) (Payment, error) {
	p, err := s.Store.Get(ctx, scope, id)
	if err != nil {
		return Payment{}, err
	}
	now := s.now()
	st, _ := p.EffectiveStatus(now)
	if st != StatusAwaiting && st != StatusScheduled {
		return Payment{}, httpapi.Conflict("The payment is " + st + " and can no longer be cancelled; only AWAITING_AUTHORIZATION and SCHEDULED payments can.")
	}
	conn, sess, err := s.connect(ctx, scope, p)
	if err != nil {
		return Payment{}, err
	}
	if err := conn.CancelPayment(ctx, sess, p.Product, p.BankPaymentID); err != nil {
		if bank.KindOf(err) == bank.Invalid {
			return Payment{}, &httpapi.Error{Status: http.StatusConflict, Code: httpapi.CodeConflict, FromBank: true, Err: err,
				Message: "The bank no longer allows this payment to be cancelled."}
		}
		return Payment{}, connectors.APIError(err)
	}
	if p.StateHash != "" {
		// A late bank redirect for a cancelled payment must find no state.
		if err := s.States.Delete(ctx, p.StateHash); err != nil {
			slog.WarnContext(ctx, "state of a cancelled payment not deleted", "paymentId", p.ID, "error", err)
		}
	}
	return s.Store.Advance(ctx, scope, id, Change{Status: StatusCancelled, BankStatus: bank.PaymentCancelled, Reason: ReasonCancelledByRequest}, nil)
}
