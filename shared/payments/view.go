package payments

import (
	"context"
	"time"

	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/lists"
	"tokapi.io/tok/shared/money"
	"tokapi.io/tok/shared/store"
)

// JSON is the API's payment object.
type JSON struct {
	ID                 string     `json:"id"`
	Status             string     `json:"status"`
	BankStatus         *string    `json:"bankStatus"`
	StatusReason       *string    `json:"statusReason"`
	BankID             *string    `json:"bankId"`
	AccountID          *string    `json:"accountId"`
	PaymentProduct     *string    `json:"paymentProduct"`
	Instant            bool       `json:"instant"`
	Amount             string     `json:"amount"`
	Currency           string     `json:"currency"`
	CreditorIBAN       string     `json:"creditorIban"`
	CreditorName       *string    `json:"creditorName"`
	DebtorIBAN         *string    `json:"debtorIban"`
	DebtorName         *string    `json:"debtorName"`
	RemittanceInfo     *string    `json:"remittanceInfo"`
	EndToEndID         string     `json:"endToEndId"`
	ExecutionDate      *string    `json:"executionDate"`
	CallbackURL        string     `json:"callbackUrl"`
	RedirectURL        *string    `json:"redirectUrl"`
	AuthorizeBy        time.Time  `json:"authorizeBy"`
	TransactionID      *string    `json:"transactionId"`
	ReconciledAt       *time.Time `json:"reconciledAt"`
	RefundedAmount     string     `json:"refundedAmount"`
	RefundStatus       string     `json:"refundStatus"`
	StatusCheckOverdue bool       `json:"statusCheckOverdue"`
	StatusHistory      []Change   `json:"statusHistory"`
	VRPConsentID       *string    `json:"vrpConsentId"`
	AuthorizedAt       *time.Time `json:"authorizedAt"`
	CreatedAt          time.Time  `json:"createdAt"`
	UpdatedAt          time.Time  `json:"updatedAt"`
}

// View is p as the API shows it at now.
func View(p Payment, now time.Time) JSON {
	st, reason := p.EffectiveStatus(now)
	out := JSON{
		ID: p.ID, Status: st, BankStatus: httpapi.Optional(p.BankStatus), StatusReason: httpapi.Optional(reason),
		BankID: httpapi.Optional(p.BankID), AccountID: httpapi.Optional(p.AccountID), PaymentProduct: httpapi.Optional(p.Product), Instant: p.Instant,
		Amount: p.Amount, Currency: p.Currency, CreditorIBAN: p.CreditorIBAN, CreditorName: httpapi.Optional(p.CreditorName),
		DebtorIBAN: httpapi.Optional(p.DebtorIBAN), DebtorName: httpapi.Optional(p.DebtorName), RemittanceInfo: httpapi.Optional(p.RemittanceInfo), EndToEndID: p.EndToEndID,
		ExecutionDate: httpapi.Optional(p.ExecutionDate), CallbackURL: p.CallbackURL, AuthorizeBy: p.AuthorizeBy,
		TransactionID: httpapi.Optional(p.TransactionID), ReconciledAt: p.ReconciledAt, StatusCheckOverdue: p.StatusCheckOverdue,
		RefundedAmount: money.FormatAmount(p.refunded()), RefundStatus: p.RefundStatus(),
		StatusHistory: p.StatusHistory, VRPConsentID: httpapi.Optional(p.VRPConsentID), AuthorizedAt: p.AuthorizedAt, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	if st == StatusAwaiting {
		out.RedirectURL = httpapi.Optional(p.RedirectURL)
	}
	if out.StatusHistory == nil {
		out.StatusHistory = []Change{}
	}
	return out
}

// EventData is the data of every payment.* event.
type EventData struct {
	PaymentID     string  `json:"paymentId"`
	Status        string  `json:"status"`
	BankStatus    *string `json:"bankStatus"`
	StatusReason  *string `json:"statusReason"`
	BankID        *string `json:"bankId"`
	AccountID     *string `json:"accountId"`
	Amount        string  `json:"amount"`
	Currency      string  `json:"currency"`
	EndToEndID    string  `json:"endToEndId"`
	TransactionID *string `json:"transactionId"`
	VRPConsentID  *string `json:"vrpConsentId"`
}

// EventDataOf is the event data of p as it is now.
func EventDataOf(p Payment) EventData {
	return EventData{PaymentID: p.ID, Status: p.Status, BankStatus: httpapi.Optional(p.BankStatus), StatusReason: httpapi.Optional(p.StatusReason),
		BankID: httpapi.Optional(p.BankID), AccountID: httpapi.Optional(p.AccountID), Amount: p.Amount, Currency: p.Currency, EndToEndID: p.EndToEndID,
		TransactionID: httpapi.Optional(p.TransactionID), VRPConsentID: httpapi.Optional(p.VRPConsentID)}
}

// RefundEventData is the data of every refund.* event.
type RefundEventData struct {
	RefundID      string  `json:"refundId"`
	PaymentID     string  `json:"paymentId"`
	BatchID       *string `json:"batchId"`
	Status        string  `json:"status"`
	BankStatus    *string `json:"bankStatus"`
	StatusReason  *string `json:"statusReason"`
	AccountID     *string `json:"accountId"`
	Amount        string  `json:"amount"`
	Currency      string  `json:"currency"`
	EndToEndID    string  `json:"endToEndId"`
	TransactionID *string `json:"transactionId"`
}

// RefundEventDataOf is the event data of refund r as it is now.
func RefundEventDataOf(r Payment) RefundEventData {
	return RefundEventData{RefundID: r.ID, PaymentID: r.RefundOf, BatchID: httpapi.Optional(r.BatchID), Status: r.Status,
		BankStatus: httpapi.Optional(r.BankStatus), StatusReason: httpapi.Optional(r.StatusReason), AccountID: httpapi.Optional(r.AccountID),
		Amount: r.Amount, Currency: r.Currency, EndToEndID: r.EndToEndID, TransactionID: httpapi.Optional(r.TransactionID)}
}

// RefundJSON is the API's refund object.
type RefundJSON struct {
	ID                  string     `json:"id"`
	PaymentID           string     `json:"paymentId"`
	BatchID             *string    `json:"batchId"`
	Status              string     `json:"status"`
	BankStatus          *string    `json:"bankStatus"`
	StatusReason        *string    `json:"statusReason"`
	Amount              string     `json:"amount"`
	Currency            string     `json:"currency"`
	AccountID           string     `json:"accountId"`
	BankID              string     `json:"bankId"`
	PaymentProduct      string     `json:"paymentProduct"`
	DebtorIBAN          string     `json:"debtorIban"`
	CreditorIBAN        string     `json:"creditorIban"`
	CreditorName        string     `json:"creditorName"`
	RemittanceInfo      string     `json:"remittanceInfo"`
	Reason              *string    `json:"reason"`
	EndToEndID          string     `json:"endToEndId"`
	CallbackURL         string     `json:"callbackUrl"`
	RedirectURL         *string    `json:"redirectUrl"`
	AuthorizeBy         time.Time  `json:"authorizeBy"`
	TransactionID       *string    `json:"transactionId"`
	CreditTransactionID *string    `json:"creditTransactionId"`
	ReconciledAt        *time.Time `json:"reconciledAt"`
	StatusHistory       []Change   `json:"statusHistory"`
	AuthorizedAt        *time.Time `json:"authorizedAt"`
	CreatedAt           time.Time  `json:"createdAt"`
	UpdatedAt           time.Time  `json:"updatedAt"`
}

// RefundView is refund r as the API shows it at now.
func RefundView(r Payment, now time.Time) RefundJSON {
	st, reason := r.EffectiveStatus(now)
	out := RefundJSON{ID: r.ID, PaymentID: r.RefundOf, BatchID: httpapi.Optional(r.BatchID), Status: st, BankStatus: httpapi.Optional(r.BankStatus),
		StatusReason: httpapi.Optional(reason), Amount: r.Amount, Currency: r.Currency, AccountID: r.AccountID, BankID: r.BankID,
		PaymentProduct: r.Product, DebtorIBAN: r.DebtorIBAN, CreditorIBAN: r.CreditorIBAN, CreditorName: r.CreditorName,
		RemittanceInfo: r.RemittanceInfo, Reason: httpapi.Optional(r.Reason), EndToEndID: r.EndToEndID, CallbackURL: r.CallbackURL,
		AuthorizeBy: r.AuthorizeBy, TransactionID: httpapi.Optional(r.TransactionID), CreditTransactionID: httpapi.Optional(r.CreditTransactionID),
		ReconciledAt: r.ReconciledAt, StatusHistory: r.StatusHistory, AuthorizedAt: r.AuthorizedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if st == StatusAwaiting {
		out.RedirectURL = httpapi.Optional(r.RedirectURL)
	}
	if out.StatusHistory == nil {
		out.StatusHistory = []Change{}
	}
	return out
}

// ListSpec is the list of the scope's payments matching q (its Limit and After set per
// page), newest first, as the API shows them.
func (s *Store) ListSpec(scope store.Scope, q ListQuery) lists.Spec[lists.CreatedID, JSON] {
	return ListSpecOf(s, scope, q, ids.Payment, View, func(p JSON) lists.CreatedID { return lists.CreatedID{CreatedAt: p.CreatedAt, ID: p.ID} })
}

// ListSpecOf is the list of the scope's records matching q (payments, or refunds with
// q.Refunds; IDs of kind), newest first, each as view shows it; pos is an item's position.
func ListSpecOf[T any](s *Store, scope store.Scope, q ListQuery, kind string, view func(Payment, time.Time) T, pos func(T) lists.CreatedID) lists.Spec[lists.CreatedID, T] {
	return lists.Spec[lists.CreatedID, T]{
		Valid: func(p lists.CreatedID) bool { return p.Is(kind) },
		Fetch: func(ctx context.Context, after *lists.CreatedID, n int) ([]T, error) {
			q.Limit = n
			if after != nil {
				q.AfterCreated, q.AfterID = after.CreatedAt, after.ID
			}
			found, err := s.List(ctx, scope, q)
			if err != nil {
				return nil, err
			}
			now := s.now()
			items := make([]T, 0, len(found))
			for _, p := range found {
				items = append(items, view(p, now))
			}
			return items, nil
		},
		Position: pos,
	}
}
