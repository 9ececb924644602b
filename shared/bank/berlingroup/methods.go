package berlingroup

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/money"
)

type href struct {
	Href string `json:"href"`
}

type amountJSON struct {
	Currency string `json:"currency"`
	Amount   string `json:"amount"`
}

type accountRef struct {
	IBAN     string `json:"iban,omitempty"`
	Currency string `json:"currency,omitempty"`
}

// bgAmount renders an amount for the bank: the standard allows at most 3 decimals.
func bgAmount(d decimal.Decimal) string { return d.Round(2).StringFixed(2) }

// parseBGAmount reads a signed Berlin Group amount into a positive amount and a direction.
func parseBGAmount(s string) (decimal.Decimal, string, error) {
	dir := bank.DirectionInbound
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		s, dir = rest, bank.DirectionOutbound
	}
	d, err := money.ParseAmount(s)
	if err != nil {
		return decimal.Decimal{}, "", err
	}
	return d, dir, nil
}

func garbage(what string) error {
	return &bank.Error{Kind: bank.Unavailable, Message: "the bank's answer has an invalid " + what}
}

func (c *Client) psuIP(s bank.Session) string {
	if s.PSUPresent {
		return s.PSUIPAddress
	}
	return ""
}

func (c *Client) authorizeURL(scope, redirectURI, state, challenge string) string {
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {c.clientID},
		"redirect_uri":          {redirectURI},
		"scope":                 {scope},
		"state":                 {state},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
	sep := "?"
	if strings.Contains(c.cfg.AuthorizeURL, "?") {
		sep = "&"
	}
	return c.cfg.AuthorizeURL + sep + q.Encode()
}

// CreateConsent posts a bank-offered consent (POST /v1/consents) and returns the OAuth2
// authorization URL with scope AIS:<consentId>.
func (c *Client) CreateConsent(ctx context.Context, req bank.ConsentRequest) (bank.ConsentStart, error) {
	if req.RedirectURI == "" || req.CodeChallenge == "" || req.State == "" {
		return bank.ConsentStart{}, &bank.Error{Kind: bank.Invalid, Message: "redirect URI, state and code challenge are required"}
	}
	now := c.cfg.Now().UTC()
	until := req.ValidUntil
	if max := now.AddDate(0, 0, c.cfg.MaxConsentDays); until.IsZero() || until.After(max) {
		until = max
	}
	freq := req.FrequencyPerDay
	if freq <= 0 || freq > c.cfg.FrequencyPerDay {
		freq = c.cfg.FrequencyPerDay
	}
	access := map[string]any{}
	wants := func(s string) bool { return slices.Contains(req.Access, s) }
	switch {
	case wants(bank.AccessBalances) && wants(bank.AccessTransactions):
		access["allPsd2"] = "allAccounts"
	default:
		// A bank-offered consent: the PSU picks the accounts at the bank.
		access["accounts"] = []any{}
		if wants(bank.AccessBalances) {
			access["balances"] = []any{}
		}
		if wants(bank.AccessTransactions) {
			access["transactions"] = []any{}
		}
	}
	body := map[string]any{
		"access":                   access,
		"recurringIndicator":       true,
		"validUntil":               until.Format(time.DateOnly),
		"frequencyPerDay":          freq,
		"combinedServiceIndicator": false,
	}
	psuIP := ""
	if req.PSUPresent {
		psuIP = req.PSUIPAddress
	}
	var out struct {
		ConsentID     string `json:"consentId"`
		ConsentStatus string `json:"consentStatus"`
	}
	err := c.do(ctx, call{method: http.MethodPost, path: "/v1/consents", route: "/v1/consents", body: body,
		psuIP: psuIP, redirectURI: req.RedirectURI}, &out)
	if err != nil {
		return bank.ConsentStart{}, err
	}
	if out.ConsentID == "" {
		return bank.ConsentStart{}, garbage("consent (no consentId)")
	}
	return bank.ConsentStart{
		BankConsentID: out.ConsentID,
		AuthorizeURL:  c.authorizeURL("AIS:"+out.ConsentID, req.RedirectURI, req.State, req.CodeChallenge),
		ValidUntil:    until,
	}, nil
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

func (c *Client) tokenCall(ctx context.Context, form url.Values) (bank.Tokens, error) {
	var out tokenResponse
	err := c.do(ctx, call{method: http.MethodPost, path: c.cfg.TokenURL, route: "oauth/token", form: form, basicAuth: true}, &out)
	if err != nil {
		return bank.Tokens{}, err
	}
	if out.AccessToken == "" || !strings.EqualFold(out.TokenType, "bearer") {
		return bank.Tokens{}, garbage("token response")
	}
	t := bank.Tokens{AccessToken: out.AccessToken, RefreshToken: out.RefreshToken}
	if out.ExpiresIn > 0 {
		t.ExpiresAt = c.cfg.Now().Add(time.Duration(out.ExpiresIn) * time.Second)
	}
	return t, nil
}

// ExchangeCode redeems an authorization code with its PKCE verifier (never retried: a
// code is single-use).
func (c *Client) ExchangeCode(ctx context.Context, code, codeVerifier, redirectURI string) (bank.Tokens, error) {
	if _, err := c.setup(ctx); err != nil {
		return bank.Tokens{}, err
	}
	return c.tokenCall(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"code_verifier": {codeVerifier}, "redirect_uri": {redirectURI}, "client_id": {c.clientID}})
}

// Refresh exchanges a refresh token. The bank rotates refresh tokens: keep the new one.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (bank.Tokens, error) {
	if _, err := c.setup(ctx); err != nil {
		return bank.Tokens{}, err
	}
	t, err := c.tokenCall(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}, "client_id": {c.clientID}})
	if err == nil && t.RefreshToken == "" {
		t.RefreshToken = refreshToken // a bank that does not rotate
	}
	return t, err
}

// ConsentStatus returns the Berlin Group status of the consent.
func (c *Client) ConsentStatus(ctx context.Context, s bank.Session) (string, error) {
	var out struct {
		ConsentStatus string `json:"consentStatus"`
	}
	err := c.do(ctx, call{method: http.MethodGet, path: "/v1/consents/" + url.PathEscape(s.BankConsentID) + "/status",
		route: "/v1/consents/{consentId}/status", session: &bank.Session{AccessToken: s.AccessToken}, psuIP: c.psuIP(s)}, &out)
	if err != nil {
		return "", err
	}
	if out.ConsentStatus == "" {
		return "", garbage("consent status")
	}
	return out.ConsentStatus, nil
}

// DeleteConsent terminates the consent (DELETE /v1/consents/{id}). A consent the bank no
// longer knows counts as deleted.
func (c *Client) DeleteConsent(ctx context.Context, s bank.Session) error {
	err := c.do(ctx, call{method: http.MethodDelete, path: "/v1/consents/" + url.PathEscape(s.BankConsentID),
		route: "/v1/consents/{consentId}", session: &bank.Session{AccessToken: s.AccessToken}, psuIP: c.psuIP(s)}, nil)
	var be *bank.Error
	if errors.As(err, &be) && be.BankCode == "CONSENT_UNKNOWN" {
		return nil
	}
	return err
}

// ais runs a data call and refines CONSENT_INVALID into revoked or expired.
func (c *Client) ais(ctx context.Context, s bank.Session, path, route string, out any) error {
	err := c.do(ctx, call{method: http.MethodGet, path: path, route: route, session: &s, psuIP: c.psuIP(s)}, out)
	var be *bank.Error
	if errors.As(err, &be) && be.BankCode == "CONSENT_INVALID" {
		if st, serr := c.ConsentStatus(ctx, s); serr == nil {
			switch st {
			case bank.ConsentRevokedByPSU, bank.ConsentTerminatedByTPP:
				be.Kind, be.Message = bank.ConsentRevoked, messages[bank.ConsentRevoked]
			}
		}
	}
	return err
}

type accountJSON struct {
	ResourceID string `json:"resourceId"`
	IBAN       string `json:"iban"`
	Currency   string `json:"currency"`
	Name       string `json:"name"`
	Product    string `json:"product"`
	OwnerName  string `json:"ownerName"`
}

// Accounts lists the consent's accounts.
func (c *Client) Accounts(ctx context.Context, s bank.Session) ([]bank.Account, error) {
	var out struct {
		Accounts *[]accountJSON `json:"accounts"`
	}
	if err := c.ais(ctx, s, "/v1/accounts", "/v1/accounts", &out); err != nil {
		return nil, err
	}
	if out.Accounts == nil {
		return nil, garbage("account list")
	}
	list := make([]bank.Account, 0, len(*out.Accounts))
	for _, a := range *out.Accounts {
		if a.ResourceID == "" || a.Currency == "" {
			return nil, garbage("account")
		}
		list = append(list, bank.Account{ResourceID: a.ResourceID, IBAN: a.IBAN, Currency: a.Currency,
			Name: a.Name, Product: a.Product, OwnerName: a.OwnerName})
	}
	return list, nil
}

// Balances returns an account's balances.
func (c *Client) Balances(ctx context.Context, s bank.Session, accountID string) ([]bank.Balance, error) {
	var out struct {
		Balances *[]struct {
			BalanceType   string     `json:"balanceType"`
			BalanceAmount amountJSON `json:"balanceAmount"`
			ReferenceDate string     `json:"referenceDate"`
		} `json:"balances"`
	}
	if err := c.ais(ctx, s, "/v1/accounts/"+url.PathEscape(accountID)+"/balances", "/v1/accounts/{accountId}/balances", &out); err != nil {
		return nil, err
	}
	if out.Balances == nil {
		return nil, garbage("balance list")
	}
	list := make([]bank.Balance, 0, len(*out.Balances))
	for _, b := range *out.Balances {
		neg := strings.HasPrefix(b.BalanceAmount.Amount, "-")
		d, _, err := parseBGAmount(b.BalanceAmount.Amount)
		if err != nil || b.BalanceType == "" {
			return nil, garbage("balance")
		}
		if neg {
			d = d.Neg() // balances keep their sign
		}
		list = append(list, bank.Balance{Type: b.BalanceType, Amount: d, Currency: b.BalanceAmount.Currency, ReferenceDate: b.ReferenceDate})
	}
	return list, nil
}

type txnJSON struct {
	TransactionID     string      `json:"transactionId"`
	EntryReference    string      `json:"entryReference"`
	EndToEndID        string      `json:"endToEndId"`
	BookingDate       string      `json:"bookingDate"`
	ValueDate         string      `json:"valueDate"`
	TransactionAmount *amountJSON `json:"transactionAmount"`
	CreditorName      string      `json:"creditorName"`
	CreditorAccount   *accountRef `json:"creditorAccount"`
	DebtorName        string      `json:"debtorName"`
	DebtorAccount     *accountRef `json:"debtorAccount"`
	Remittance        string      `json:"remittanceInformationUnstructured"`
	Additional        *struct {
		StandingOrderDetails struct {
			StartDate      string `json:"startDate"`
			EndDate        string `json:"endDate"`
			Frequency      string `json:"frequency"`
			DayOfExecution string `json:"dayOfExecution"`
		} `json:"standingOrderDetails"`
	} `json:"additionalInformationStructured"`
}

type txnPage struct {
	Transactions *struct {
		Booked      []txnJSON `json:"booked"`
		Pending     []txnJSON `json:"pending"`
		Information []txnJSON `json:"information"`
		Links       struct {
			Next *href `json:"next"`
		} `json:"_links"`
	} `json:"transactions"`
}

func convertTxn(t txnJSON, status string) (bank.Transaction, error) {
	if t.TransactionAmount == nil {
		return bank.Transaction{}, garbage("transaction")
	}
	d, dir, err := parseBGAmount(t.TransactionAmount.Amount)
	if err != nil || (t.TransactionID == "" && t.EntryReference == "") {
		return bank.Transaction{}, garbage("transaction")
	}
	out := bank.Transaction{
		BankTransactionID: t.TransactionID, EntryReference: t.EntryReference, Status: status,
		BookingDate: t.BookingDate, ValueDate: t.ValueDate, Amount: d, Direction: dir,
		Currency: t.TransactionAmount.Currency, CreditorName: t.CreditorName, DebtorName: t.DebtorName,
		RemittanceInfo: t.Remittance, EndToEndID: t.EndToEndID,
	}
	if out.BankTransactionID == "" {
		out.BankTransactionID = t.EntryReference
	}
	if t.CreditorAccount != nil {
		out.CreditorIBAN = t.CreditorAccount.IBAN
	}
	if t.DebtorAccount != nil {
		out.DebtorIBAN = t.DebtorAccount.IBAN
	}
	return out, nil
}

// maxPages guards against a bank whose next links never end.
const maxPages = 10000

// Transactions streams every page of an account's transactions, following _links.next.
func (c *Client) Transactions(ctx context.Context, s bank.Session, accountID string, q bank.TransactionQuery, page func([]bank.Transaction) error) error {
	status := q.Status
	if status == "" {
		status = bank.StatusBoth
	}
	v := url.Values{"bookingStatus": {status}}
	if !q.DateFrom.IsZero() {
		v.Set("dateFrom", q.DateFrom.UTC().Format(time.DateOnly))
	} else {
		v.Set("dateFrom", c.cfg.Now().UTC().AddDate(0, 0, -90).Format(time.DateOnly))
	}
	if !q.DateTo.IsZero() {
		v.Set("dateTo", q.DateTo.UTC().Format(time.DateOnly))
	}
	if c.cfg.ItemsPerPage > 0 {
		v.Set("itemsPerPage", strconv.Itoa(c.cfg.ItemsPerPage))
	}
	next := "/v1/accounts/" + url.PathEscape(accountID) + "/transactions?" + v.Encode()
	base, _ := url.Parse(c.cfg.BaseURL)
	for n := 0; next != ""; n++ {
		if n >= maxPages {
			return garbage("paging (too many pages)")
		}
		var out txnPage
		if err := c.ais(ctx, s, next, "/v1/accounts/{accountId}/transactions", &out); err != nil {
			return err
		}
		if out.Transactions == nil {
			return garbage("transaction report")
		}
		list := make([]bank.Transaction, 0, len(out.Transactions.Booked)+len(out.Transactions.Pending))
		for _, t := range out.Transactions.Booked {
			x, err := convertTxn(t, bank.StatusBooked)
			if err != nil {
				return err
			}
			list = append(list, x)
		}
		for _, t := range out.Transactions.Pending {
			x, err := convertTxn(t, bank.StatusPending)
			if err != nil {
				return err
			}
			list = append(list, x)
		}
		if len(list) > 0 {
			if err := page(list); err != nil {
				return err
			}
		}
		next = ""
		if l := out.Transactions.Links.Next; l != nil && l.Href != "" {
			u, err := url.Parse(l.Href)
			if err != nil {
				return garbage("next link")
			}
			abs := base.ResolveReference(u)
			if abs.Host != base.Host {
				return garbage("next link (other host)")
			}
			next = abs.String()
		}
	}
	return nil
}

// StandingOrders lists standing orders (bookingStatus=information), where the bank offers them.
func (c *Client) StandingOrders(ctx context.Context, s bank.Session, accountID string) ([]bank.StandingOrder, error) {
	if !c.cfg.StandingOrders {
		return nil, bank.ErrNotSupported
	}
	var out txnPage
	path := "/v1/accounts/" + url.PathEscape(accountID) + "/transactions?bookingStatus=information"
	if err := c.ais(ctx, s, path, "/v1/accounts/{accountId}/transactions", &out); err != nil {
		return nil, err
	}
	if out.Transactions == nil {
		return nil, garbage("transaction report")
	}
	list := []bank.StandingOrder{}
	for _, t := range out.Transactions.Information {
		if t.TransactionAmount == nil || t.Additional == nil {
			return nil, garbage("standing order")
		}
		d, _, err := parseBGAmount(t.TransactionAmount.Amount)
		if err != nil {
			return nil, garbage("standing order")
		}
		so := bank.StandingOrder{ID: t.TransactionID, Amount: d, Currency: t.TransactionAmount.Currency,
			CreditorName: t.CreditorName, RemittanceInfo: t.Remittance,
			Frequency: t.Additional.StandingOrderDetails.Frequency, DayOfExecution: t.Additional.StandingOrderDetails.DayOfExecution,
			StartDate: t.Additional.StandingOrderDetails.StartDate, EndDate: t.Additional.StandingOrderDetails.EndDate}
		if t.CreditorAccount != nil {
			so.CreditorIBAN = t.CreditorAccount.IBAN
		}
		list = append(list, so)
	}
	return list, nil
}

// InitiatePayment posts a single payment (POST /v1/payments/{product}; never retried) and
// returns the OAuth2 authorization URL with scope PIS:<paymentId>.
func (c *Client) InitiatePayment(ctx context.Context, s bank.Session, req bank.PaymentRequest) (bank.PaymentStart, error) {
	if req.Product == "" {
		req.Product = bank.ProductSEPA
	}
	if err := c.checkInitiation(req.Product, req.RedirectURI, req.State, req.CodeChallenge); err != nil {
		return bank.PaymentStart{}, err
	}
	if !req.Amount.IsPositive() {
		return bank.PaymentStart{}, &bank.Error{Kind: bank.Invalid, Message: "the amount must be positive"}
	}
	body := paymentJSON(req)
	if req.DebtorIBAN != "" {
		body["debtorAccount"] = accountRef{IBAN: req.DebtorIBAN}
	}
	if req.ExecutionDate != "" {
		body["requestedExecutionDate"] = req.ExecutionDate
	}
	return c.initiate(ctx, s, "/v1/payments/", req.Product, body, req.RedirectURI, req.State, req.CodeChallenge)
}

// InitiateBulkPayment posts a bulk payment (POST /v1/bulk-payments/{product}; never
// retried), booked one by one, with one authorization URL for all.
func (c *Client) InitiateBulkPayment(ctx context.Context, s bank.Session, req bank.BulkPaymentRequest) (bank.PaymentStart, error) {
	if !c.cfg.BulkPayments {
		return bank.PaymentStart{}, bank.ErrNotSupported
	}
	if err := c.checkInitiation(req.Product, req.RedirectURI, req.State, req.CodeChallenge); err != nil {
		return bank.PaymentStart{}, err
	}
	if req.DebtorIBAN == "" || len(req.Payments) == 0 {
		return bank.PaymentStart{}, &bank.Error{Kind: bank.Invalid, Message: "a bulk payment needs a debtor account and payments"}
	}
	list := make([]map[string]any, 0, len(req.Payments))
	for _, p := range req.Payments {
		if !p.Amount.IsPositive() {
			return bank.PaymentStart{}, &bank.Error{Kind: bank.Invalid, Message: "every amount must be positive"}
		}
		list = append(list, paymentJSON(p))
	}
	body := map[string]any{"batchBookingPreferred": false, "debtorAccount": accountRef{IBAN: req.DebtorIBAN}, "payments": list}
	return c.initiate(ctx, s, "/v1/bulk-payments/", req.Product, body, req.RedirectURI, req.State, req.CodeChallenge)
}

func (c *Client) checkInitiation(product, redirectURI, state, challenge string) error {
	if len(c.cfg.PaymentProducts) > 0 && !slices.Contains(c.cfg.PaymentProducts, product) {
		return &bank.Error{Kind: bank.NotSupported, Message: "the bank does not offer this payment product"}
	}
	if redirectURI == "" || challenge == "" || state == "" {
		return &bank.Error{Kind: bank.Invalid, Message: "redirect URI, state and code challenge are required"}
	}
	return nil
}

// paymentJSON is one payment's Berlin Group body (without debtor and date).
func paymentJSON(req bank.PaymentRequest) map[string]any {
	body := map[string]any{
		"instructedAmount": amountJSON{Currency: req.Currency, Amount: bgAmount(req.Amount)},
		"creditorAccount":  accountRef{IBAN: req.CreditorIBAN},
		"creditorName":     req.CreditorName,
	}
	addReferences(body, req.RemittanceInfo, req.EndToEndID)
	return body
}

// addReferences adds to a payment body its remittance information and end-to-end ID, each
// only when set.
func addReferences(body map[string]any, remittanceInfo, endToEndID string) {
	if remittanceInfo != "" {
		body["remittanceInformationUnstructured"] = remittanceInfo
	}
	if endToEndID != "" {
		body["endToEndIdentification"] = endToEndID
	}
}

// initiate posts a payment initiation of the service (prefix) and product.
func (c *Client) initiate(ctx context.Context, s bank.Session, prefix, product string, body map[string]any, redirectURI, state, challenge string) (bank.PaymentStart, error) {
	var out struct {
		PaymentID         string `json:"paymentId"`
		TransactionStatus string `json:"transactionStatus"`
	}
	ip := s.PSUIPAddress // a payment is always initiated with the PSU present
	err := c.do(ctx, call{method: http.MethodPost, path: prefix + url.PathEscape(product),
		route: prefix + "{product}", body: body, session: &bank.Session{AccessToken: s.AccessToken},
		psuIP: ip, redirectURI: redirectURI}, &out)
	if err != nil {
		return bank.PaymentStart{}, err
	}
	if out.PaymentID == "" || out.TransactionStatus == "" {
		return bank.PaymentStart{}, garbage("payment initiation")
	}
	return bank.PaymentStart{BankPaymentID: out.PaymentID, Status: out.TransactionStatus,
		AuthorizeURL: c.authorizeURL("PIS:"+out.PaymentID, redirectURI, state, challenge)}, nil
}

// PaymentStatus returns a payment's ISO 20022 status and, where the bank tells,
// fundsAvailable.
func (c *Client) PaymentStatus(ctx context.Context, s bank.Session, product, paymentID string) (bank.PaymentState, error) {
	return c.status(ctx, s, "/v1/payments/", product, paymentID)
}

// BulkPaymentStatus is PaymentStatus of a bulk payment.
func (c *Client) BulkPaymentStatus(ctx context.Context, s bank.Session, product, paymentID string) (bank.PaymentState, error) {
	return c.status(ctx, s, "/v1/bulk-payments/", product, paymentID)
}

func (c *Client) status(ctx context.Context, s bank.Session, prefix, product, paymentID string) (bank.PaymentState, error) {
	var out struct {
		TransactionStatus string `json:"transactionStatus"`
		FundsAvailable    *bool  `json:"fundsAvailable"`
	}
	err := c.do(ctx, call{method: http.MethodGet, path: prefix + url.PathEscape(product) + "/" + url.PathEscape(paymentID) + "/status",
		route: prefix + "{product}/{paymentId}/status", session: &bank.Session{AccessToken: s.AccessToken}, psuIP: c.psuIP(s)}, &out)
	if err != nil {
		return bank.PaymentState{}, err
	}
	if out.TransactionStatus == "" {
		return bank.PaymentState{}, garbage("payment status")
	}
	return bank.PaymentState{Status: out.TransactionStatus, FundsAvailable: out.FundsAvailable}, nil
}

// Payment reads an initiated payment: its status and the debtor account with the holder's
// name, where the bank tells them.
func (c *Client) Payment(ctx context.Context, s bank.Session, product, paymentID string) (bank.PaymentInfo, error) {
	var out struct {
		TransactionStatus string      `json:"transactionStatus"`
		DebtorAccount     *accountRef `json:"debtorAccount"`
		DebtorName        string      `json:"debtorName"`
	}
	err := c.do(ctx, call{method: http.MethodGet, path: paymentPath(product, paymentID),
		route: "/v1/payments/{product}/{paymentId}", session: &bank.Session{AccessToken: s.AccessToken}, psuIP: c.psuIP(s)}, &out)
	if err != nil {
		return bank.PaymentInfo{}, err
	}
	info := bank.PaymentInfo{Status: out.TransactionStatus, DebtorName: out.DebtorName}
	if out.DebtorAccount != nil && out.DebtorAccount.IBAN != "" {
		iban, err := money.ValidateIBAN(out.DebtorAccount.IBAN)
		if err != nil {
			return bank.PaymentInfo{}, garbage("payment debtor account")
		}
		info.DebtorIBAN = iban
	}
	return info, nil
}

// CancelPayment cancels a payment (DELETE /v1/payments/{product}/{paymentId}; never
// retried). A bank that answers with an authorisation to start is treated as refusing: Tok
// cancels only what needs no second SCA.
func (c *Client) CancelPayment(ctx context.Context, s bank.Session, product, paymentID string) error {
	var out struct {
		TransactionStatus string `json:"transactionStatus"`
	}
	err := c.do(ctx, call{method: http.MethodDelete, path: paymentPath(product, paymentID),
		route: "/v1/payments/{product}/{paymentId}", session: &bank.Session{AccessToken: s.AccessToken}, psuIP: c.psuIP(s)}, &out)
	if err != nil {
		return err
	}
	if out.TransactionStatus != "" && out.TransactionStatus != bank.PaymentCancelled {
		return &bank.Error{Kind: bank.Invalid, Message: "the bank asks for an authorisation of the cancellation"}
	}
	return nil
}

func paymentPath(product, paymentID string) string {
	return "/v1/payments/" + url.PathEscape(product) + "/" + url.PathEscape(paymentID)
}

// ConfirmFunds asks whether the account covers the amount (POST /v1/funds-confirmations).
func (c *Client) ConfirmFunds(ctx context.Context, s bank.Session, q bank.FundsQuery) (bool, error) {
	body := map[string]any{
		"account":          accountRef{IBAN: q.IBAN},
		"instructedAmount": amountJSON{Currency: q.Currency, Amount: bgAmount(q.Amount)},
	}
	if q.Payee != "" {
		body["payee"] = q.Payee
	}
	var out struct {
		FundsAvailable *bool `json:"fundsAvailable"`
	}
	sess := &bank.Session{AccessToken: s.AccessToken, BankConsentID: s.BankConsentID}
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/funds-confirmations", route: "/v1/funds-confirmations",
		body: body, session: sess, psuIP: c.psuIP(s)}, &out); err != nil {
		return false, err
	}
	return fundsAnswer(out.FundsAvailable)
}

// fundsAnswer is a funds confirmation's fundsAvailable, which a well-formed answer has.
func fundsAnswer(available *bool) (bool, error) {
	if available == nil {
		return false, garbage("funds confirmation")
	}
	return *available, nil
}
