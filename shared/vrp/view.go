package vrp

import (
	"time"

	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/money"
	"tokapi.io/tok/shared/payments"
)

// JSON is the API's VRP consent object.
type JSON struct {
	ID                      string     `json:"id"`
	Status                  string     `json:"status"`
	StatusReason            *string    `json:"statusReason"`
	BankID                  *string    `json:"bankId"`
	AccountID               *string    `json:"accountId"`
	DebtorIBAN              *string    `json:"debtorIban"`
	CreditorIBAN            string     `json:"creditorIban"`
	CreditorName            string     `json:"creditorName"`
	Currency                string     `json:"currency"`
	MaximumIndividualAmount string     `json:"maximumIndividualAmount"`
	MinimumIndividualAmount *string    `json:"minimumIndividualAmount"`
	PeriodicLimits          []Limit    `json:"periodicLimits"`
	MaximumOccurrences      *int       `json:"maximumOccurrences"`
	StartDateTime           time.Time  `json:"startDateTime"`
	EndDateTime             *time.Time `json:"endDateTime"`
	TimeZone                string     `json:"timeZone"`
	VRPType                 string     `json:"vrpType"`
	RemittanceInfo          string     `json:"remittanceInfo"`
	CallbackURL             string     `json:"callbackUrl"`
	RedirectURL             *string    `json:"redirectUrl"`
	AuthorizeBy             time.Time  `json:"authorizeBy"`
	Remaining               *Remaining `json:"remaining"`
	AuthorizedAt            *time.Time `json:"authorizedAt"`
	EndedAt                 *time.Time `json:"endedAt"`
	RevokedBy               *string    `json:"revokedBy"`
	CreatedAt               time.Time  `json:"createdAt"`
	UpdatedAt               time.Time  `json:"updatedAt"`
}

// Remaining is what an authorised consent still allows now: per periodic limit in its
// current period, and in payments.
type Remaining struct {
	PeriodicLimits []PeriodRemaining `json:"periodicLimits"`
	Occurrences    *int              `json:"occurrences"`
}

// PeriodRemaining is one periodic limit in its current period. Used counts payments
// pending and completed (a rejected or failed one gives its amount back).
type PeriodRemaining struct {
	PeriodType      string    `json:"periodType"`
	PeriodAlignment string    `json:"periodAlignment"`
	MaximumAmount   string    `json:"maximumAmount"`
	Used            string    `json:"used"`
	Remaining       string    `json:"remaining"`
	PeriodStart     time.Time `json:"periodStart"`
	ResetsAt        time.Time `json:"resetsAt"`
}

// View is c as the API shows it at now.
func View(c Consent, now time.Time) JSON {
	st, reason := c.EffectiveStatus(now)
	out := JSON{
		ID: c.ID, Status: st, StatusReason: httpapi.Optional(reason), BankID: httpapi.Optional(c.BankID), AccountID: httpapi.Optional(c.AccountID),
		DebtorIBAN: httpapi.Optional(c.DebtorIBAN), CreditorIBAN: c.CreditorIBAN, CreditorName: c.CreditorName, Currency: c.Currency,
		MaximumIndividualAmount: c.MaxIndividual, MinimumIndividualAmount: httpapi.Optional(c.MinIndividual), PeriodicLimits: c.PeriodicLimits,
		StartDateTime: c.ValidFrom, EndDateTime: c.ValidTo, TimeZone: c.TimeZone, VRPType: c.VRPType, RemittanceInfo: c.RemittanceInfo,
		CallbackURL: c.CallbackURL, AuthorizeBy: c.AuthorizeBy, AuthorizedAt: c.AuthorizedAt, EndedAt: c.EndedAt, RevokedBy: httpapi.Optional(c.RevokedBy),
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
	if c.MaxOccurrences > 0 {
		n := c.MaxOccurrences
		out.MaximumOccurrences = &n
	}
	switch st {
	case StatusAwaiting:
		out.RedirectURL = httpapi.Optional(c.RedirectURL)
	case StatusAuthorized:
		out.Remaining = remaining(c, now)
	}
	return out
}

func remaining(c Consent, now time.Time) *Remaining {
	l, err := c.Limits()
	if err != nil {
		return nil
	}
	r := &Remaining{PeriodicLimits: make([]PeriodRemaining, 0, len(l.Periodic))}
	at := now
	if at.Before(l.From) {
		at = l.From // before validity: the first period
	}
	for i, p := range c.PeriodicLimits {
		per := l.Period(i, at)
		used := c.Usage[l.Key(i, at)].Minor
		left := max(l.Minor(l.Periodic[i].Max)-used, 0)
		r.PeriodicLimits = append(r.PeriodicLimits, PeriodRemaining{PeriodType: p.PeriodType, PeriodAlignment: p.PeriodAlignment,
			MaximumAmount: p.MaximumAmount, Used: money.FormatAmount(l.Major(used)), Remaining: money.FormatAmount(l.Major(left)),
			PeriodStart: per.Start.UTC(), ResetsAt: per.End.UTC()})
	}
	if c.MaxOccurrences > 0 {
		n := max(c.MaxOccurrences-c.Occurrences, 0)
		r.Occurrences = &n
	}
	return r
}

// EventData is the data of every vrp_consent.* event.
type EventData struct {
	VRPConsentID string  `json:"vrpConsentId"`
	Status       string  `json:"status"`
	StatusReason *string `json:"statusReason"`
	BankID       *string `json:"bankId"`
	AccountID    *string `json:"accountId"`
	Currency     string  `json:"currency"`
	RevokedBy    *string `json:"revokedBy,omitempty"`
}

// EventDataOf is the event data of c as it is now.
func EventDataOf(c Consent) EventData {
	return EventData{VRPConsentID: c.ID, Status: c.Status, StatusReason: httpapi.Optional(c.StatusReason), BankID: httpapi.Optional(c.BankID),
		AccountID: httpapi.Optional(c.AccountID), Currency: c.Currency, RevokedBy: httpapi.Optional(c.RevokedBy)}
}

// Consents is the kind of the VRP consents of s, as routes serve them.
func (s *Service) Consents() payments.Kind[Consent] {
	return payments.Kind[Consent]{What: "VRP consent", Path: "/v1/vrp-consents/", Get: s.Get, NotFound: ErrNotFound,
		ID: func(c Consent) string { return c.ID }, View: func(c Consent, now time.Time) any { return View(c, now) }, Now: s.now}
}
