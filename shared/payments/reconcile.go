package payments

import (
	"context"
	"fmt"
	"sort"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/transactions"
)

// ReconcileWindowDays bounds how many days after its execution a payment is looked for
// among the booked transactions when the bank did not keep its end-to-end ID.
const ReconcileWindowDays = 5

// Reconciler links the booked transactions of a synced account to the payments and refunds
// they executed: by end-to-end ID first, else by amount, currency, counterparty IBAN and
// booking date (within ReconcileWindowDays of the execution, the closest first). The
// transaction gets paymentId (refundId), the payment transactionId and reconciledAt, and
// payment.reconciled (refund.reconciled) is published once, with the link, in one
// transaction. The link is an annotation, not a bank change: it does not move the
// account's change sequence.
type Reconciler struct {
	Store *Store
}

// side is the debit or the credit of a payment on a synced account.
type side struct {
	ibanField, flagField string
	direction            string
	collections          []string
}

var (
	debitSide  = side{ibanField: "debtorIban", flagField: "reconcileDebit", direction: bank.DirectionOutbound, collections: []string{Collection, RefundsCollection}}
	creditSide = side{ibanField: "creditorIban", flagField: "reconcileCredit", direction: bank.DirectionInbound, collections: []string{RefundsCollection}}
)

// Reconcile runs after a sync of the account (its Tok ID and IBAN) wrote its transactions.
func (r *Reconciler) Reconcile(ctx context.Context, scope store.Scope, accountID, iban string) error {
	if iban == "" {
		return nil
	}
	txns := scope.Collection(transactions.AccountsCollection).Doc(accountID).Collection(transactions.TransactionsCollection)
	for _, sd := range []side{debitSide, creditSide} {
		for _, col := range sd.collections {
			due, err := store.All[Payment](ctx, scope.Collection(col).Where(sd.ibanField, "==", iban).Where(sd.flagField, "==", true).
				Limit(sweepBatch))
			if err != nil {
				return fmt.Errorf("query %s to reconcile: %w", col, err)
			}
			for _, p := range due {
				t, err := r.find(ctx, txns, p, sd)
				if err != nil {
					return err
				}
				if t != nil {
					if err := r.link(ctx, scope, txns.Doc(t.ID), p.ID, sd); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// find returns the booked, unlinked transaction of the account that executed p's side.
func (r *Reconciler) find(ctx context.Context, txns *firestore.CollectionRef, p Payment, sd side) (*transactions.Doc, error) {
	fits := func(t *transactions.Doc) bool {
		return t.Status == transactions.StatusBooked && t.PaymentID == "" && t.RefundID == "" &&
			t.Direction == sd.direction && t.Amount == p.Amount && t.Currency == p.Currency
	}
	byE2E, err := store.All[transactions.Doc](ctx, txns.Where("endToEndId", "==", p.EndToEndID).Limit(10))
	if err != nil {
		return nil, fmt.Errorf("query transactions by endToEndId: %w", err)
	}
	for i := range byE2E {
		if fits(&byE2E[i]) {
			return &byE2E[i], nil
		}
	}
	from := executedOn(p)
	to := from.AddDate(0, 0, ReconcileWindowDays)
	near, err := store.All[transactions.Doc](ctx, txns.Where("date", ">=", from.Format(time.DateOnly)).Where("date", "<=", to.Format(time.DateOnly)))
	if err != nil {
		return nil, fmt.Errorf("query transactions by date: %w", err)
	}
	var found []*transactions.Doc
	for i := range near {
		t := &near[i]
		counterparty := t.CreditorIBAN == p.CreditorIBAN
		if sd.direction == bank.DirectionInbound {
			counterparty = t.DebtorIBAN == p.DebtorIBAN
		}
		if fits(t) && counterparty {
			found = append(found, t)
		}
	}
	if len(found) == 0 {
		return nil, nil
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].Date != found[j].Date {
			return found[i].Date < found[j].Date
		}
		return found[i].ID < found[j].ID
	})
	return found[0], nil
}

// executedOn is the first day the bank can have booked p: its execution date, else the day
// the customer authorised it.
func executedOn(p Payment) time.Time {
	if day, err := time.Parse(time.DateOnly, p.ExecutionDate); err == nil {
		return day
	}
	at := p.CreatedAt
	if p.AuthorizedAt != nil {
		at = *p.AuthorizedAt
	}
	return at.UTC().Truncate(24 * time.Hour)
}

// link writes both ends of a match in one transaction; a side or a transaction linked in
// the meantime is left as it is.
func (r *Reconciler) link(ctx context.Context, scope store.Scope, txnRef *firestore.DocumentRef, id string, sd side) error {
	_, _, err := r.Store.UpdateTx(ctx, scope, id, func(tx *firestore.Transaction, p *Payment, now time.Time) (bool, error) {
		snap, err := tx.Get(txnRef)
		if status.Code(err) == codes.NotFound {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		var t transactions.Doc
		if err := snap.DataTo(&t); err != nil {
			return false, err
		}
		debit := sd.direction == bank.DirectionOutbound
		if t.PaymentID != "" || t.RefundID != "" || (debit && p.TransactionID != "") || (!debit && p.CreditTransactionID != "") {
			return false, nil
		}
		field := "paymentId"
		if p.IsRefund() {
			field = "refundId"
		}
		if err := tx.Update(txnRef, []firestore.Update{{Path: field, Value: p.ID}}); err != nil {
			return false, err
		}
		if !debit {
			p.CreditTransactionID = t.ID
			return true, nil
		}
		p.TransactionID, p.ReconciledAt, p.UpdatedAt = t.ID, &now, now
		return true, p.Enqueue(EventReconciled, now)
	})
	return err
}
