// Package payments is Tok's payment initiation (PIS): the payment record and its status
// machine, the validation of a payment request against the bank catalogue, the store under
// the tenant with an outbox of events, and the steps every payment takes (initiation at the
// bank, the SCA result at the callback, polling to a final status, cancellation).
//
// Layout, under the tenant (store.Scope):
//
//	envs/{env}/orgs/{org}/payments/{pay_…}   Payment, with its status history and outbox
//
// A variable recurring payment (shared/vrp) is a payment with a vrpConsentId: it has no SCA
// of its own, starts PENDING holding a Reservation of its consent's limits, and is sent to
// the bank and followed by the same poller (VRPFollower).
//
// A payment moves through Tok's statuses only forwards (Advance): AWAITING_AUTHORIZATION,
// then SCHEDULED (future-dated) or PENDING, then one final status (COMPLETED, REJECTED,
// CANCELLED, FAILED). Each status change and its event are written in one transaction; the
// event (with an ID derived from the payment and the event type) is published after the
// commit and then removed from the outbox, so a worker killed at any point and run again
// publishes every event, and never one with a new ID.
package payments

import (
	"time"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/tokenvault"
)

// Collection holds the payments under the tenant, RefundsCollection the refunds.
const (
	Collection        = "payments"
	RefundsCollection = "refunds"
)

// Tok's payment statuses.
const (
	StatusAwaiting  = "AWAITING_AUTHORIZATION"
	StatusScheduled = "SCHEDULED"
	StatusPending   = "PENDING"
	StatusCompleted = "COMPLETED"
	StatusRejected  = "REJECTED"
	StatusCancelled = "CANCELLED"
	StatusFailed    = "FAILED"
)

// Statuses lists every status, for filters and the spec.
var Statuses = []string{StatusAwaiting, StatusScheduled, StatusPending, StatusCompleted, StatusRejected, StatusCancelled, StatusFailed}

// Status reasons.
const (
	ReasonInsufficientFunds    = "INSUFFICIENT_FUNDS"
	ReasonDeniedByUser         = "DENIED_BY_USER"
	ReasonBankRejected         = "BANK_REJECTED"
	ReasonAuthorizationExpired = "AUTHORIZATION_EXPIRED"
	ReasonAuthorizationFailed  = "AUTHORIZATION_FAILED"
	ReasonBankUnavailable      = "BANK_UNAVAILABLE"
	ReasonCancelledByRequest   = "CANCELLED_BY_REQUEST"
	ReasonCancelledAtBank      = "CANCELLED_AT_BANK"
)

// Event types.
const (
	EventCreated    = "payment.created"
	EventAuthorized = "payment.authorized"
	EventCompleted  = "payment.completed"
	EventRejected   = "payment.rejected"
	EventCancelled  = "payment.cancelled"
	EventFailed     = "payment.failed"
	EventReconciled = "payment.reconciled"
)

// Payment is one payment as Tok records it. Amount is in the wire format (4 decimals).
type Payment struct {
	ID     string `firestore:"id"`
	Env    string `firestore:"env"`
	OrgID  string `firestore:"orgId"`
	Status string `firestore:"status"`
	// BankStatus is the bank's ISO 20022 code (RCVD, ACSP, ACSC, RJCT, ...).
	BankStatus   string `firestore:"bankStatus"`
	StatusReason string `firestore:"statusReason"`

	BankID       string `firestore:"bankId"`
	AccountID    string `firestore:"accountId"`
	Product      string `firestore:"product"`
	Instant      bool   `firestore:"instant"`
	Amount       string `firestore:"amount"`
	Currency     string `firestore:"currency"`
	CreditorIBAN string `firestore:"creditorIban"`
	CreditorName string `firestore:"creditorName"`
	DebtorIBAN   string `firestore:"debtorIban"`
	// DebtorName is the debtor account holder's name: from the account Tok has, or from the
	// bank after SCA (bank.Connector.Payment), which also tells the IBAN the customer chose.
	DebtorName string `firestore:"debtorName"`
	// DebtorChecked is set once the bank was asked for the debtor account.
	DebtorChecked  bool   `firestore:"debtorChecked"`
	RemittanceInfo string `firestore:"remittanceInfo"`
	EndToEndID     string `firestore:"endToEndId"`
	ExecutionDate  string `firestore:"executionDate"`
	CallbackURL    string `firestore:"callbackUrl"`
	RedirectURL    string `firestore:"redirectUrl"`
	// TransactionID is the booked transaction on the debtor's account that executed the
	// payment, CreditTransactionID the one on the creditor's (refunds, whose creditor is
	// the original payer), each linked by reconciliation once that account is synced.
	TransactionID       string     `firestore:"transactionId"`
	CreditTransactionID string     `firestore:"creditTransactionId"`
	ReconciledAt        *time.Time `firestore:"reconciledAt"`
	// ReconcileDebit and ReconcileCredit mark a side still to be linked (see reconcileFlags),
	// for the sync's query by IBAN.
	ReconcileDebit  bool `firestore:"reconcileDebit"`
	ReconcileCredit bool `firestore:"reconcileCredit"`

	BankPaymentID string    `firestore:"bankPaymentId"`
	StateHash     string    `firestore:"stateHash"`
	AuthorizeBy   time.Time `firestore:"authorizeBy"`
	// Tokens is the sealed bank.Tokens of the PIS authorisation (AAD TokensAAD), for status
	// calls and cancellation; never in a response or a log. The token vault refreshes them
	// (tokenExpiresAt, refreshLease).
	tokenvault.Sealed

	StatusHistory []Change      `firestore:"statusHistory"`
	Outbox        []OutboxEvent `firestore:"outbox"`
	// OutboxPending is true while Outbox holds events, for the sweep's query.
	OutboxPending bool `firestore:"outboxPending"`

	// Polling: PollActive while the bank has not answered a final status; NextPollAt is
	// when the sweep asks again; StatusCheckOverdue once polling passed PollBound (then
	// the payment is checked daily).
	PollActive         bool       `firestore:"pollActive"`
	NextPollAt         *time.Time `firestore:"nextPollAt"`
	PollAttempts       int        `firestore:"pollAttempts"`
	PollLease          *Lease     `firestore:"pollLease"`
	StatusCheckOverdue bool       `firestore:"statusCheckOverdue"`

	// Refunds of a payment: RefundReserved sums the refunds that are not REJECTED, FAILED
	// or CANCELLED (at most Amount, kept in the transaction that creates or ends a refund);
	// RefundedAmount sums the COMPLETED ones. Wire format, empty for none.
	RefundReserved string `firestore:"refundReserved"`
	RefundedAmount string `firestore:"refundedAmount"`

	// A refund is a payment from the organisation's account back to the payer of RefundOf,
	// kept in its own collection (RefundsCollection, rfd_ IDs); Reason is the organisation's
	// reason, BatchID the refund batch that sent it as a bulk payment at the bank.
	RefundOf string `firestore:"refundOf"`
	Reason   string `firestore:"reason"`
	BatchID  string `firestore:"batchId"`
	// Bulk is set when BankPaymentID is a bulk payment (the refund batch's).
	Bulk bool `firestore:"bulk"`

	// VRPConsentID names the VRP consent a variable recurring payment is made under (no
	// SCA of its own); Reservation is what it holds of that consent's limits.
	VRPConsentID string       `firestore:"vrpConsentId"`
	VRP          bool         `firestore:"vrp"` // VRPConsentID != "", for the list query
	Reservation  *Reservation `firestore:"reservation"`

	AuthorizedAt *time.Time `firestore:"authorizedAt"`
	CreatedAt    time.Time  `firestore:"createdAt"`
	UpdatedAt    time.Time  `firestore:"updatedAt"`
}

// IsRefund reports whether p is a refund.
func (p Payment) IsRefund() bool { return p.RefundOf != "" }

// transfer is the money p moves, as recorded.
func (p Payment) transfer() bank.Transfer {
	return bank.Transfer{Product: p.Product, Amount: amountOf(p.Amount), Currency: p.Currency, CreditorIBAN: p.CreditorIBAN,
		CreditorName: p.CreditorName, DebtorIBAN: p.DebtorIBAN, RemittanceInfo: p.RemittanceInfo, EndToEndID: p.EndToEndID,
		ExecutionDate: p.ExecutionDate}
}

// reconcileFlags marks the sides still to be linked to a booked transaction: the debit of
// every payment executed or being executed from a known IBAN, and the credit of a refund
// (its creditor, the original payer, may be an account Tok syncs).
func (p *Payment) reconcileFlags() {
	live := p.Status == StatusPending || p.Status == StatusCompleted
	p.ReconcileDebit = live && p.DebtorIBAN != "" && p.TransactionID == ""
	p.ReconcileCredit = live && p.IsRefund() && p.CreditTransactionID == ""
}

// Tenant is the payment's owner.
func (p Payment) Tenant() tenant.Tenant { return tenant.Tenant{Env: p.Env, OrgID: p.OrgID} }

// TokensAAD is the associated data sealing a payment's bank tokens.
func TokensAAD(orgID, paymentID string) []byte { return []byte("pis/" + orgID + "/" + paymentID) }

// Change is one entry of a payment's status history.
type Change struct {
	Status     string    `firestore:"status" json:"status"`
	BankStatus string    `firestore:"bankStatus" json:"bankStatus,omitempty"`
	Reason     string    `firestore:"reason" json:"statusReason,omitempty"`
	At         time.Time `firestore:"at" json:"at"`
}

// OutboxEvent is an event written with the change that caused it, not yet published.
type OutboxEvent struct {
	ID        string    `firestore:"id"`
	Type      string    `firestore:"type"`
	CreatedAt time.Time `firestore:"createdAt"`
	Data      []byte    `firestore:"data"`
}

// Lease marks a poller working on the payment.
type Lease struct {
	Holder string    `firestore:"holder"`
	Until  time.Time `firestore:"until"`
}

// EffectiveStatus is Status, with a payment still awaiting authorisation past AuthorizeBy
// reported FAILED (the sweep records it and publishes payment.failed).
func (p Payment) EffectiveStatus(now time.Time) (status, reason string) {
	if p.Status == StatusAwaiting && !p.AuthorizeBy.IsZero() && !now.Before(p.AuthorizeBy) {
		return StatusFailed, ReasonAuthorizationExpired
	}
	return p.Status, p.StatusReason
}
