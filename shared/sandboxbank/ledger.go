package sandboxbank

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// kindLedgers holds, per IBAN, the entries executed payments booked on the account
// (sandboxbank/{bankId}/ledgers/{iban}); generated data has none.
const kindLedgers = "ledgers"

// ledgerRecord is the booked payments of one account, oldest first.
type ledgerRecord struct {
	Entries []ledgerEntry `firestore:"entries"`
}

// ledgerEntry is one payment on an account: negative for the debtor, positive for a
// creditor of the same bank. It is pending until BookAt and booked from then on, under the
// same entry reference (as the generated card payments).
type ledgerEntry struct {
	PaymentID    string    `firestore:"paymentId"`
	ID           string    `firestore:"id"`
	EntryRef     string    `firestore:"entryRef"`
	EndToEndID   string    `firestore:"endToEndId"`
	Amount       string    `firestore:"amount"`
	Currency     string    `firestore:"currency"`
	Counterparty string    `firestore:"counterparty"`
	CounterIBAN  string    `firestore:"counterIban"`
	Remittance   string    `firestore:"remittance"`
	Date         time.Time `firestore:"date"`
	BookAt       time.Time `firestore:"bookAt"`
}

// book records an authorised payment (each payment of a bulk payment) on its debtor
// account and, when the creditor holds an account at this bank, on the creditor's: booked
// when the payment settles (bookAt).
func (s *Server) book(ctx context.Context, b bankInfo, p paymentRecord, bookAt time.Time) error {
	for i, leg := range p.legs() {
		key := p.ID + "/" + strconv.Itoa(i)
		entry := ledgerEntry{PaymentID: p.ID, EndToEndID: leg.EndToEndID, Currency: p.Currency, Remittance: leg.Remittance, Date: truncDay(bookAt), BookAt: bookAt}
		debit := entry
		debit.ID, debit.EntryRef = "LDG"+hashHex(17, "debit", key), "ER"+hashHex(14, "debit", key)
		debit.Amount, debit.Counterparty, debit.CounterIBAN = "-"+leg.Amount, leg.CreditorName, leg.CreditorIBAN
		if err := s.addEntry(ctx, b, p.DebtorIBAN, debit); err != nil {
			return err
		}
		if _, _, ok := ownerOfIBAN(b, leg.CreditorIBAN); !ok {
			continue
		}
		credit := entry
		credit.ID, credit.EntryRef = "LDG"+hashHex(17, "credit", key), "ER"+hashHex(14, "credit", key)
		credit.Amount, credit.Counterparty, credit.CounterIBAN = leg.Amount, p.DebtorName, p.DebtorIBAN
		if err := s.addEntry(ctx, b, leg.CreditorIBAN, credit); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) addEntry(ctx context.Context, b bankInfo, iban string, e ledgerEntry) error {
	var l ledgerRecord
	return s.opts.Store.Update(ctx, b.ID, kindLedgers, iban, &l, func(bool) error {
		for _, x := range l.Entries {
			if x.ID == e.ID {
				return nil
			}
		}
		l.Entries = append(l.Entries, e)
		return nil
	})
}

// unbook removes a cancelled payment's entries.
func (s *Server) unbook(ctx context.Context, b bankInfo, p paymentRecord) error {
	ibans := []string{p.DebtorIBAN}
	for _, leg := range p.legs() {
		ibans = append(ibans, leg.CreditorIBAN)
	}
	for _, iban := range ibans {
		if iban == "" {
			continue
		}
		var l ledgerRecord
		err := s.opts.Store.Update(ctx, b.ID, kindLedgers, iban, &l, func(bool) error {
			kept := l.Entries[:0]
			for _, x := range l.Entries {
				if x.PaymentID != p.ID {
					kept = append(kept, x)
				}
			}
			l.Entries = kept
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ledgerOf returns the account's booked payments as transactions by value day number.
func (s *Server) ledgerOf(ctx context.Context, b bankInfo, a account) (map[int][]txn, error) {
	var l ledgerRecord
	err := s.opts.Store.Get(ctx, b.ID, kindLedgers, a.IBAN, &l)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := map[int][]txn{}
	for _, e := range l.Entries {
		amount, err := decimal.NewFromString(e.Amount)
		if err != nil {
			continue
		}
		t := txn{ID: e.ID, EntryReference: e.EntryRef, Date: e.Date, Amount: amount, Currency: e.Currency,
			Counterparty: e.Counterparty, CounterIBAN: e.CounterIBAN, Remittance: e.Remittance, EndToEndID: e.EndToEndID}
		if now.Before(e.BookAt) {
			t.Pending, t.ID = true, "PND"+e.ID[3:]
		} else {
			t.BookingDate = truncDay(e.BookAt)
		}
		n := dayNumber(e.Date)
		out[n] = append(out[n], t)
	}
	return out, nil
}

// bookAuthorised books a payment the PSU just authorised, unless the bank rejected it.
func (s *Server) bookAuthorised(ctx context.Context, b bankInfo, paymentID string) error {
	var p paymentRecord
	if err := s.opts.Store.Get(ctx, b.ID, kindPayments, paymentID, &p); err != nil {
		return err
	}
	if p.Status != "ACSP" && p.Status != "ACCP" {
		return nil
	}
	return s.book(ctx, b, p, s.settleAt(p))
}
