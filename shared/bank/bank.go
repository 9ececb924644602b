// Package bank defines the connector through which Tok talks to every bank (AIS, PIS, VRP
// and funds confirmation), the error model bank calls report, and the PKCE helpers of the
// OAuth2 redirect. The Berlin Group NextGenPSD2 implementation is in bank/berlingroup.
package bank

import (
	"context"
	"log/slog"
	"time"

	"github.com/shopspring/decimal"
)

// Access scopes a consent can ask for.
const (
	AccessAccounts     = "accounts"
	AccessBalances     = "balances"
	AccessTransactions = "transactions"
	// AccessFunds lets Tok ask the bank's confirmation of funds for the consent's accounts.
	AccessFunds = "funds"
)

// Transaction statuses and directions.
const (
	StatusBooked  = "booked"
	StatusPending = "pending"
	StatusBoth    = "both"

	DirectionInbound  = "inbound"
	DirectionOutbound = "outbound"
)

// Berlin Group consent statuses (design.md section 6).
const (
	ConsentReceived            = "received"
	ConsentRejected            = "rejected"
	ConsentValid               = "valid"
	ConsentRevokedByPSU        = "revokedByPsu"
	ConsentExpiredStatus       = "expired"
	ConsentTerminatedByTPP     = "terminatedByTpp"
	ConsentPartiallyAuthorised = "partiallyAuthorised"
)

// Tokens are the OAuth2 tokens a bank issued for one consent. They are secrets: String and
// LogValue redact them, so printing or logging a Tokens value never leaks one.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	ExpiresAt    time.Time
}

// String redacts the tokens.
func (t Tokens) String() string {
	return "bank.Tokens{AccessToken:[REDACTED] RefreshToken:[REDACTED] ExpiresAt:" + t.ExpiresAt.UTC().Format(time.RFC3339) + "}"
}

// GoString redacts the tokens for %#v.
func (t Tokens) GoString() string { return t.String() }

// LogValue redacts the tokens in log/slog output.
func (t Tokens) LogValue() slog.Value {
	return slog.GroupValue(slog.String("accessToken", "[REDACTED]"), slog.String("refreshToken", "[REDACTED]"),
		slog.Time("expiresAt", t.ExpiresAt))
}

// Session identifies one authorised consent at the bank for a data or payment call.
type Session struct {
	BankConsentID string
	AccessToken   string
	// PSUPresent is true only when the customer is really present (an interactive request);
	// PSUIPAddress is sent to the bank only then. Unattended calls count against the
	// consent's frequencyPerDay.
	PSUPresent   bool
	PSUIPAddress string
}

// String redacts the access token.
func (s Session) String() string {
	return "bank.Session{BankConsentID:" + s.BankConsentID + " AccessToken:[REDACTED]}"
}

// GoString redacts the access token for %#v.
func (s Session) GoString() string { return s.String() }

// LogValue redacts the session in log/slog output (no token, no IP address).
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(slog.Bool("psuPresent", s.PSUPresent))
}

// ConsentRequest asks the bank for an AIS consent and starts its SCA redirect.
type ConsentRequest struct {
	// Access lists AccessAccounts, AccessBalances, AccessTransactions.
	Access []string
	// ValidUntil is the last day of validity (the bank may shorten it; MaxConsentDays).
	ValidUntil time.Time
	// FrequencyPerDay is the number of unattended accesses a day (0: the bank's limit).
	FrequencyPerDay int
	// RedirectURI, State and CodeChallenge (S256) drive the OAuth2 authorization request.
	RedirectURI   string
	State         string
	CodeChallenge string
	// PSUPresent and PSUIPAddress describe the customer creating the consent.
	PSUPresent   bool
	PSUIPAddress string
}

// ConsentStart is the bank's answer to a consent request: where to send the customer.
type ConsentStart struct {
	BankConsentID string
	AuthorizeURL  string
	ValidUntil    time.Time
}

// Account is one payment account the consent covers.
type Account struct {
	ResourceID string
	IBAN       string
	Currency   string
	Name       string
	Product    string
	OwnerName  string
}

// Balance is one balance of an account.
type Balance struct {
	Type          string // Berlin Group balanceType: closingBooked, expected, interimAvailable, ...
	Amount        decimal.Decimal
	Currency      string
	ReferenceDate string // YYYY-MM-DD, may be empty
}

// Transaction is one booked or pending entry; Amount is positive with Direction giving the sign.
type Transaction struct {
	BankTransactionID string
	EntryReference    string
	Status            string // StatusBooked or StatusPending
	BookingDate       string // YYYY-MM-DD; empty for pending entries
	ValueDate         string // YYYY-MM-DD
	Amount            decimal.Decimal
	Direction         string // DirectionInbound or DirectionOutbound
	Currency          string
	CreditorName      string
	CreditorIBAN      string
	DebtorName        string
	DebtorIBAN        string
	RemittanceInfo    string
	EndToEndID        string
}

// TransactionQuery selects transactions by date range and status.
type TransactionQuery struct {
	DateFrom time.Time
	DateTo   time.Time // zero: up to today
	Status   string    // StatusBooked, StatusPending or StatusBoth (default)
}

// StandingOrder is an active standing order of an account.
type StandingOrder struct {
	ID             string
	Amount         decimal.Decimal
	Currency       string
	CreditorName   string
	CreditorIBAN   string
	RemittanceInfo string
	Frequency      string // Berlin Group frequencyCode: Daily, Weekly, Monthly, ...
	DayOfExecution string
	StartDate      string // YYYY-MM-DD
	EndDate        string // YYYY-MM-DD, may be empty
}

// Payment products of the Berlin Group standard (the bank publishes which it supports).
const (
	ProductSEPA        = "sepa-credit-transfers"
	ProductInstantSEPA = "instant-sepa-credit-transfers"
	ProductCrossBorder = "cross-border-credit-transfers"
	ProductDomestic    = "domestic-credit-transfers"
	ProductTarget2     = "target-2-payments"
)

// Transfer is the money a payment moves: from whom to whom, how much, with what reference.
type Transfer struct {
	Product        string
	Amount         decimal.Decimal
	Currency       string
	CreditorIBAN   string
	CreditorName   string
	DebtorIBAN     string
	RemittanceInfo string
	EndToEndID     string
	// ExecutionDate (YYYY-MM-DD) makes a future-dated payment; empty: execute at once.
	ExecutionDate string
}

// PaymentRequest initiates a single payment and starts its SCA redirect.
type PaymentRequest struct {
	Transfer
	RedirectURI   string
	State         string
	CodeChallenge string
}

// BulkPaymentRequest initiates several payments from one debtor account as one Berlin Group
// bulk payment with one SCA. Each payment's Product, DebtorIBAN, ExecutionDate and redirect
// fields are ignored: the bulk's own apply.
type BulkPaymentRequest struct {
	Product       string
	DebtorIBAN    string
	Payments      []PaymentRequest
	RedirectURI   string
	State         string
	CodeChallenge string
}

// PaymentStart is the bank's answer to a payment initiation.
type PaymentStart struct {
	BankPaymentID string
	AuthorizeURL  string
	Status        string // ISO 20022 transaction status (RCVD, ...)
}

// ISO 20022 payment statuses the Berlin Group uses.
const (
	PaymentReceived          = "RCVD"
	PaymentAcceptedTechnical = "ACTC"
	PaymentAcceptedCustomer  = "ACCP"
	PaymentInProcess         = "ACSP"
	PaymentCompleted         = "ACSC"
	PaymentCreditCompleted   = "ACCC"
	PaymentRejected          = "RJCT"
	PaymentCancelled         = "CANC"
	PaymentPending           = "PDNG"
	PaymentAcceptedChange    = "ACWC"
	PaymentAcceptedWithheld  = "ACWP"
	PaymentPartial           = "PART"
)

// PaymentState is what the bank says about a payment: its ISO 20022 status and, where the
// bank tells, whether funds were available (false explains a rejection).
type PaymentState struct {
	Status         string
	FundsAvailable *bool
}

// PaymentInfo is what the bank tells of an initiated payment beyond its status: the debtor
// account the PSU chose at SCA and its holder's name (empty where the bank does not say).
type PaymentInfo struct {
	Status     string
	DebtorIBAN string
	DebtorName string
}

// PaymentStatus is a payment's ISO 20022 status with its meaning for Tok.
type PaymentStatus string

// Final reports whether no further status change is expected.
func (s PaymentStatus) Final() bool {
	switch s {
	case PaymentCompleted, PaymentCreditCompleted, PaymentRejected, PaymentCancelled:
		return true
	}
	return false
}

// Succeeded reports whether the payment was executed.
func (s PaymentStatus) Succeeded() bool {
	return s == PaymentCompleted || s == PaymentCreditCompleted
}

// FundsQuery asks whether an account can cover an amount.
type FundsQuery struct {
	IBAN     string
	Amount   decimal.Decimal
	Currency string
	Payee    string
}

// Connector is Tok's view of one bank. Every method returns *Error (see KindOf) on failure.
type Connector interface {
	// CreateConsent registers an AIS consent and returns the SCA redirect for the customer.
	CreateConsent(ctx context.Context, req ConsentRequest) (ConsentStart, error)
	// ExchangeCode redeems the authorization code of the SCA redirect.
	ExchangeCode(ctx context.Context, code, codeVerifier, redirectURI string) (Tokens, error)
	// Refresh exchanges a refresh token; banks rotate them, so store the returned pair.
	Refresh(ctx context.Context, refreshToken string) (Tokens, error)
	// ConsentStatus returns the Berlin Group consent status (ConsentValid, ...).
	ConsentStatus(ctx context.Context, s Session) (string, error)
	// DeleteConsent terminates the consent at the bank (terminatedByTpp).
	DeleteConsent(ctx context.Context, s Session) error
	Accounts(ctx context.Context, s Session) ([]Account, error)
	Balances(ctx context.Context, s Session, accountID string) ([]Balance, error)
	// Transactions streams every page (following _links.next) to page; it never holds more
	// than one page. An error from page stops the walk and is returned as is.
	Transactions(ctx context.Context, s Session, accountID string, q TransactionQuery, page func([]Transaction) error) error
	// StandingOrders returns ErrNotSupported where the bank does not offer them.
	StandingOrders(ctx context.Context, s Session, accountID string) ([]StandingOrder, error)
	InitiatePayment(ctx context.Context, s Session, req PaymentRequest) (PaymentStart, error)
	// PaymentStatus returns the ISO 20022 status (see PaymentStatus).
	PaymentStatus(ctx context.Context, s Session, product, paymentID string) (PaymentState, error)
	// InitiateBulkPayment posts a bulk payment (POST /v1/bulk-payments/{product});
	// ErrNotSupported where the bank offers none.
	InitiateBulkPayment(ctx context.Context, s Session, req BulkPaymentRequest) (PaymentStart, error)
	// BulkPaymentStatus is PaymentStatus of a bulk payment.
	BulkPaymentStatus(ctx context.Context, s Session, product, paymentID string) (PaymentState, error)
	// Payment reads an initiated payment (GET /v1/payments/{product}/{paymentId}).
	Payment(ctx context.Context, s Session, product, paymentID string) (PaymentInfo, error)
	// CancelPayment cancels a payment not yet executed (awaiting authorisation or
	// future-dated); a bank that no longer allows it answers Invalid.
	CancelPayment(ctx context.Context, s Session, product, paymentID string) error
	ConfirmFunds(ctx context.Context, s Session, q FundsQuery) (bool, error)
	VRPConnector
}
