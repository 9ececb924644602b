package berlingroup

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/bank"
)

// The VRP mandate service of a bank that offers it (Config.VRP), in Berlin Group style:
//
//	POST   /v1/vrp-mandates                                   mandate with controlParameters; SCA with scope VRP:<mandateId>
//	GET    /v1/vrp-mandates/{mandateId}/status
//	DELETE /v1/vrp-mandates/{mandateId}
//	POST   /v1/vrp-mandates/{mandateId}/payments              X-Idempotency-Key; no PSU present
//	GET    /v1/vrp-mandates/{mandateId}/payments/{paymentId}/status
//	POST   /v1/vrp-mandates/{mandateId}/funds-confirmations

type periodicLimitJSON struct {
	Amount          amountJSON `json:"maximumAmount"`
	PeriodType      string     `json:"periodType"`
	PeriodAlignment string     `json:"periodAlignment"`
}

func (c *Client) vrpSupported() error {
	if !c.cfg.VRP {
		return bank.ErrNotSupported
	}
	return nil
}

func mandatePath(id string) string { return "/v1/vrp-mandates/" + url.PathEscape(id) }

// CreateMandate posts a mandate with its control parameters and returns the OAuth2
// authorization URL with scope VRP:<mandateId>.
func (c *Client) CreateMandate(ctx context.Context, req bank.MandateRequest) (bank.ConsentStart, error) {
	if err := c.vrpSupported(); err != nil {
		return bank.ConsentStart{}, err
	}
	if req.RedirectURI == "" || req.CodeChallenge == "" || req.State == "" || !req.MaximumIndividual.IsPositive() {
		return bank.ConsentStart{}, &bank.Error{Kind: bank.Invalid, Message: "maximum amount, redirect URI, state and code challenge are required"}
	}
	limits := make([]periodicLimitJSON, 0, len(req.PeriodicLimits))
	for _, l := range req.PeriodicLimits {
		limits = append(limits, periodicLimitJSON{Amount: amountJSON{Currency: req.Currency, Amount: bgAmount(l.MaximumAmount)},
			PeriodType: l.PeriodType, PeriodAlignment: l.Alignment})
	}
	params := map[string]any{
		"maximumIndividualAmount": amountJSON{Currency: req.Currency, Amount: bgAmount(req.MaximumIndividual)},
		"periodicLimits":          limits,
		"validFromDateTime":       req.ValidFrom.UTC().Format(time.RFC3339),
		"timeZone":                req.TimeZone,
	}
	if req.MinimumIndividual.IsPositive() {
		params["minimumIndividualAmount"] = amountJSON{Currency: req.Currency, Amount: bgAmount(req.MinimumIndividual)}
	}
	if req.MaximumOccurrences > 0 {
		params["maximumOccurrences"] = req.MaximumOccurrences
	}
	if !req.ValidTo.IsZero() {
		params["validToDateTime"] = req.ValidTo.UTC().Format(time.RFC3339)
	}
	body := map[string]any{
		"creditorAccount":   accountRef{IBAN: req.CreditorIBAN},
		"creditorName":      req.CreditorName,
		"controlParameters": params,
		"vrpType":           req.VRPType,
	}
	if req.DebtorIBAN != "" {
		body["debtorAccount"] = accountRef{IBAN: req.DebtorIBAN}
	}
	if req.RemittanceInfo != "" {
		body["remittanceInformationUnstructured"] = req.RemittanceInfo
	}
	var out struct {
		MandateID     string `json:"mandateId"`
		MandateStatus string `json:"mandateStatus"`
	}
	err := c.do(ctx, call{method: http.MethodPost, path: "/v1/vrp-mandates", route: "/v1/vrp-mandates", body: body,
		session: &bank.Session{}, psuIP: req.PSUIPAddress, redirectURI: req.RedirectURI}, &out)
	if err != nil {
		return bank.ConsentStart{}, err
	}
	if out.MandateID == "" || out.MandateStatus == "" {
		return bank.ConsentStart{}, garbage("mandate")
	}
	return bank.ConsentStart{BankConsentID: out.MandateID, ValidUntil: req.ValidTo,
		AuthorizeURL: c.authorizeURL("VRP:"+out.MandateID, req.RedirectURI, req.State, req.CodeChallenge)}, nil
}

// MandateStatus returns the mandate's status.
func (c *Client) MandateStatus(ctx context.Context, s bank.Session) (string, error) {
	if err := c.vrpSupported(); err != nil {
		return "", err
	}
	var out struct {
		MandateStatus string `json:"mandateStatus"`
	}
	if err := c.do(ctx, call{method: http.MethodGet, path: mandatePath(s.BankConsentID) + "/status", route: "/v1/vrp-mandates/{mandateId}/status",
		session: &bank.Session{AccessToken: s.AccessToken}}, &out); err != nil {
		return "", err
	}
	if out.MandateStatus == "" {
		return "", garbage("mandate status")
	}
	return out.MandateStatus, nil
}

// RevokeMandate ends the mandate at the bank (never retried; a mandate already ended is
// no error).
func (c *Client) RevokeMandate(ctx context.Context, s bank.Session) error {
	if err := c.vrpSupported(); err != nil {
		return err
	}
	err := c.do(ctx, call{method: http.MethodDelete, path: mandatePath(s.BankConsentID), route: "/v1/vrp-mandates/{mandateId}",
		session: &bank.Session{AccessToken: s.AccessToken}}, nil)
	if k := bank.KindOf(err); k == bank.ConsentRevoked || k == bank.ConsentExpired {
		return nil
	}
	return err
}

// InitiateVRP pays under the mandate. The request carries X-Idempotency-Key, so it is
// retried on a timeout like a GET: the bank answers a repeat with the payment it has.
func (c *Client) InitiateVRP(ctx context.Context, s bank.Session, req bank.VRPRequest) (bank.VRPStart, error) {
	if err := c.vrpSupported(); err != nil {
		return bank.VRPStart{}, err
	}
	if req.IdempotencyKey == "" || !req.Amount.IsPositive() {
		return bank.VRPStart{}, &bank.Error{Kind: bank.Invalid, Message: "an idempotency key and a positive amount are required"}
	}
	body := map[string]any{"instructedAmount": amountJSON{Currency: req.Currency, Amount: bgAmount(req.Amount)}}
	addReferences(body, req.RemittanceInfo, req.EndToEndID)
	var out struct {
		PaymentID         string `json:"paymentId"`
		TransactionStatus string `json:"transactionStatus"`
		FundsAvailable    *bool  `json:"fundsAvailable"`
	}
	err := c.do(ctx, call{method: http.MethodPost, path: mandatePath(s.BankConsentID) + "/payments", route: "/v1/vrp-mandates/{mandateId}/payments",
		body: body, session: &bank.Session{AccessToken: s.AccessToken}, idempotencyKey: req.IdempotencyKey}, &out)
	if err != nil {
		return bank.VRPStart{}, err
	}
	if out.PaymentID == "" || out.TransactionStatus == "" {
		return bank.VRPStart{}, garbage("VRP initiation")
	}
	return bank.VRPStart{BankPaymentID: out.PaymentID, State: bank.PaymentState{Status: out.TransactionStatus, FundsAvailable: out.FundsAvailable}}, nil
}

// VRPStatus returns the ISO 20022 status of a payment under the mandate.
func (c *Client) VRPStatus(ctx context.Context, s bank.Session, paymentID string) (bank.PaymentState, error) {
	if err := c.vrpSupported(); err != nil {
		return bank.PaymentState{}, err
	}
	var out struct {
		TransactionStatus string `json:"transactionStatus"`
		FundsAvailable    *bool  `json:"fundsAvailable"`
	}
	err := c.do(ctx, call{method: http.MethodGet, path: mandatePath(s.BankConsentID) + "/payments/" + url.PathEscape(paymentID) + "/status",
		route: "/v1/vrp-mandates/{mandateId}/payments/{paymentId}/status", session: &bank.Session{AccessToken: s.AccessToken}}, &out)
	if err != nil {
		return bank.PaymentState{}, err
	}
	if out.TransactionStatus == "" {
		return bank.PaymentState{}, garbage("VRP status")
	}
	return bank.PaymentState{Status: out.TransactionStatus, FundsAvailable: out.FundsAvailable}, nil
}

// ConfirmVRPFunds asks whether the mandate's account covers the amount.
func (c *Client) ConfirmVRPFunds(ctx context.Context, s bank.Session, amount decimal.Decimal, currency string) (bool, error) {
	if err := c.vrpSupported(); err != nil {
		return false, err
	}
	var out struct {
		FundsAvailable *bool `json:"fundsAvailable"`
	}
	err := c.do(ctx, call{method: http.MethodPost, path: mandatePath(s.BankConsentID) + "/funds-confirmations", route: "/v1/vrp-mandates/{mandateId}/funds-confirmations",
		body: map[string]any{"instructedAmount": amountJSON{Currency: currency, Amount: bgAmount(amount)}}, session: &bank.Session{AccessToken: s.AccessToken}}, &out)
	if err != nil {
		return false, err
	}
	return fundsAnswer(out.FundsAvailable)
}
