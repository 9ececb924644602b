package sandboxbank

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/money"
	"tokapi.io/tok/shared/random"
)

// Payment products the sandbox banks accept.
var paymentProducts = map[string]bool{
	"sepa-credit-transfers": true, "instant-sepa-credit-transfers": true,
	"cross-border-credit-transfers": true, "domestic-credit-transfers": true,
	"target-2-payments": true,
}

// paymentRecord is a single payment (sandboxbank/{bankId}/payments/{paymentId}).
type paymentRecord struct {
	ID         string `firestore:"id"`
	Product    string `firestore:"product"`
	Status     string `firestore:"status"`
	Reason     string `firestore:"reason"`
	Amount     string `firestore:"amount"`
	Currency   string `firestore:"currency"`
	DebtorIBAN string `firestore:"debtorIban"`
	// DebtorName is the account holder's name, known once the PSU chose the account at SCA.
	DebtorName   string `firestore:"debtorName"`
	CreditorIBAN string `firestore:"creditorIban"`
	CreditorName string `firestore:"creditorName"`
	Remittance   string `firestore:"remittance"`
	EndToEndID   string `firestore:"endToEndId"`
	// ExecutionDate (YYYY-MM-DD) of a future-dated payment: ACCP after SCA, ACSC from that
	// day on (the bank's clock).
	ExecutionDate string `firestore:"executionDate"`
	RedirectURI   string `firestore:"redirectUri"`
	// Service is "bulk-payments" for a bulk payment, whose Items are its payments (Amount
	// their total); "" for a single payment.
	Service    string     `firestore:"service"`
	Items      []bulkItem `firestore:"items"`
	Persona    string     `firestore:"persona"`
	Created    time.Time  `firestore:"created"`
	Authorised time.Time  `firestore:"authorised"`
}

// bulkItem is one payment of a bulk payment.
type bulkItem struct {
	Amount       string `firestore:"amount"`
	CreditorIBAN string `firestore:"creditorIban"`
	CreditorName string `firestore:"creditorName"`
	Remittance   string `firestore:"remittance"`
	EndToEndID   string `firestore:"endToEndId"`
}

// legs are the payments a record books: its items, or itself.
func (p paymentRecord) legs() []bulkItem {
	if p.Service == serviceBulk {
		return p.Items
	}
	return []bulkItem{{Amount: p.Amount, CreditorIBAN: p.CreditorIBAN, CreditorName: p.CreditorName, Remittance: p.Remittance, EndToEndID: p.EndToEndID}}
}

const serviceBulk = "bulk-payments"

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
	RequestedExecutionDate            string      `json:"requestedExecutionDate"`
}

// instructedAmount is the amount a body instructs; one without a currency or a positive
// amount is 400 FORMAT_ERROR.
func instructedAmount(w http.ResponseWriter, a *amountRef) (decimal.Decimal, bool) {
	amount, ok := parseAmount(a)
	if !ok {
		tppError(w, 400, "FORMAT_ERROR", "instructedAmount needs a currency and a positive amount.")
	}
	return amount, ok
}

func parseAmount(a *amountRef) (decimal.Decimal, bool) {
	if a == nil || len(a.Currency) != 3 {
		return decimal.Decimal{}, false
	}
	d, err := money.ParseAmount(a.Amount)
	return d, err == nil && d.IsPositive()
}

// checkInitiation checks what every payment initiation needs: a known product, the PSU's
// IP address and a well-formed redirect URI (returned with the product).
func checkInitiation(w http.ResponseWriter, r *http.Request) (product, redirect string, ok bool) {
	product = r.PathValue("product")
	if !paymentProducts[product] {
		tppError(w, 404, "PRODUCT_UNKNOWN", "This payment product is not offered.")
		return "", "", false
	}
	if ip := r.Header.Get("PSU-IP-Address"); ip == "" || net.ParseIP(ip) == nil {
		tppError(w, 400, "FORMAT_ERROR", "PSU-IP-Address is mandatory for payment initiation.")
		return "", "", false
	}
	if redirect, ok = redirectURI(w, r); !ok {
		return "", "", false
	}
	return product, redirect, true
}

// checkLeg checks one payment's amount and creditor.
func checkLeg(w http.ResponseWriter, body paymentBody, product string) (bulkItem, decimal.Decimal, bool) {
	amount, ok := instructedAmount(w, body.InstructedAmount)
	if !ok {
		return bulkItem{}, decimal.Decimal{}, false
	}
	// The Berlin Group products require the creditor's name; the bank-defined domestic
	// scheme does not.
	if body.CreditorAccount == nil || (body.CreditorName == "" && product != "domestic-credit-transfers") {
		tppError(w, 400, "FORMAT_ERROR", "creditorAccount and creditorName are mandatory.")
		return bulkItem{}, decimal.Decimal{}, false
	}
	creditor, err := money.ValidateIBAN(body.CreditorAccount.IBAN)
	if err != nil {
		tppError(w, 400, "FORMAT_ERROR", "creditorAccount.iban is not a valid IBAN.")
		return bulkItem{}, decimal.Decimal{}, false
	}
	return bulkItem{Amount: amount.StringFixed(2), CreditorIBAN: creditor, CreditorName: body.CreditorName,
		Remittance: body.RemittanceInformationUnstructured, EndToEndID: body.EndToEndIdentification}, amount, true
}

// checkDebtor checks a named debtor account: an account of this bank; the broke persona's
// is known up front not to cover any payment.
func checkDebtor(w http.ResponseWriter, b bankInfo, ref *accountRef) (string, bool) {
	debtor, err := money.ValidateIBAN(ref.IBAN)
	if err != nil {
		tppError(w, 400, "FORMAT_ERROR", "debtorAccount.iban is not a valid IBAN.")
		return "", false
	}
	persona, _, known := ownerOfIBAN(b, debtor)
	if !known {
		tppError(w, 400, "FORMAT_ERROR", "debtorAccount is not an account of this bank.")
		return "", false
	}
	if persona == PersonaBroke {
		tppError(w, 400, "FUNDS_NOT_AVAILABLE", "Insufficient funds on the debtor account.")
		return "", false
	}
	return debtor, true
}

func (s *Server) initiatePayment(w http.ResponseWriter, r *http.Request, b bankInfo) {
	product, redirect, ok := checkInitiation(w, r)
	if !ok {
		return
	}
	var body paymentBody
	if !decodeBody(w, r, 64<<10, &body, "The body is not a valid payment initiation.", nil) {
		return
	}
	leg, _, ok := checkLeg(w, body, product)
	if !ok {
		return
	}
	if d := body.RequestedExecutionDate; d != "" {
		day, err := time.Parse(time.DateOnly, d)
		if err != nil || day.Before(truncDay(s.now())) {
			tppError(w, 400, "EXECUTION_DATE_INVALID", "requestedExecutionDate must be a date (YYYY-MM-DD), today or later.")
			return
		}
	}
	p := paymentRecord{
		ID: "pmt-" + random.Token(12), Product: product, Status: "RCVD",
		Amount: leg.Amount, Currency: body.InstructedAmount.Currency,
		CreditorIBAN: leg.CreditorIBAN, CreditorName: leg.CreditorName, Remittance: leg.Remittance, EndToEndID: leg.EndToEndID,
		ExecutionDate: body.RequestedExecutionDate, RedirectURI: redirect, Created: s.now(),
	}
	if body.DebtorAccount != nil && body.DebtorAccount.IBAN != "" {
		if p.DebtorIBAN, ok = checkDebtor(w, b, body.DebtorAccount); !ok {
			return
		}
	}
	s.initiated(w, r, b, p)
}

// maxBulkPayments bounds the payments of one bulk payment.
const maxBulkPayments = 100

// initiateBulk takes a bulk payment: payments in one currency from one named debtor
// account, authorised with one SCA and booked one by one.
func (s *Server) initiateBulk(w http.ResponseWriter, r *http.Request, b bankInfo) {
	product, redirect, ok := checkInitiation(w, r)
	if !ok {
		return
	}
	var body struct {
		BatchBookingPreferred bool          `json:"batchBookingPreferred"`
		DebtorAccount         *accountRef   `json:"debtorAccount"`
		Payments              []paymentBody `json:"payments"`
	}
	if !decodeBody(w, r, 1<<20, &body, "The body is not a valid bulk payment initiation.", nil) {
		return
	}
	if body.DebtorAccount == nil || len(body.Payments) == 0 || len(body.Payments) > maxBulkPayments {
		tppError(w, 400, "FORMAT_ERROR", fmt.Sprintf("A bulk payment needs debtorAccount and 1 to %d payments.", maxBulkPayments))
		return
	}
	p := paymentRecord{ID: "blk-" + random.Token(12), Product: product, Service: serviceBulk, Status: "RCVD", RedirectURI: redirect, Created: s.now()}
	total := decimal.Zero
	for _, pb := range body.Payments {
		leg, amount, ok := checkLeg(w, pb, product)
		if !ok {
			return
		}
		if p.Currency == "" {
			p.Currency = pb.InstructedAmount.Currency
		} else if pb.InstructedAmount.Currency != p.Currency {
			tppError(w, 400, "FORMAT_ERROR", "The payments of a bulk payment must be in one currency.")
			return
		}
		total = total.Add(amount)
		p.Items = append(p.Items, leg)
	}
	p.Amount = total.StringFixed(2)
	if p.DebtorIBAN, ok = checkDebtor(w, b, body.DebtorAccount); !ok {
		return
	}
	s.initiated(w, r, b, p)
}

// initiated stores a new payment awaiting SCA and answers with its links.
func (s *Server) initiated(w http.ResponseWriter, r *http.Request, b bankInfo, p paymentRecord) {
	service := "payments"
	if p.Service != "" {
		service = p.Service
	}
	self := bankPath(b) + "/v1/" + service + "/" + p.Product + "/" + p.ID
	s.createAwaitingSCA(w, r, b, kindPayments, p.ID, &p, self, map[string]any{"transactionStatus": p.Status, "paymentId": p.ID})
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
	p.DebtorIBAN, p.DebtorName = from.IBAN, from.Owner
	_, available := balancesOf(b, p.Persona, *from, s.now())
	amount, _ := decimal.NewFromString(p.Amount)
	if p.Persona == PersonaBroke || available.LessThan(amount) {
		return "Insufficient funds."
	}
	return ""
}

// serviceOf is the payment service of a request's path: serviceBulk or "" (payments).
func serviceOf(r *http.Request) string {
	if strings.Contains(r.URL.Path, "/v1/"+serviceBulk+"/") {
		return serviceBulk
	}
	return ""
}

func (s *Server) loadPayment(w http.ResponseWriter, r *http.Request, b bankInfo) (*paymentRecord, bool) {
	var p paymentRecord
	if !s.load(w, r, b, kindPayments, r.PathValue("paymentId"), &p,
		func() bool { return p.Product == r.PathValue("product") && p.Service == serviceOf(r) }, "RESOURCE_UNKNOWN", "The payment is unknown.") {
		return nil, false
	}
	if p.Persona == PersonaSlow {
		if !sleepCtx(r.Context(), s.opts.SlowDelay) {
			return nil, false
		}
	}
	p.Status = s.settled(p)
	return &p, true
}

// settled is the payment's status now: an authorised payment settles at settleAt.
func (s *Server) settled(p paymentRecord) string {
	if (p.Status == "ACSP" || p.Status == "ACCP" && p.ExecutionDate != "") && !s.now().Before(s.settleAt(p)) {
		return "ACSC"
	}
	return p.Status
}

// settleAt is when an authorised payment is executed: SettleAfter after SCA (SlowSettle for
// the slow persona), a future-dated one on its execution date (the bank's clock).
func (s *Server) settleAt(p paymentRecord) time.Time {
	if p.Status == "ACCP" {
		if day, err := time.Parse(time.DateOnly, p.ExecutionDate); err == nil {
			return day
		}
	}
	after := s.opts.SettleAfter
	if p.Persona == PersonaSlow {
		after = s.opts.SlowSettle
	}
	return p.Authorised.Add(after)
}

// cancelPayment cancels a payment that is awaiting SCA or future-dated and not yet due.
func (s *Server) cancelPayment(w http.ResponseWriter, r *http.Request, b bankInfo) {
	var p paymentRecord
	errNotCancellable := errors.New("not cancellable")
	err := s.opts.Store.Update(r.Context(), b.ID, kindPayments, r.PathValue("paymentId"), &p, func(exists bool) error {
		if !exists || p.Product != r.PathValue("product") || p.Service != serviceOf(r) {
			return ErrNotFound
		}
		if st := s.settled(p); st != "RCVD" && st != "ACCP" {
			return errNotCancellable
		}
		p.Status = "CANC"
		return nil
	})
	if err == nil {
		err = s.unbook(r.Context(), b, p)
	}
	switch {
	case errors.Is(err, ErrNotFound):
		tppError(w, 403, "RESOURCE_UNKNOWN", "The payment is unknown.")
	case errors.Is(err, errNotCancellable):
		tppError(w, 400, "CANCELLATION_INVALID", "The payment can no longer be cancelled.")
	case err != nil:
		s.internal(w, err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
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
	if p.EndToEndID != "" {
		body["endToEndIdentification"] = p.EndToEndID
	}
	// The account the PSU chose at SCA, with its holder's name (the Berlin Group's optional
	// debtorName, which this bank fills in).
	if p.DebtorIBAN != "" {
		body["debtorAccount"] = map[string]string{"iban": p.DebtorIBAN}
	}
	if p.DebtorName != "" {
		body["debtorName"] = p.DebtorName
	}
	writeJSON(w, 200, body)
}
