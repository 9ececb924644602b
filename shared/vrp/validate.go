package vrp

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/callbackurl"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/hosted"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/money"
	"tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/vrplimits"
)

// LimitRequest is one periodic limit of a CreateRequest.
type LimitRequest struct {
	MaximumAmount   string `json:"maximumAmount"`
	PeriodType      string `json:"periodType"`
	PeriodAlignment string `json:"periodAlignment"`
}

// CreateRequest is the body of POST /v1/vrp-consents.
type CreateRequest struct {
	BankID                  string         `json:"bankId"`
	AccountID               string         `json:"accountId"`
	DebtorIBAN              string         `json:"debtorIban"`
	CreditorIBAN            string         `json:"creditorIban"`
	CreditorName            string         `json:"creditorName"`
	Currency                string         `json:"currency"`
	MaximumIndividualAmount string         `json:"maximumIndividualAmount"`
	MinimumIndividualAmount string         `json:"minimumIndividualAmount"`
	PeriodicLimits          []LimitRequest `json:"periodicLimits"`
	MaximumOccurrences      int            `json:"maximumOccurrences"`
	StartDateTime           string         `json:"startDateTime"`
	EndDateTime             string         `json:"endDateTime"`
	TimeZone                string         `json:"timeZone"`
	RemittanceInfo          string         `json:"remittanceInfo"`
	CallbackURL             string         `json:"callbackUrl"`
	VRPType                 string         `json:"vrpType"`
	PSUIPAddress            string         `json:"psuIpAddress"`
	// Locale is the language of Tok's hosted pages (without bankId and accountId).
	Locale string `json:"locale"`
}

// Bounds of a consent's parameters.
const (
	MaxPeriodicLimits = 8
	MaxOccurrences    = 100000
	// MaxValidity bounds endDateTime after the start.
	MaxValidity = 5 * 366 * 24 * time.Hour
)

// draft is a validated CreateRequest.
type draft struct {
	bank    bankcatalog.Bank
	account *connections.Account
	consent Consent
	limits  vrplimits.Limits
	// locale is the hosted pages' language ("" to follow the browser).
	locale string
}

// Validator checks VRP consent requests; every problem is a 400 naming the field (404 for an
// account the tenant does not have), before anything is stored or sent.
type Validator struct {
	Payments *payments.Validator
	Orgs     callbackurl.Orgs
}

func (v *Validator) validate(ctx context.Context, scope store.Scope, req CreateRequest, now time.Time) (draft, error) {
	cur, ok := money.LookupCurrency(req.Currency)
	if !ok {
		return draft{}, httpapi.InvalidField("currency", "must be an ISO 4217 currency code in upper case, like \"EUR\"")
	}
	c := Consent{Currency: cur.Code, VRPType: req.VRPType, CallbackURL: req.CallbackURL, MaxOccurrences: req.MaximumOccurrences}
	var err error
	if c.CreditorIBAN, err = payments.CheckIBAN("creditorIban", req.CreditorIBAN); err != nil {
		return draft{}, err
	}
	if err := payments.CheckText("creditorName", req.CreditorName, payments.MaxCreditorName); err != nil {
		return draft{}, err
	}
	if c.CreditorName = strings.TrimSpace(req.CreditorName); c.CreditorName == "" {
		return draft{}, httpapi.InvalidField("creditorName", "is required")
	}
	if err := payments.CheckText("remittanceInfo", req.RemittanceInfo, payments.MaxRemittanceInfo); err != nil {
		return draft{}, err
	}
	if c.RemittanceInfo = strings.TrimSpace(req.RemittanceInfo); c.RemittanceInfo == "" {
		return draft{}, httpapi.InvalidField("remittanceInfo", "is required: the reference the creditor gives every payment")
	}
	if req.VRPType != TypeSweeping && req.VRPType != TypeOther {
		return draft{}, httpapi.InvalidField("vrpType", "must be SWEEPING or OTHER")
	}
	l := vrplimits.Limits{Currency: cur}
	if l.MaxIndividual, err = payments.CheckAmountField("maximumIndividualAmount", req.MaximumIndividualAmount, cur); err != nil {
		return draft{}, err
	}
	if req.MinimumIndividualAmount != "" {
		if l.MinIndividual, err = payments.CheckAmountField("minimumIndividualAmount", req.MinimumIndividualAmount, cur); err != nil {
			return draft{}, err
		}
		if l.MinIndividual.GreaterThan(l.MaxIndividual) {
			return draft{}, httpapi.InvalidField("minimumIndividualAmount", "must not be more than maximumIndividualAmount")
		}
		c.MinIndividual = money.FormatAmount(l.MinIndividual)
	}
	c.MaxIndividual = money.FormatAmount(l.MaxIndividual)
	if err := checkPeriodic(req.PeriodicLimits, cur, l.MinIndividual, &c, &l); err != nil {
		return draft{}, err
	}
	if req.MaximumOccurrences < 0 || req.MaximumOccurrences > MaxOccurrences {
		return draft{}, httpapi.InvalidField("maximumOccurrences", fmt.Sprintf("must be 0 (no limit) to %d", MaxOccurrences))
	}
	if err := checkWindow(req, now, &c); err != nil {
		return draft{}, err
	}
	if err := callbackurl.Check(ctx, v.Orgs, scope.Tenant(), "callbackUrl", req.CallbackURL); err != nil {
		return draft{}, err
	}
	locale := ""
	if req.Locale != "" {
		if locale, ok = hosted.ParseLocale(req.Locale); !ok {
			return draft{}, httpapi.InvalidField("locale", "must be one of "+strings.Join(hosted.Locales, ", "))
		}
	}
	d, err := v.Payments.DebtorOrNone(ctx, scope, payments.Request{AccountID: req.AccountID, BankID: req.BankID, DebtorIBAN: req.DebtorIBAN}, cur.Code)
	if err != nil {
		return draft{}, err
	}
	if d.Bank.ID == "" { // the customer picks a bank offering VRP on the hosted pages
		c.DebtorIBAN = d.DebtorIBAN
		return draft{consent: c, limits: l, locale: locale}, nil
	}
	if !d.Bank.Services.VRP {
		field := "bankId"
		if d.Account != nil {
			field = "accountId"
		}
		return draft{}, httpapi.InvalidField(field, "is at a bank that does not offer variable recurring payments (see GET /v1/banks?service=vrp)")
	}
	c.BankID, c.DebtorIBAN = d.Bank.ID, d.DebtorIBAN
	if d.Account != nil {
		c.AccountID = d.Account.ID
	}
	return draft{bank: d.Bank, account: d.Account, consent: c, limits: l, locale: locale}, nil
}

func checkPeriodic(in []LimitRequest, cur money.Currency, minimum decimal.Decimal, c *Consent, l *vrplimits.Limits) error {
	if len(in) == 0 || len(in) > MaxPeriodicLimits {
		return httpapi.InvalidField("periodicLimits", fmt.Sprintf("must list 1 to %d limits", MaxPeriodicLimits))
	}
	for i, p := range in {
		field := fmt.Sprintf("periodicLimits[%d]", i)
		if !slices.Contains(vrplimits.PeriodTypes, p.PeriodType) {
			return httpapi.InvalidField(field+".periodType", "must be DAY, WEEK, MONTH or YEAR")
		}
		if p.PeriodAlignment == "" {
			p.PeriodAlignment = vrplimits.AlignConsent
		}
		if !slices.Contains(vrplimits.Alignments, p.PeriodAlignment) {
			return httpapi.InvalidField(field+".periodAlignment", "must be CONSENT or CALENDAR")
		}
		for _, q := range c.PeriodicLimits {
			if q.PeriodType == p.PeriodType && q.PeriodAlignment == p.PeriodAlignment {
				return httpapi.InvalidField(field, "repeats a period type and alignment")
			}
		}
		d, err := payments.CheckAmountField(field+".maximumAmount", p.MaximumAmount, cur)
		if err != nil {
			return err
		}
		if d.LessThan(minimum) {
			return httpapi.InvalidField(field+".maximumAmount", "must not be less than minimumIndividualAmount")
		}
		c.PeriodicLimits = append(c.PeriodicLimits, Limit{MaximumAmount: money.FormatAmount(d), PeriodType: p.PeriodType, PeriodAlignment: p.PeriodAlignment})
		l.Periodic = append(l.Periodic, vrplimits.Periodic{Max: d, Type: p.PeriodType, Alignment: p.PeriodAlignment})
	}
	return nil
}

// checkWindow reads the validity window and the time zone of calendar periods.
func checkWindow(req CreateRequest, now time.Time, c *Consent) error {
	c.TimeZone = req.TimeZone
	if c.TimeZone == "" {
		c.TimeZone = vrplimits.DefaultTimeZone
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "Local" {
		return httpapi.InvalidField("timeZone", "must be an IANA time zone, like \"Europe/Belgrade\"")
	}
	c.ValidFrom = now
	if req.StartDateTime != "" {
		t, err := time.Parse(time.RFC3339, req.StartDateTime)
		if err != nil {
			return httpapi.InvalidField("startDateTime", "must be an ISO 8601 date-time with an offset")
		}
		if t.Before(now.Add(-time.Minute)) {
			return httpapi.InvalidField("startDateTime", "must not be in the past")
		}
		c.ValidFrom = t.UTC()
	}
	if req.EndDateTime != "" {
		t, err := time.Parse(time.RFC3339, req.EndDateTime)
		if err != nil {
			return httpapi.InvalidField("endDateTime", "must be an ISO 8601 date-time with an offset")
		}
		if !t.After(c.ValidFrom) || t.Sub(c.ValidFrom) > MaxValidity {
			return httpapi.InvalidField("endDateTime", "must be after startDateTime, by at most 5 years")
		}
		end := t.UTC()
		c.ValidTo = &end
	}
	return nil
}
