package sandboxbank

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// kindAdded holds the transactions a TPP added to an account under one consent (Tok's
// POST /v1/sandbox/accounts/{id}/transactions), by consent and account: the personas'
// generated accounts are shared by every consent, the added entries are not.
const kindAdded = "added"

// maxAdded bounds the added transactions of one account under one consent.
const maxAdded = 100

type addedRecord struct {
	Txns []addedTxn `firestore:"txns"`
}

type addedTxn struct {
	ID           string    `firestore:"id"`
	Amount       string    `firestore:"amount"` // signed, the account's currency
	Counterparty string    `firestore:"counterparty"`
	Remittance   string    `firestore:"remittance"`
	Booked       time.Time `firestore:"booked"`
}

func addedID(consentID, accountID string) string { return consentID + "_" + accountID }

// added returns the transactions added to account a under consent c.
func (s *Server) added(ctx context.Context, b bankInfo, consentID string, a account) ([]txn, error) {
	var rec addedRecord
	err := s.opts.Store.Get(ctx, b.ID, kindAdded, addedID(consentID, a.ResourceID), &rec)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]txn, 0, len(rec.Txns))
	for _, t := range rec.Txns {
		d, err := decimal.NewFromString(t.Amount)
		if err != nil {
			return nil, err
		}
		out = append(out, txn{ID: t.ID, EntryReference: t.ID, Date: t.Booked, BookingDate: t.Booked, Amount: d,
			Currency: a.Currency, Counterparty: t.Counterparty, Remittance: t.Remittance, EndToEndID: "NOTPROVIDED"})
	}
	return out, nil
}

// addTransaction books a transaction on the account today, for this consent only: the
// sandbox's way to make the next sync see new data. Not part of Berlin Group; it takes the
// AIS token and Consent-ID of a consent with transactions access, and counts no access.
//
//	POST .../v1/accounts/{accountId}/sandbox-transactions
//	{"amount": "-12.50", "counterpartyName": "…", "remittanceInformationUnstructured": "…"}
func (s *Server) addTransaction(w http.ResponseWriter, r *http.Request, b bankInfo) {
	if _, ok := s.checkAccount(w, r, b); !ok {
		return
	}
	ar, ok := s.authorizeAIS(w, r, b, "", func(c *consentRecord) bool { return c.Transactions })
	if !ok {
		return
	}
	a, _ := findAccount(b, ar.persona, r.PathValue("accountId"))
	var body struct {
		Amount       string `json:"amount"`
		Counterparty string `json:"counterpartyName"`
		Remittance   string `json:"remittanceInformationUnstructured"`
	}
	if !decodeBody(w, r, 16<<10, &body, "The body must be JSON.", nil) {
		return
	}
	d, err := decimal.NewFromString(body.Amount)
	if err != nil || d.IsZero() || d.Exponent() < -2 || d.Abs().GreaterThan(decimal.NewFromInt(1_000_000_000)) {
		tppError(w, 400, "FORMAT_ERROR", "amount must be a non-zero decimal with at most 2 decimals.")
		return
	}
	if utf8.RuneCountInString(body.Counterparty) > 70 || utf8.RuneCountInString(body.Remittance) > 140 {
		tppError(w, 400, "FORMAT_ERROR", "counterpartyName is at most 70 characters, remittanceInformationUnstructured 140.")
		return
	}
	now := s.now()
	t := addedTxn{Amount: d.StringFixed(2), Counterparty: strings.TrimSpace(body.Counterparty),
		Remittance: strings.TrimSpace(body.Remittance), Booked: truncDay(now)}
	var rec addedRecord
	err = s.opts.Store.Update(r.Context(), b.ID, kindAdded, addedID(ar.consent.ID, a.ResourceID), &rec, func(bool) error {
		if len(rec.Txns) >= maxAdded {
			return &accessError{409, "RESOURCE_BLOCKED", "At most 100 transactions can be added to an account."}
		}
		t.ID = "ADD" + hashHex(17, "added", ar.consent.ID, a.ResourceID, now.Format(time.RFC3339Nano))
		rec.Txns = append(rec.Txns, t)
		return nil
	})
	var ae *accessError
	if errors.As(err, &ae) {
		tppError(w, ae.status, ae.code, ae.text)
		return
	}
	if err != nil {
		s.internal(w, err)
		return
	}
	writeJSON(w, 201, map[string]any{"transactionId": t.ID, "bookingDate": t.Booked.Format(time.DateOnly),
		"transactionAmount": amountJSON(d, a.Currency)})
}
