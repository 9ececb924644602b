package sandboxbank

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/money"
)

// Payment products the sandbox banks accept.
var paymentProducts = map[string]bool{
	"sepa-credit-transfers": true, "instant-sepa-credit-transfers": true,
	"cross-border-credit-transfers": true, "domestic-credit-transfers": true,
	"target-2-payments": true,
}

// settleAfter is how long an authorised payment stays ACSP before it is ACSC.
const settleAfter = time.Minute

// paymentRecord is a single payment (sandboxbank/{bankId}/payments/{paymentId}).
type paymentRecord struct {
	ID           string    `firestore:"id"`
	Product      string    `firestore:"product"`
	Status       string    `firestore:"status"`
	Reason       string    `firestore:"reason"`
	Amount       string    `firestore:"amount"`
	Currency     string    `firestore:"currency"`
	DebtorIBAN   string    `firestore:"debtorIban"`
	CreditorIBAN string    `firestore:"creditorIban"`
	CreditorName string    `firestore:"creditorName"`
	Remittance   string    `firestore:"remittance"`
	EndToEndID   string    `firestore:"endToEndId"`
	RedirectURI  string    `firestore:"redirectUri"`
	Persona      string    `firestore:"persona"`
	Created      time.Time `firestore:"created"`
	Authorised   time.Time `firestore:"authorised"`
}

type accountRef struct {
	IBAN     string `json:"iban"`
	Currency string `json:"currency,omitempty"`
}

type amountRef struct {
	Currency string `json:"currency"`
	Amount   string `json:"amount"`
}

type paymentBody struct {
	EndToEndIdentification            string      `json:"endToEndIdentification"`
	DebtorAccount                     *accountRef `json:"debtorAccount"`
	InstructedAmount                  *amountRef  `json:"instructedAmount"`
	CreditorAccount                   *accountRef `json:"creditorAccount"`
	CreditorName                      string      `json:"creditorName"`
	RemittanceInformationUnstructured string      `json:"remittanceInformationUnstructured"`
}

func parseAmount(a *amountRef) (decimal.Decimal, bool) {
	if a == nil || len(a.Currency) != 3 {
		return decimal.Decimal{}, false
	}
	d, err := money.ParseAmount(a.Amount)
	return d, err == nil && d.IsPositive()
}

func (s *Server) initiatePayment(w http.ResponseWriter, r *http.Request, b bankInfo) {
	product := r.PathValue("product")
	if !paymentProducts[product] {
		tppError(w, 404, "PRODUCT_UNKNOWN", "This payment product is not offered.")
		return
	}
	if ip := r.Header.Get("PSU-IP-Address"); ip == "" || net.ParseIP(ip) == nil {
		tppError(w, 400, "FORMAT_ERROR", "PSU-IP-Address is mandatory for payment initiation.")
		return
	}
	var body paymentBody
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&body); err != nil {
		tppError(w, 400, "FORMAT_ERROR", "The body is not a valid payment initiation.")
		return
	}
	amount, ok := parseAmount(body.InstructedAmount)
	if !ok {
		tppError(w, 400, "FORMAT_ERROR", "instructedAmount needs a currency and a positive amount.")
		return
	}
	if body.CreditorAccount == nil || body.CreditorName == "" {
		tppError(w, 400, "FORMAT_ERROR", "creditorAccount and creditorName are mandatory.")
		return
	}
	creditor, err := money.ValidateIBAN(body.CreditorAccount.IBAN)
	if err != nil {
		tppError(w, 400, "FORMAT_ERROR", "creditorAccount.iban is not a valid IBAN.")
		return
	}
	redirect := r.Header.Get("TPP-Redirect-URI")
	if redirect != "" {
		if u, err := url.Parse(redirect); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			tppError(w, 400, "FORMAT_ERROR", "TPP-Redirect-URI must be an absolute http(s) URL.")
			return
		}
	}
	p := paymentRecord{
		ID: "pmt-" + randomToken(12), Product: product, Status: "RCVD",
		Amount: amount.StringFixed(2), Currency: body.InstructedAmount.Currency,
		CreditorIBAN: creditor, CreditorName: body.CreditorName,
		Remittance: body.RemittanceInformationUnstructured, EndToEndID: body.EndToEndIdentification,
		RedirectURI: redirect, Created: s.now(),
	}
	if body.DebtorAccount != nil && body.DebtorAccount.IBAN != "" {
		debtor, err := money.ValidateIBAN(body.DebtorAccount.IBAN)
		if err != nil {
			tppError(w, 400, "FORMAT_ERROR", "debtorAccount.iban is not a valid IBAN.")
			return
		}
		persona, _, known := ownerOfIBAN(b, debtor)
		if !known {
			tppError(w, 400, "FORMAT_ERROR", "debtorAccount is not an account of this bank.")
			return
		}
		p.DebtorIBAN = debtor
		if persona == PersonaBroke {
			// Known up front for a named debtor account: reject at initiation.
			tppError(w, 400, "PAYMENT_FAILED", "Insufficient funds on the debtor account.")
			return
		}
	}
	if err := s.opts.Store.Create(r.Context(), b.ID, kindPayments, p.ID, &p); err != nil {
		s.internal(w, err)
		return
	}
	self := bankPath(b) + "/v1/payments/" + product + "/" + p.ID
	w.Header().Set("Location", self)
	w.Header().Set("ASPSP-SCA-Approach", "REDIRECT")
	writeJSON(w, http.StatusCreated, map[string]any{
		"transactionStatus": p.Status,
		"paymentId":         p.ID,
		"_links": map[string]any{
			"scaOAuth": href(baseURL(r, b) + "/.well-known/oauth-authorization-server"),
			"self":     href(self),
			"status":   href(self + "/status"),
		},
	})
}

// checkPayment decides at authorisation whether the PSU's account can pay; it returns the
// rejection reason or "". It picks the debtor account when the TPP named none.
func (s *Server) checkPayment(b bankInfo, p *paymentRecord) string {
	accts := accountsOf(b, p.Persona)
	var from *account
	for i := range accts {
		a := &accts[i]
		if (p.DebtorIBAN != "" && a.IBAN == p.DebtorIBAN) || (p.DebtorIBAN == "" && a.Currency == p.Currency) {
			from = a
			break
		}
	}
	if from == nil {
		if p.DebtorIBAN != "" {
			return "The debtor account does not belong to the PSU."
		}
		return "The PSU has no account in " + p.Currency + "."
	}
	p.DebtorIBAN = from.IBAN
	_, available := balancesOf(b, p.Persona, *from, s.now())
	amount, _ := decimal.NewFromString(p.Amount)
	if p.Persona == PersonaBroke || available.LessThan(amount) {
		return "Insufficient funds."
	}
	return ""
}

func (s *Server) loadPayment(w http.ResponseWriter, r *http.Request, b bankInfo) (*paymentRecord, bool) {
	var p paymentRecord
	err := s.opts.Store.Get(r.Context(), b.ID, kindPayments, r.PathValue("paymentId"), &p)
	if errors.Is(err, ErrNotFound) || (err == nil && p.Product != r.PathValue("product")) {
		tppError(w, 403, "RESOURCE_UNKNOWN", "The payment is unknown.")
		return nil, false
	}
	if err != nil {
		s.internal(w, err)
		return nil, false
	}
	if p.Persona == PersonaSlow {
		if !sleepCtx(r.Context(), s.opts.SlowDelay) {
			return nil, false
		}
	}
	if p.Status == "ACSP" && s.now().Sub(p.Authorised) >= settleAfter {
		p.Status = "ACSC"
	}
	return &p, true
}

func (s *Server) paymentStatus(w http.ResponseWriter, r *http.Request, b bankInfo) {
	p, ok := s.loadPayment(w, r, b)
	if !ok {
		return
	}
	body := map[string]any{"transactionStatus": p.Status}
	if p.Status == "RJCT" && strings.Contains(p.Reason, "funds") {
		body["fundsAvailable"] = false
		body["psuMessage"] = p.Reason
	} else if p.Reason != "" {
		body["psuMessage"] = p.Reason
	}
	writeJSON(w, 200, body)
}

func (s *Server) getPayment(w http.ResponseWriter, r *http.Request, b bankInfo) {
	p, ok := s.loadPayment(w, r, b)
	if !ok {
		return
	}
	body := map[string]any{
		"transactionStatus":                 p.Status,
		"instructedAmount":                  map[string]string{"currency": p.Currency, "amount": p.Amount},
		"creditorAccount":                   map[string]string{"iban": p.CreditorIBAN},
		"creditorName":                      p.CreditorName,
		"remittanceInformationUnstructured": p.Remittance,
	}
	if p.DebtorIBAN != "" {
		body["debtorAccount"] = map[string]string{"iban": p.DebtorIBAN}
	}
	writeJSON(w, 200, body)
}

type fundsBody struct {
	Account          *accountRef `json:"account"`
	InstructedAmount *amountRef  `json:"instructedAmount"`
	Payee            string      `json:"payee"`
}

// fundsConfirmation answers whether the account covers the amount (PIIS). The TPP is
// trusted by its certificate, as in the standard; the account must be one of this bank's.
func (s *Server) fundsConfirmation(w http.ResponseWriter, r *http.Request, b bankInfo) {
	var body fundsBody
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10)).Decode(&body); err != nil || body.Account == nil {
		tppError(w, 400, "FORMAT_ERROR", "The body must have account and instructedAmount.")
		return
	}
	amount, ok := parseAmount(body.InstructedAmount)
	if !ok {
		tppError(w, 400, "FORMAT_ERROR", "instructedAmount needs a currency and a positive amount.")
		return
	}
	iban, err := money.ValidateIBAN(body.Account.IBAN)
	if err != nil {
		tppError(w, 400, "FORMAT_ERROR", "account.iban is not a valid IBAN.")
		return
	}
	persona, a, known := ownerOfIBAN(b, iban)
	if !known {
		tppError(w, 404, "RESOURCE_UNKNOWN", "The account is unknown.")
		return
	}
	switch persona {
	case PersonaDown:
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case PersonaSlow:
		if !sleepCtx(r.Context(), s.opts.SlowDelay) {
			return
		}
	}
	_, available := balancesOf(b, persona, a, s.now())
	fundsOK := persona != PersonaBroke && body.InstructedAmount.Currency == a.Currency && !available.LessThan(amount)
	writeJSON(w, 200, map[string]any{"fundsAvailable": fundsOK})
}
