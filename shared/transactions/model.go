// Package transactions is Tok's model of synced transactions and standing orders and the
// queries over them; the sync worker (shared/banksync) writes them and the accounts
// function serves them.
//
// Layout, under the tenant's scope (store.For):
//
//	accounts/{acc}/transactions/{txn}      Doc, ID = ids.Derive(ids.Transaction, acc, identity)
//	accounts/{acc}/standingOrders/{so}     StandingOrderDoc
//	accounts/{acc}/sync/state              State: watermark and change sequence of the account
//
// Every change to a transaction (creation, update, removal) gives it the next value of its
// account's change sequence (Doc.ChangeSeq); Doc.CreatedSeq keeps the value it was created
// with. The sync allocates sequence numbers before it writes (State.SeqAllocated) and
// publishes State.SeqCommitted only when every document up to it is written, so a reader
// that stays at or below SeqCommitted never misses a change that lands later.
package transactions

import (
	"time"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/money"
)

// Collection and document names.
const (
	AccountsCollection       = "accounts"
	TransactionsCollection   = "transactions"
	StandingOrdersCollection = "standingOrders"
	SyncCollection           = "sync"
	StateDoc                 = "state"
)

// Statuses of a Tok transaction. Removed is a pending transaction that disappeared at the
// bank without booking.
const (
	StatusBooked  = "booked"
	StatusPending = "pending"
	StatusRemoved = "removed"
)

// Source is the seed's `source` of every synced transaction.
const Source = "open_banking"

// Doc is a transaction as stored.
type Doc struct {
	ID           string `firestore:"id"`
	AccountID    string `firestore:"accountId"`
	ConnectionID string `firestore:"connectionId"`
	// ExternalID is the bank's current transaction ID; BankIDs every ID it has had
	// (the pending one, then the booked one).
	ExternalID     string   `firestore:"externalId"`
	BankIDs        []string `firestore:"bankIds"`
	EntryReference string   `firestore:"entryReference"`
	Status         string   `firestore:"status"`
	// Date orders and filters the list: the booking date, or the value date while pending.
	Date           string `firestore:"date"`
	BookingDate    string `firestore:"bookingDate"`
	ValueDate      string `firestore:"valueDate"`
	Amount         string `firestore:"amount"`
	Currency       string `firestore:"currency"`
	Direction      string `firestore:"direction"`
	CreditorName   string `firestore:"creditorName"`
	CreditorIBAN   string `firestore:"creditorIban"`
	DebtorName     string `firestore:"debtorName"`
	DebtorIBAN     string `firestore:"debtorIban"`
	RemittanceInfo string `firestore:"remittanceInfo"`
	EndToEndID     string `firestore:"endToEndId"`
	// PaymentID and RefundID link the transaction to the Tok payment or refund it executed
	// (set by reconciliation, shared/payments; the sync keeps them).
	PaymentID string `firestore:"paymentId"`
	RefundID  string `firestore:"refundId"`

	CreatedAt  time.Time `firestore:"createdAt"`
	UpdatedAt  time.Time `firestore:"updatedAt"`
	CreatedSeq int64     `firestore:"createdSeq"`
	ChangeSeq  int64     `firestore:"changeSeq"`
	// MissingSince is set while a pending transaction is absent from the bank's answers;
	// MatchedAt when a booked entry was matched to it by heuristics (see banksync).
	MissingSince *time.Time `firestore:"missingSince"`
	MatchedAt    *time.Time `firestore:"matchedAt"`
}

// Identity is the bank identity a transaction ID is derived from. The entry reference links
// a pending entry to its booked successor (the sandbox bank and many Berlin Group banks keep
// it when the transaction ID changes), so both derive the same Tok ID; without one, the
// bank's transaction ID.
func Identity(t bank.Transaction) string {
	if t.EntryReference != "" {
		return "ref:" + t.EntryReference
	}
	return "id:" + t.BankTransactionID
}

// IDFor derives the Tok ID of a bank transaction of an account.
func IDFor(accountID string, t bank.Transaction) string {
	return ids.Derive(ids.Transaction, accountID, Identity(t))
}

// FromBank fills the bank's fields of d from t (identity and bookkeeping fields untouched).
func (d *Doc) FromBank(t bank.Transaction) {
	d.ExternalID = t.BankTransactionID
	if !contains(d.BankIDs, t.BankTransactionID) {
		d.BankIDs = append(d.BankIDs, t.BankTransactionID)
	}
	d.EntryReference = t.EntryReference
	d.Status = StatusBooked
	if t.Status == bank.StatusPending {
		d.Status = StatusPending
	}
	d.BookingDate = t.BookingDate
	d.ValueDate = t.ValueDate
	d.Date = t.BookingDate
	if d.Status == StatusPending || d.Date == "" {
		d.Date = t.ValueDate
	}
	d.Amount = money.FormatAmount(t.Amount.Abs())
	d.Currency = t.Currency
	d.Direction = t.Direction
	d.CreditorName, d.CreditorIBAN = t.CreditorName, t.CreditorIBAN
	d.DebtorName, d.DebtorIBAN = t.DebtorName, t.DebtorIBAN
	d.RemittanceInfo = t.RemittanceInfo
	d.EndToEndID = t.EndToEndID
	d.MissingSince = nil
}

// SameBankData reports whether a and b hold the same bank data (bookkeeping ignored).
func SameBankData(a, b *Doc) bool {
	return a.ExternalID == b.ExternalID && a.EntryReference == b.EntryReference && a.Status == b.Status &&
		a.BookingDate == b.BookingDate && a.ValueDate == b.ValueDate && a.Amount == b.Amount &&
		a.Currency == b.Currency && a.Direction == b.Direction && a.CreditorName == b.CreditorName &&
		a.CreditorIBAN == b.CreditorIBAN && a.DebtorName == b.DebtorName && a.DebtorIBAN == b.DebtorIBAN &&
		a.RemittanceInfo == b.RemittanceInfo && a.EndToEndID == b.EndToEndID && len(a.BankIDs) == len(b.BankIDs) &&
		(a.MissingSince == nil) == (b.MissingSince == nil)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// State is the sync state of one account.
type State struct {
	// Watermark is the last day fully synced (YYYY-MM-DD); the next sync asks from it
	// minus the overlap window.
	Watermark    string    `firestore:"watermark"`
	SeqAllocated int64     `firestore:"seqAllocated"`
	SeqCommitted int64     `firestore:"seqCommitted"`
	PublishedSeq int64     `firestore:"publishedSeq"`
	LastSyncAt   time.Time `firestore:"lastSyncAt"`
	// StandingOrdersAt is when standing orders were last read; StandingOrdersUnsupported
	// when the bank said it does not offer them.
	StandingOrdersAt          time.Time `firestore:"standingOrdersAt"`
	StandingOrdersUnsupported bool      `firestore:"standingOrdersUnsupported"`
}

// StandingOrderDoc is a standing order as stored.
type StandingOrderDoc struct {
	ID             string    `firestore:"id"`
	AccountID      string    `firestore:"accountId"`
	ExternalID     string    `firestore:"externalId"`
	Amount         string    `firestore:"amount"`
	Currency       string    `firestore:"currency"`
	CreditorName   string    `firestore:"creditorName"`
	CreditorIBAN   string    `firestore:"creditorIban"`
	RemittanceInfo string    `firestore:"remittanceInfo"`
	Frequency      string    `firestore:"frequency"`
	DayOfExecution string    `firestore:"dayOfExecution"`
	StartDate      string    `firestore:"startDate"`
	EndDate        string    `firestore:"endDate"`
	CreatedAt      time.Time `firestore:"createdAt"`
	UpdatedAt      time.Time `firestore:"updatedAt"`
}

// StandingOrderFromBank builds the stored standing order of an account.
func StandingOrderFromBank(accountID string, so bank.StandingOrder) StandingOrderDoc {
	return StandingOrderDoc{
		ID: ids.Derive(ids.StandingOrder, accountID, so.ID), AccountID: accountID, ExternalID: so.ID,
		Amount: money.FormatAmount(so.Amount.Abs()), Currency: so.Currency, CreditorName: so.CreditorName,
		CreditorIBAN: so.CreditorIBAN, RemittanceInfo: so.RemittanceInfo, Frequency: so.Frequency,
		DayOfExecution: so.DayOfExecution, StartDate: so.StartDate, EndDate: so.EndDate,
	}
}

// ChangeType classifies a change relative to the cursor it is read after.
func ChangeType(d *Doc, after int64) string {
	switch {
	case d.Status == StatusRemoved:
		return "removed"
	case d.CreatedSeq > after:
		return "added"
	default:
		return "modified"
	}
}
