// Package sandbox is the Sandbox function: controls that make the sandbox behave as a bank
// and a customer would, for testing an integration. Sandbox keys only: for a live key every
// route is 404 NOT_FOUND, as if it did not exist.
//
//	POST /v1/sandbox/consents/{id}/expire        developer; the bank reports the consent expired
//	POST /v1/sandbox/consents/{id}/revoke        developer; the customer revoked it at the bank
//	POST /v1/sandbox/vrp-consents/{id}/revoke    developer; the customer revoked the VRP mandate at the bank
//	POST /v1/sandbox/webhooks/fire               developer; {type}: an event of that type, sample data
//	POST /v1/sandbox/accounts/{id}/transactions  developer; books a transaction at the sandbox bank
//
// Expire and revoke end the consent exactly as a sync that meets the bank's answer does
// (connections.Service.EndAtBank): EXPIRED or REVOKED with revokedBy bank, data calls 403,
// the event published once. An added transaction is booked today at the sandbox bank, under
// the account's consent only, and reaches Tok with the next sync (a refresh, for instance),
// which also sees the changed balance. A VRP consent revoked at the bank becomes REVOKED
// with revokedBy bank as Tok's check of the mandate finds it (shared/vrp), and the bank
// refuses payments under it from then on.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"tokapi.io/tok/shared/auth"
	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/bank/berlingroup"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/connectors"
	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/money"
	"tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/vrp"
	"tokapi.io/tok/shared/webhooks"
)

func init() {
	platform.HTTP("Sandbox", platform.With(connections.FromEnv, handler))
}

func handler(conns *connections.Service) http.Handler {
	// The VRP service here only revokes mandates: it creates nothing, so it needs no
	// callback URL, callbackUrl check or poll topic.
	return NewHandler(&Server{Conns: conns, VRP: vrp.New(payments.ForConnections(conns, nil, nil, ""), nil)})
}

// Server holds the function's dependencies; Conns.Events publishes the fired events.
type Server struct {
	Conns *connections.Service
	VRP   *vrp.Service
	Now   func() time.Time
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// NewHandler returns the function's routes. Requests must carry an auth.Caller.
func NewHandler(s *Server) http.Handler {
	rt := httpapi.NewRouter()
	rt.Handle("POST /v1/sandbox/consents/{id}/expire", s.end(bank.ConsentExpired, "CONSENT_EXPIRED"))
	rt.Handle("POST /v1/sandbox/consents/{id}/revoke", s.end(bank.ConsentRevoked, "CONSENT_INVALID"))
	rt.Handle("POST /v1/sandbox/vrp-consents/{id}/revoke", s.revokeVRP)
	rt.Handle("POST /v1/sandbox/webhooks/fire", s.fire)
	rt.Handle("POST /v1/sandbox/accounts/{id}/transactions", s.addTransaction)
	return rt
}

// sandboxScope is the caller's data, for a sandbox developer key; a live key is 404, so
// these routes do not exist for it.
func (s *Server) sandboxScope(r *http.Request) (store.Scope, error) {
	c, err := auth.CallerFrom(r.Context())
	if err != nil {
		return store.Scope{}, err
	}
	if c.Tenant.Env != tenant.Sandbox {
		return store.Scope{}, httpapi.NotFound("The path " + r.URL.Path)
	}
	if err := auth.Require(r.Context(), auth.RoleDeveloper); err != nil {
		return store.Scope{}, err
	}
	return store.ForCaller(r.Context(), s.Conns.Repo.Client)
}

// ConsentChangeJSON answers expire and revoke.
type ConsentChangeJSON struct {
	ConsentID    string `json:"consentId"`
	ConnectionID string `json:"connectionId"`
	Status       string `json:"status"`
	RevokedBy    string `json:"revokedBy,omitempty"`
}

func (s *Server) end(kind bank.Kind, code string) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		scope, err := s.sandboxScope(r)
		if err != nil {
			return err
		}
		ctx := r.Context()
		c, err := s.Conns.Repo.GetConsent(ctx, scope, r.PathValue("id"))
		if errors.Is(err, connections.ErrNotFound) {
			return httpapi.NotFound("Consent " + r.PathValue("id"))
		}
		if err != nil {
			return err
		}
		cx, err := s.Conns.Repo.Get(ctx, scope, c.ConnectionID)
		if err != nil && !errors.Is(err, connections.ErrNotFound) {
			return err
		}
		if c.EffectiveStatus(s.now()) != connections.ConsentAuthorized || cx.ConsentID != c.ID || cx.Status != connections.StatusActive {
			return httpapi.Conflict("Only an AUTHORIZED consent, its connection's current one, can be ended at the bank; this one is " + c.EffectiveStatus(s.now()) + ".")
		}
		atBank := &bank.Error{Kind: kind, Status: http.StatusUnauthorized, BankCode: code, Message: "sandbox: " + strings.ToLower(kind.String()) + " at the bank"}
		if _, err := s.Conns.EndAtBank(ctx, scope, cx.ID, atBank); err != nil {
			return err
		}
		c, err = s.Conns.Repo.GetConsent(ctx, scope, c.ID)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, ConsentChangeJSON{ConsentID: c.ID, ConnectionID: c.ConnectionID, Status: c.Status, RevokedBy: c.RevokedBy})
		return nil
	}
}

// revokeVRP revokes a VRP consent's mandate at the sandbox bank, as the customer would.
func (s *Server) revokeVRP(w http.ResponseWriter, r *http.Request) error {
	scope, err := s.sandboxScope(r)
	if err != nil {
		return err
	}
	c, err := s.VRP.RevokeAtSandboxBank(r.Context(), scope, r.PathValue("id"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, vrp.View(c, s.now()))
	return nil
}

type fireRequest struct {
	Type *string `json:"type"`
}

// fire publishes an event of any type with sample data, to every endpoint of the
// organisation's sandbox subscribed to it (and to the event log), as Tok would.
func (s *Server) fire(w http.ResponseWriter, r *http.Request) error {
	scope, err := s.sandboxScope(r)
	if err != nil {
		return err
	}
	var in fireRequest
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	types := fireable()
	if in.Type == nil || !webhooks.KnownEventType(*in.Type) || *in.Type == webhooks.EventPing {
		return httpapi.InvalidField("type", "must be one of "+strings.Join(types, ", "))
	}
	now := s.now()
	ev, err := events.New(*in.Type, sample(*in.Type, now), now)
	if err != nil {
		return err
	}
	if s.Conns.Events == nil {
		return errors.New("no event publisher configured")
	}
	if err := s.Conns.Events.Publish(r.Context(), scope.Tenant(), ev); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusAccepted, ev)
	return nil
}

// fireable lists the event types fire accepts: all but webhook.ping, which goes to one
// endpoint (POST /v1/webhooks/{id}/test).
func fireable() []string {
	out := make([]string, 0, len(webhooks.EventTypes))
	for _, t := range webhooks.EventTypes {
		if t != webhooks.EventPing {
			out = append(out, t)
		}
	}
	return out
}

// sample is the data of a fired event: the shape of the type's real events, with fresh IDs
// that name nothing in the organisation's data.
func sample(typ string, now time.Time) map[string]any {
	family, rest, _ := strings.Cut(typ, ".")
	connectionID := ids.New(connections.PrefixConnection)
	switch family {
	case "consent":
		return map[string]any{"consentId": ids.New(ids.Consent), "bankId": "sandbox-rs", "status": strings.ToUpper(rest),
			"connectionId": connectionID, "validUntil": now.AddDate(0, 0, 180), "reason": "sandbox"}
	case "transactions":
		return map[string]any{"accountId": ids.New(ids.Account), "connectionId": connectionID, "transactionIds": []string{ids.New(ids.Transaction)}}
	case "account":
		return map[string]any{"accountId": ids.New(ids.Account), "connectionId": connectionID,
			"balances": []map[string]string{{"type": "interimAvailable", "amount": "1234.5600", "currency": "RSD"}}}
	case "payment", "refund":
		status := map[string]string{"created": "AWAITING_AUTHORIZATION", "authorized": "PENDING", "reconciled": "COMPLETED"}[rest]
		if status == "" {
			status = strings.ToUpper(rest)
		}
		data := map[string]any{"paymentId": ids.New(ids.Payment), "status": status, "amount": "1500.0000", "currency": "RSD", "endToEndId": "SANDBOX"}
		if family == "refund" {
			data["refundId"] = ids.New(ids.Refund)
		} else {
			data["bankId"] = "sandbox-rs"
		}
		return data
	}
	// sync.*
	return map[string]any{"connectionId": connectionID, "consentId": ids.New(ids.Consent), "bankId": "sandbox-rs", "reason": "sandbox",
		"attended": false, "accounts": 1, "created": 1, "updated": 0, "removed": 0, "lastSyncAt": now, "nextSyncAt": now.Add(8 * time.Hour)}
}

type addTransactionRequest struct {
	Amount           *string `json:"amount"`
	Direction        *string `json:"direction"`
	CounterpartyName *string `json:"counterpartyName"`
	RemittanceInfo   *string `json:"remittanceInfo"`
}

// AddedTransactionJSON answers an added transaction.
type AddedTransactionJSON struct {
	AccountID   string `json:"accountId"`
	ExternalID  string `json:"externalId"`
	Amount      string `json:"amount"`
	Currency    string `json:"currency"`
	Direction   string `json:"direction"`
	BookingDate string `json:"bookingDate"`
}

// addTransaction books a transaction at the sandbox bank on the account, under its consent.
func (s *Server) addTransaction(w http.ResponseWriter, r *http.Request) error {
	scope, err := s.sandboxScope(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var in addTransactionRequest
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	a, cx, err := s.Conns.Repo.ReadableAccount(ctx, scope, r.PathValue("id"), s.now())
	if err != nil {
		return err
	}
	if in.Amount == nil {
		return httpapi.InvalidField("amount", "is required")
	}
	amount, err := money.ParseAmount(*in.Amount)
	if err == nil {
		cur, ok := money.LookupCurrency(a.Currency)
		if !ok {
			return fmt.Errorf("account %s: unknown currency %s", a.ID, a.Currency)
		}
		err = money.ValidateAmountForCurrency(amount, cur)
	}
	if err != nil {
		return httpapi.InvalidField("amount", strings.TrimPrefix(err.Error(), money.ErrInvalidAmount.Error()+": "))
	}
	direction := "inbound"
	if in.Direction != nil {
		direction = *in.Direction
	}
	if direction != "inbound" && direction != "outbound" {
		return httpapi.InvalidField("direction", "must be inbound or outbound")
	}
	signed := amount
	if direction == "outbound" {
		signed = amount.Neg()
	}
	t := berlingroup.SandboxTransaction{Amount: signed, Counterparty: deref(in.CounterpartyName), Remittance: deref(in.RemittanceInfo)}
	if len([]rune(t.Counterparty)) > 70 || len([]rune(t.Remittance)) > 140 {
		return httpapi.Validation("counterpartyName is at most 70 characters, remittanceInfo 140.")
	}
	sess, conn, err := s.Conns.Session(ctx, scope, cx.ID, nil)
	if err != nil {
		return connectors.APIError(s.Conns.HandleBankError(ctx, scope, cx.ID, err))
	}
	sb, ok := conn.(interface {
		AddSandboxTransaction(context.Context, bank.Session, string, berlingroup.SandboxTransaction) (string, error)
	})
	if !ok {
		return httpapi.Conflict("The account's bank is not the sandbox bank.")
	}
	id, err := sb.AddSandboxTransaction(ctx, sess, a.ResourceID, t)
	if err != nil {
		return connectors.APIError(s.Conns.HandleBankError(ctx, scope, cx.ID, err))
	}
	httpapi.WriteJSON(w, http.StatusCreated, AddedTransactionJSON{AccountID: a.ID, ExternalID: id, Amount: money.FormatAmount(amount),
		Currency: a.Currency, Direction: direction, BookingDate: s.now().Format(time.DateOnly)})
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return strings.TrimSpace(*s)
}
