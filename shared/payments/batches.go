package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/authstate"
	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/callbackurl"
	"tokapi.io/tok/shared/connectors"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/money"
	"tokapi.io/tok/shared/store"
)

// BatchesCollection holds the refund batches under the tenant.
const BatchesCollection = "refundBatches"

// MaxBatchRefunds bounds the refunds of one batch (one bulk payment at the bank).
const MaxBatchRefunds = 100

// Batch statuses: the batch only tells how its SCA went; each refund keeps its own status.
const (
	BatchAwaiting   = "AWAITING_AUTHORIZATION"
	BatchAuthorized = "AUTHORIZED"
	BatchRejected   = "REJECTED"
	BatchFailed     = "FAILED"
)

// Batch is refunds from one account sent to the bank as one Berlin Group bulk payment, so
// the organisation authorises them with one SCA.
type Batch struct {
	ID            string    `firestore:"id"`
	Env           string    `firestore:"env"`
	OrgID         string    `firestore:"orgId"`
	Status        string    `firestore:"status"`
	RefundIDs     []string  `firestore:"refundIds"`
	AccountID     string    `firestore:"accountId"`
	BankID        string    `firestore:"bankId"`
	Product       string    `firestore:"product"`
	Amount        string    `firestore:"amount"`
	Currency      string    `firestore:"currency"`
	BankPaymentID string    `firestore:"bankPaymentId"`
	RedirectURL   string    `firestore:"redirectUrl"`
	CallbackURL   string    `firestore:"callbackUrl"`
	StateHash     string    `firestore:"stateHash"`
	AuthorizeBy   time.Time `firestore:"authorizeBy"`
	CreatedAt     time.Time `firestore:"createdAt"`
	UpdatedAt     time.Time `firestore:"updatedAt"`
}

// BatchRequest is the body of POST /v1/refund-batches.
type BatchRequest struct {
	RefundIDs   []string `json:"refundIds"`
	CallbackURL string   `json:"callbackUrl"`
}

// BatchJSON is the API's refund batch.
type BatchJSON struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	RefundIDs   []string  `json:"refundIds"`
	AccountID   string    `json:"accountId"`
	BankID      string    `json:"bankId"`
	Amount      string    `json:"amount"`
	Currency    string    `json:"currency"`
	RedirectURL *string   `json:"redirectUrl"`
	CallbackURL string    `json:"callbackUrl"`
	AuthorizeBy time.Time `json:"authorizeBy"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// BatchView is b as the API shows it.
func BatchView(b Batch) BatchJSON {
	out := BatchJSON{ID: b.ID, Status: b.Status, RefundIDs: b.RefundIDs, AccountID: b.AccountID, BankID: b.BankID,
		Amount: b.Amount, Currency: b.Currency, CallbackURL: b.CallbackURL, AuthorizeBy: b.AuthorizeBy, CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt}
	if b.Status == BatchAwaiting {
		out.RedirectURL = httpapi.Optional(b.RedirectURL)
	}
	return out
}

func batchRef(scope store.Scope, id string) *firestore.DocumentRef {
	return scope.Collection(BatchesCollection).Doc(id)
}

// GetBatch returns a refund batch of the scope's tenant.
func (s *Store) GetBatch(ctx context.Context, scope store.Scope, id string) (Batch, error) {
	return store.GetID[Batch](ctx, scope.Collection(BatchesCollection), ids.RefundBatch, id, "batch", ErrNotFound)
}

// checkBatch loads the refunds of req: each the tenant's, awaiting authorisation, in no
// other batch, all from one account in one currency and product.
func (s *Service) checkBatch(ctx context.Context, scope store.Scope, req BatchRequest) ([]Payment, error) {
	if len(req.RefundIDs) == 0 || len(req.RefundIDs) > MaxBatchRefunds {
		return nil, httpapi.InvalidField("refundIds", fmt.Sprintf("must list 1 to %d refunds", MaxBatchRefunds))
	}
	now := s.now()
	var out []Payment
	for i, id := range req.RefundIDs {
		if slices.Contains(req.RefundIDs[:i], id) {
			return nil, httpapi.InvalidField("refundIds", "lists "+id+" twice")
		}
		if !ids.Valid(ids.Refund, id) {
			return nil, httpapi.InvalidField("refundIds", "holds "+id+", which is not a refund ID (rfd_…)")
		}
		r, err := s.Store.Get(ctx, scope, id)
		if errors.Is(err, ErrNotFound) {
			return nil, httpapi.NotFound("Refund " + id)
		}
		if err != nil {
			return nil, err
		}
		if st, _ := r.EffectiveStatus(now); st != StatusAwaiting || r.BatchID != "" {
			return nil, httpapi.Conflict("Refund " + id + " is " + st + " or already in a batch; only refunds awaiting authorisation can be batched.")
		}
		if len(out) > 0 && (r.AccountID != out[0].AccountID || r.Currency != out[0].Currency || r.Product != out[0].Product) {
			return nil, httpapi.InvalidField("refundIds", "must be refunds from one account in one currency ("+id+" differs)")
		}
		out = append(out, r)
	}
	return out, nil
}

// CreateBatch sends refunds awaiting authorisation to their bank as one bulk payment and
// records the batch with its SCA redirect; each refund then follows the bulk payment's
// status. The refunds' single payments at the bank are cancelled (best effort: they expire
// unauthorised otherwise).
func (s *Service) CreateBatch(ctx context.Context, scope store.Scope, req BatchRequest, clientIP string) (Batch, error) {
	refunds, err := s.checkBatch(ctx, scope, req)
	if err != nil {
		return Batch{}, err
	}
	first := refunds[0]
	callbackURL := req.CallbackURL
	if callbackURL == "" {
		callbackURL = first.CallbackURL
	} else if err := checkCallback(ctx, s.Validator, scope, callbackURL); err != nil {
		return Batch{}, err
	}
	conn, err := s.Connectors.For(scope.Tenant().Env, first.BankID)
	if err != nil {
		return Batch{}, err
	}
	legs := make([]bank.PaymentRequest, 0, len(refunds))
	total := amountOf("")
	for _, r := range refunds {
		legs = append(legs, bank.PaymentRequest{Transfer: r.transfer()}) // the bulk's product, debtor and date apply
		total = total.Add(amountOf(r.Amount))
	}
	state := bank.NewState()
	verifier, challenge := bank.NewPKCE()
	started, err := conn.InitiateBulkPayment(ctx, bank.Session{PSUPresent: true, PSUIPAddress: clientIP}, bank.BulkPaymentRequest{
		Product: first.Product, DebtorIBAN: first.DebtorIBAN, Payments: legs,
		RedirectURI: s.callbackURI(), State: state, CodeChallenge: challenge})
	switch {
	case bank.KindOf(err) == bank.NotSupported:
		return Batch{}, httpapi.Conflict("The bank of the refunds' account does not offer bulk payments; authorise each refund at its redirectUrl.")
	case bank.KindOf(err) == bank.Invalid || bank.KindOf(err) == bank.Rejected:
		return Batch{}, &httpapi.Error{Status: http.StatusConflict, Code: httpapi.CodeConflict, FromBank: true, Err: err,
			Message: "The bank refused the bulk payment; authorise each refund at its redirectUrl."}
	case err != nil:
		return Batch{}, connectors.APIError(err)
	}
	now := s.now()
	b := Batch{ID: ids.New(ids.RefundBatch), Env: first.Env, OrgID: first.OrgID, Status: BatchAwaiting, RefundIDs: req.RefundIDs,
		AccountID: first.AccountID, BankID: first.BankID, Product: first.Product, Amount: money.FormatAmount(total), Currency: first.Currency,
		BankPaymentID: started.BankPaymentID, RedirectURL: started.AuthorizeURL, CallbackURL: callbackURL,
		StateHash: authstate.Hash(state), AuthorizeBy: now.Add(authstate.TTL), CreatedAt: now, UpdatedAt: now}
	sealed, err := s.States.SealVerifier(ctx, b.ID, verifier)
	if err != nil {
		return Batch{}, err
	}
	var singles []Payment
	err = s.Store.FS.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		singles = singles[:0]
		list := make([]Payment, len(refunds))
		for i, r := range refunds {
			if err := getTx(tx, scope, r.ID, &list[i]); err != nil {
				return err
			}
			if list[i].Status != StatusAwaiting || list[i].BatchID != "" {
				return httpapi.Conflict("Refund " + r.ID + " changed meanwhile; it is no longer awaiting authorisation alone.")
			}
		}
		for _, r := range list {
			singles = append(singles, r)
			r.BatchID, r.Bulk, r.BankPaymentID, r.RedirectURL, r.StateHash = b.ID, true, b.BankPaymentID, b.RedirectURL, ""
			r.AuthorizeBy, r.UpdatedAt = b.AuthorizeBy, now
			if err := tx.Set(ref(scope, r.ID), r); err != nil {
				return err
			}
		}
		if err := tx.Create(batchRef(scope, b.ID), b); err != nil {
			return err
		}
		return s.States.Create(tx, b.StateHash, authstate.State{Env: b.Env, OrgID: b.OrgID, PaymentID: b.ID, Verifier: sealed,
			ExpiresAt: b.AuthorizeBy, CreatedAt: now})
	})
	if err != nil {
		var he *httpapi.Error
		if errors.As(err, &he) {
			return Batch{}, he
		}
		return Batch{}, fmt.Errorf("record refund batch: %w", err)
	}
	for _, r := range singles {
		if r.StateHash != "" {
			if err := s.States.Delete(ctx, r.StateHash); err != nil {
				slog.WarnContext(ctx, "state of a batched refund not deleted", "refundId", r.ID, "error", err)
			}
		}
		if r.BankPaymentID != "" {
			if err := conn.CancelPayment(ctx, bank.Session{}, r.Product, r.BankPaymentID); err != nil {
				slog.WarnContext(ctx, "single payment of a batched refund not cancelled; it expires unauthorised", "refundId", r.ID, "error", err)
			}
		}
	}
	slog.InfoContext(ctx, "refund batch initiated", "batchId", b.ID, "refunds", len(b.RefundIDs), "bankId", b.BankID)
	return b, nil
}

// checkCallback checks a callback URL as payments do: on the organisation's allowed origins.
func checkCallback(ctx context.Context, v *Validator, scope store.Scope, raw string) error {
	return callbackurl.Check(ctx, v.Orgs, scope.Tenant(), "callbackUrl", raw)
}

// authoriseBatch records the organisation's SCA of a refund batch for each of its refunds
// (with the batch's tokens, sealed for each) and returns the batch's callback redirect.
func (s *Service) authoriseBatch(ctx context.Context, st authstate.State, query url.Values, clientIP string, take func(context.Context) error) (string, error) {
	scope := store.For(s.Store.FS, st.Tenant())
	b, err := s.Store.GetBatch(ctx, scope, st.PaymentID)
	if err != nil {
		return "", err
	}
	if b.Status != BatchAwaiting {
		return "", ErrNotAwaiting
	}
	c, tokens, err := s.scaResult(ctx, st, query, b.BankID, false, clientIP, take, func(conn bank.Connector, sess bank.Session) (bank.PaymentState, error) {
		return conn.BulkPaymentStatus(ctx, sess, b.Product, b.BankPaymentID)
	})
	if err != nil {
		return "", err
	}
	for _, id := range b.RefundIDs {
		also, err := s.keepTokens(ctx, b.OrgID, id, tokens)
		if err != nil {
			return "", err
		}
		if _, err := s.settle(ctx, scope, id, c, also); err != nil && !errors.Is(err, ErrNotAwaiting) {
			return "", err
		}
	}
	b.Status = BatchAuthorized
	switch c.Status {
	case StatusRejected:
		b.Status = BatchRejected
	case StatusFailed:
		b.Status = BatchFailed
	}
	b.UpdatedAt = s.now()
	if _, err := batchRef(scope, b.ID).Update(ctx, []firestore.Update{{Path: "status", Value: b.Status}, {Path: "updatedAt", Value: b.UpdatedAt}}); err != nil {
		return "", fmt.Errorf("record batch %s: %w", b.ID, err)
	}
	u, err := url.Parse(b.CallbackURL)
	if err != nil {
		return "", fmt.Errorf("batch %s callback URL: %w", b.ID, err)
	}
	q := u.Query()
	q.Set("batchId", b.ID)
	q.Set("status", b.Status)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// isBatch reports whether a state names a refund batch.
func isBatch(id string) bool { return strings.HasPrefix(id, ids.RefundBatch+"_") }
