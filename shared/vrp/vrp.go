// Package vrp is Tok's variable recurring payments: a VRP consent (the customer authorises a
// mandate with control parameters once, in the bank's SCA) and payments under it with no
// customer present, each checked against every limit and reserved in one Firestore
// transaction before the bank is called. A VRP payment is a shared/payments Payment with a
// vrpConsentId; the payment status worker sends and follows it through Service.Follow.
//
// Layout, under the tenant (store.Scope):
//
//	envs/{env}/orgs/{org}/vrpConsents/{vrc_…}   Consent, with its counters (usage, occurrences)
//	envs/{env}/orgs/{org}/payments/{pay_…}      its payments (vrpConsentId), each with its Reservation
//
// The counters hold, per period of each periodic limit, the minor units of every payment
// not yet ended unpaid (pending or completed); a payment that ends REJECTED or FAILED gives
// its share back in the transaction of that change (shared/payments).
package vrp

import (
	"fmt"
	"time"

	"tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/tokenvault"
	"tokapi.io/tok/shared/vrplimits"
)

// Collection holds the VRP consents under the tenant.
const Collection = payments.VRPConsents

// Consent statuses.
const (
	StatusAwaiting   = "AWAITING_AUTHORIZATION"
	StatusAuthorized = "AUTHORIZED"
	StatusRejected   = "REJECTED"
	StatusFailed     = "FAILED"
	StatusRevoked    = "REVOKED"
	StatusExpired    = "EXPIRED"
)

// Statuses lists every consent status.
var Statuses = []string{StatusAwaiting, StatusAuthorized, StatusRejected, StatusFailed, StatusRevoked, StatusExpired}

// VRP types.
const (
	TypeSweeping = "SWEEPING"
	TypeOther    = "OTHER"
)

// Event types of consents (payments under them publish the payment.* events).
const (
	EventAuthorized = "vrp_consent.authorized"
	EventRevoked    = "vrp_consent.revoked"
	EventExpired    = "vrp_consent.expired"
)

// Who revoked a consent.
const (
	RevokedByBank         = "bank"         // at the bank: the customer, or the bank itself
	RevokedByOrganisation = "organisation" // DELETE /v1/vrp-consents/{id}
)

// Product is the paymentProduct of VRP payments (no Berlin Group product: the bank's
// mandate service).
const Product = "variable-recurring-payments"

// Limit is one periodic limit; MaximumAmount is in the wire format.
type Limit struct {
	MaximumAmount   string `firestore:"maximumAmount" json:"maximumAmount"`
	PeriodType      string `firestore:"periodType" json:"periodType"`
	PeriodAlignment string `firestore:"periodAlignment" json:"periodAlignment"`
}

// Usage is one counter: the minor units held in one period of one periodic limit, until
// the period ends (then the counter is dropped).
type Usage struct {
	Minor int64     `firestore:"minor"`
	Until time.Time `firestore:"until"`
}

// Consent is a VRP consent as Tok records it. Amounts are in the wire format (4 decimals).
type Consent struct {
	ID           string `firestore:"id"`
	Env          string `firestore:"env"`
	OrgID        string `firestore:"orgId"`
	Status       string `firestore:"status"`
	StatusReason string `firestore:"statusReason"`

	BankID         string     `firestore:"bankId"`
	AccountID      string     `firestore:"accountId"`
	DebtorIBAN     string     `firestore:"debtorIban"`
	CreditorIBAN   string     `firestore:"creditorIban"`
	CreditorName   string     `firestore:"creditorName"`
	Currency       string     `firestore:"currency"`
	MaxIndividual  string     `firestore:"maxIndividual"`
	MinIndividual  string     `firestore:"minIndividual"`
	PeriodicLimits []Limit    `firestore:"periodicLimits"`
	MaxOccurrences int        `firestore:"maxOccurrences"`
	ValidFrom      time.Time  `firestore:"validFrom"`
	ValidTo        *time.Time `firestore:"validTo"`
	TimeZone       string     `firestore:"timeZone"`
	VRPType        string     `firestore:"vrpType"`
	RemittanceInfo string     `firestore:"remittanceInfo"`
	CallbackURL    string     `firestore:"callbackUrl"`
	RedirectURL    string     `firestore:"redirectUrl"`

	BankMandateID string    `firestore:"bankMandateId"`
	StateHash     string    `firestore:"stateHash"`
	AuthorizeBy   time.Time `firestore:"authorizeBy"`
	// Tokens is the sealed bank.Tokens of the mandate (AAD TokensAAD); never in a response
	// or a log. The token vault refreshes them.
	tokenvault.Sealed

	Usage       map[string]Usage `firestore:"usage"`
	Occurrences int              `firestore:"occurrences"`

	// RevokedBy says who ended a REVOKED consent: RevokedByBank or RevokedByOrganisation.
	RevokedBy string `firestore:"revokedBy"`
	// Outbox holds the consent's events written with the change that caused them, until
	// published (OutboxPending, for the sweep's query), as a payment's do.
	Outbox        []payments.OutboxEvent `firestore:"outbox"`
	OutboxPending bool                   `firestore:"outboxPending"`

	AuthorizedAt *time.Time `firestore:"authorizedAt"`
	EndedAt      *time.Time `firestore:"endedAt"`
	CreatedAt    time.Time  `firestore:"createdAt"`
	UpdatedAt    time.Time  `firestore:"updatedAt"`
}

// Tenant is the consent's owner.
func (c Consent) Tenant() tenant.Tenant { return tenant.Tenant{Env: c.Env, OrgID: c.OrgID} }

// TokensAAD is the associated data sealing a VRP consent's bank tokens.
func TokensAAD(orgID, consentID string) []byte { return []byte("vrp/" + orgID + "/" + consentID) }

// EffectiveStatus is Status, with an authorised consent past its end EXPIRED and one never
// authorised within its window FAILED (the sweep records both).
func (c Consent) EffectiveStatus(now time.Time) (status, reason string) {
	switch {
	case c.Status == StatusAuthorized && c.ValidTo != nil && !now.Before(*c.ValidTo):
		return StatusExpired, ""
	case c.Status == StatusAwaiting && !now.Before(c.AuthorizeBy):
		return StatusFailed, payments.ReasonAuthorizationExpired
	}
	return c.Status, c.StatusReason
}

// Limits are the consent's control parameters for vrplimits.
func (c Consent) Limits() (vrplimits.Limits, error) {
	st := vrplimits.Stored{Currency: c.Currency, MaxIndividual: c.MaxIndividual, MinIndividual: c.MinIndividual,
		MaxOccurrences: c.MaxOccurrences, From: c.ValidFrom, TimeZone: c.TimeZone}
	if c.ValidTo != nil {
		st.To = *c.ValidTo
	}
	for _, p := range c.PeriodicLimits {
		st.Periodic = append(st.Periodic, vrplimits.StoredPeriodic{Max: p.MaximumAmount, Type: p.PeriodType, Alignment: p.PeriodAlignment})
	}
	l, err := st.Limits()
	if err != nil {
		return l, fmt.Errorf("vrp consent %s: %w", c.ID, err)
	}
	return l, nil
}

// enqueue adds the consent event typ, carrying the consent as it is now, to its outbox.
func (c *Consent) enqueue(typ string, now time.Time) error {
	o, err := payments.NewOutboxEvent(c.Tenant(), c.ID, typ, now, EventDataOf(*c))
	if err != nil {
		return err
	}
	c.Outbox, c.OutboxPending = append(c.Outbox, o), true
	return nil
}

// used is what the counters hold, for vrplimits.Check.
func (c Consent) used(l vrplimits.Limits) vrplimits.Used {
	return vrplimits.Used{Occurrences: c.Occurrences, Period: func(i int, p vrplimits.Period) int64 {
		return c.Usage[l.Key(i, p.Start)].Minor
	}}
}
