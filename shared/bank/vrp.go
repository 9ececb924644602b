package bank

import (
	"context"
	"time"

	"github.com/shopspring/decimal"
)

// Variable recurring payments: the Berlin Group 1.3.x framework has none, so banks that offer
// them expose a mandate service modelled on the UK Open Banking VRP profile (a mandate with
// control parameters and its own SCA, then payments under it with no PSU present). A bank
// without it answers ErrNotSupported from every method of VRPConnector.

// Mandate statuses at the bank (the Berlin Group consent statuses).
const (
	MandateReceived = ConsentReceived
	MandateValid    = ConsentValid
	MandateRejected = ConsentRejected
	MandateRevoked  = ConsentRevokedByPSU
	MandateExpired  = ConsentExpiredStatus
	MandateEnded    = ConsentTerminatedByTPP
)

// PeriodicLimit is one periodic control parameter of a mandate.
type PeriodicLimit struct {
	MaximumAmount decimal.Decimal
	PeriodType    string // DAY, WEEK, MONTH, YEAR
	Alignment     string // CONSENT or CALENDAR
}

// MandateRequest asks the bank for a VRP mandate and starts its SCA redirect.
type MandateRequest struct {
	CreditorIBAN       string
	CreditorName       string
	DebtorIBAN         string
	Currency           string
	MaximumIndividual  decimal.Decimal
	MinimumIndividual  decimal.Decimal // zero: none
	PeriodicLimits     []PeriodicLimit
	MaximumOccurrences int // 0: none
	ValidFrom          time.Time
	ValidTo            time.Time // zero: open-ended
	// TimeZone is the IANA zone of calendar-aligned periods.
	TimeZone       string
	VRPType        string // SWEEPING or OTHER
	RemittanceInfo string
	RedirectURI    string
	State          string
	CodeChallenge  string
	PSUIPAddress   string
}

// VRPRequest is one payment under a mandate, made with no PSU present.
type VRPRequest struct {
	// IdempotencyKey makes a repeated request (after a timeout or a crash) return the
	// payment the bank already has instead of paying twice.
	IdempotencyKey string
	Amount         decimal.Decimal
	Currency       string
	RemittanceInfo string
	EndToEndID     string
}

// VRPStart is the bank's answer to a payment under a mandate.
type VRPStart struct {
	BankPaymentID string
	State         PaymentState
}

// VRPConnector is the VRP capability of a bank. The session carries the mandate's tokens and
// the mandate ID (BankConsentID).
type VRPConnector interface {
	// CreateMandate registers a mandate and returns the SCA redirect (BankConsentID is the
	// mandate ID).
	CreateMandate(ctx context.Context, req MandateRequest) (ConsentStart, error)
	// MandateStatus returns the mandate's status (MandateValid, ...).
	MandateStatus(ctx context.Context, s Session) (string, error)
	// RevokeMandate ends the mandate at the bank.
	RevokeMandate(ctx context.Context, s Session) error
	// InitiateVRP pays under the mandate; the bank refuses (Rejected) what its limits do not allow.
	InitiateVRP(ctx context.Context, s Session, req VRPRequest) (VRPStart, error)
	// VRPStatus returns the status of a payment under the mandate.
	VRPStatus(ctx context.Context, s Session, paymentID string) (PaymentState, error)
	// ConfirmVRPFunds asks whether the mandate's account covers the amount.
	ConfirmVRPFunds(ctx context.Context, s Session, amount decimal.Decimal, currency string) (bool, error)
}
