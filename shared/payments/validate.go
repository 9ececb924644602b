package payments

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/callbackurl"
	"tokapi.io/tok/shared/clock"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/hosted"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/money"
	"tokapi.io/tok/shared/store"
)

// Request is the body of POST /v1/payments.
type Request struct {
	CreditorIBAN   string `json:"creditorIban"`
	CreditorName   string `json:"creditorName"`
	Amount         string `json:"amount"`
	Currency       string `json:"currency"`
	RemittanceInfo string `json:"remittanceInfo"`
	AccountID      string `json:"accountId"`
	BankID         string `json:"bankId"`
	DebtorIBAN     string `json:"debtorIban"`
	EndToEndID     string `json:"endToEndId"`
	ExecutionDate  string `json:"executionDate"`
	CallbackURL    string `json:"callbackUrl"`
	Instant        bool   `json:"instant"`
	PSUIPAddress   string `json:"psuIpAddress"`
	// ConfirmFunds asks the bank's confirmation of funds for accountId before initiating.
	ConfirmFunds bool `json:"confirmFunds"`
	// Locale is the language of Tok's hosted pages (without bankId and accountId).
	Locale string `json:"locale"`
}

// Limits of the text fields (ISO 20022: Max140Text, Max35Text, Max70Text).
const (
	MaxRemittanceInfo = 140
	MaxEndToEndID     = 35
	MaxCreditorName   = 70
	// MaxExecutionDays bounds how far ahead a future-dated payment may be.
	MaxExecutionDays = 365
)

// Draft is a validated request: what Initiate sends to the bank.
type Draft struct {
	Bank    bankcatalog.Bank
	Account *connections.Account // when the request named accountId
	bank.Transfer
	Instant      bool
	CallbackURL  string
	PSUIPAddress string
	// Locale is the hosted pages' language ("" to follow the browser).
	Locale string
}

// Catalogue resolves banks of an environment (connections.Connectors).
type Catalogue interface {
	Bank(env, bankID string) (bankcatalog.Bank, error)
}

// Accounts reads an account of a tenant (connections.Repo).
type Accounts interface {
	GetAccount(ctx context.Context, scope store.Scope, id string) (connections.Account, error)
}

// Validator checks payment requests; every problem is a 400 naming the field (404 for an
// account the tenant does not have), before anything is stored or sent.
type Validator struct {
	Banks    Catalogue
	Accounts Accounts
	Orgs     callbackurl.Orgs
	Now      func() time.Time
}

// Validate checks req for the scope's tenant.
func (v *Validator) Validate(ctx context.Context, scope store.Scope, req Request) (Draft, error) {
	d := Draft{Transfer: bank.Transfer{RemittanceInfo: req.RemittanceInfo}, CallbackURL: req.CallbackURL, Instant: req.Instant}
	var err error
	if d.CreditorIBAN, err = CheckIBAN("creditorIban", req.CreditorIBAN); err != nil {
		return Draft{}, err
	}
	cur, ok := money.LookupCurrency(req.Currency)
	if !ok {
		return Draft{}, httpapi.InvalidField("currency", "must be an ISO 4217 currency code in upper case, like \"RSD\"")
	}
	d.Currency = cur.Code
	if d.Amount, err = CheckAmount(req.Amount, cur); err != nil {
		return Draft{}, err
	}
	if err := CheckText("remittanceInfo", req.RemittanceInfo, MaxRemittanceInfo); err != nil {
		return Draft{}, err
	}
	if err := CheckText("creditorName", req.CreditorName, MaxCreditorName); err != nil {
		return Draft{}, err
	}
	d.CreditorName = strings.TrimSpace(req.CreditorName)
	if d.EndToEndID, err = CheckEndToEndID(req.EndToEndID); err != nil {
		return Draft{}, err
	}
	if d.ExecutionDate, err = checkExecutionDate(req.ExecutionDate, v.now()); err != nil {
		return Draft{}, err
	}
	if req.PSUIPAddress != "" && net.ParseIP(req.PSUIPAddress) == nil {
		return Draft{}, httpapi.InvalidField("psuIpAddress", "must be an IPv4 or IPv6 address")
	}
	d.PSUIPAddress = req.PSUIPAddress
	if err := v.debtor(ctx, scope, req, &d); err != nil {
		return Draft{}, err
	}
	if req.ConfirmFunds && d.Account == nil {
		return Draft{}, httpapi.InvalidField("confirmFunds", "needs accountId: funds are confirmed for an account Tok has")
	}
	if d.Bank.ID != "" {
		if err := checkBank(&d, cur); err != nil {
			return Draft{}, err
		}
	}
	if req.Locale != "" {
		if d.Locale, ok = hosted.ParseLocale(req.Locale); !ok {
			return Draft{}, httpapi.InvalidField("locale", "must be one of "+strings.Join(hosted.Locales, ", "))
		}
	}
	if err := callbackurl.Check(ctx, v.Orgs, scope.Tenant(), "callbackUrl", req.CallbackURL); err != nil {
		return Draft{}, err
	}
	return d, nil
}

func (v *Validator) now() time.Time { return clock.Now(v.Now) }

// CheckIBAN validates the IBAN of a required field (400 naming it).
func CheckIBAN(field, raw string) (string, error) {
	if raw == "" {
		return "", httpapi.InvalidField(field, "is required")
	}
	iban, err := money.ValidateIBAN(raw)
	if err != nil {
		return "", httpapi.InvalidField(field, "is not a valid IBAN (country, length and mod-97 check digits)")
	}
	return iban, nil
}

// CheckAmount validates the required amount field: positive, within cur's minor units.
func CheckAmount(raw string, cur money.Currency) (decimal.Decimal, error) {
	return CheckAmountField("amount", raw, cur)
}

// CheckAmountField is CheckAmount for a field of another name.
func CheckAmountField(field, raw string, cur money.Currency) (decimal.Decimal, error) {
	if raw == "" {
		return decimal.Decimal{}, httpapi.InvalidField(field, "is required")
	}
	d, err := money.ParseAmount(raw)
	if err == nil {
		err = money.ValidateAmountForCurrency(d, cur)
	}
	if err != nil {
		return decimal.Decimal{}, httpapi.InvalidField(field, strings.TrimPrefix(err.Error(), money.ErrInvalidAmount.Error()+": "))
	}
	return d, nil
}

// CheckText bounds a free-text field and refuses control characters (banks reject them).
func CheckText(field, s string, max int) error {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return httpapi.InvalidField(field, fmt.Sprintf("must be at most %d characters", max))
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return httpapi.InvalidField(field, "must not contain control characters")
	}
	return nil
}

// CheckEndToEndID accepts the SEPA character set, at most 35 characters, no leading or
// trailing '/' and no "//" (EPC rules for references).
func CheckEndToEndID(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	bad := httpapi.InvalidField("endToEndId", fmt.Sprintf("must be 1 to %d characters of A-Z a-z 0-9 / - ? : ( ) . , ' + and space, without a leading or trailing '/' or '//'", MaxEndToEndID))
	if len(s) > MaxEndToEndID || strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.Contains(s, "//") {
		return "", bad
	}
	if strings.IndexFunc(s, func(r rune) bool { return !sepaChar(r) }) >= 0 {
		return "", bad
	}
	return s, nil
}

// sepaChar reports whether r is in the SEPA (EPC) basic Latin character set.
func sepaChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/-?:().,'+ ", r)
}

func checkExecutionDate(s string, now time.Time) (string, error) {
	if s == "" {
		return "", nil
	}
	day, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return "", httpapi.InvalidField("executionDate", "must be an ISO 8601 date (YYYY-MM-DD)")
	}
	today := now.Truncate(24 * time.Hour)
	if !day.After(today) {
		return "", httpapi.InvalidField("executionDate", "must be a future date (after "+today.Format(time.DateOnly)+", UTC); omit it to pay at once")
	}
	if day.After(today.AddDate(0, 0, MaxExecutionDays)) {
		return "", httpapi.InvalidField("executionDate", fmt.Sprintf("must be at most %d days ahead", MaxExecutionDays))
	}
	return s, nil
}

// Debtor resolves the paying side of req (accountId or bankId, one of them required, and
// debtorIban) for a payment in currency: the bank, and the account and debtor IBAN when known.
func (v *Validator) Debtor(ctx context.Context, scope store.Scope, req Request, currency string) (Draft, error) {
	d, err := v.DebtorOrNone(ctx, scope, req, currency)
	if err != nil {
		return Draft{}, err
	}
	if d.Bank.ID == "" {
		return Draft{}, httpapi.Validation("The request is invalid: give accountId or bankId.",
			httpapi.FieldError{Field: "accountId", Message: "or bankId is required"})
	}
	return d, nil
}

// DebtorOrNone is Debtor where neither accountId nor bankId is no error: d.Bank stays empty
// and the customer picks the bank on Tok's hosted pages.
func (v *Validator) DebtorOrNone(ctx context.Context, scope store.Scope, req Request, currency string) (Draft, error) {
	d := Draft{Transfer: bank.Transfer{Currency: currency}}
	if err := v.debtor(ctx, scope, req, &d); err != nil {
		return Draft{}, err
	}
	return d, nil
}

// debtor resolves the paying side: an account Tok has (bank and IBAN from it), a bank
// where the customer picks the account, or neither: the customer picks the bank on Tok's
// hosted pages (d.Bank stays empty).
func (v *Validator) debtor(ctx context.Context, scope store.Scope, req Request, d *Draft) error {
	if req.AccountID != "" && req.BankID != "" {
		return httpapi.Validation("The request is invalid: give either accountId or bankId, not both.",
			httpapi.FieldError{Field: "accountId", Message: "excludes bankId"}, httpapi.FieldError{Field: "bankId", Message: "excludes accountId"})
	}
	if req.DebtorIBAN != "" {
		iban, err := CheckIBAN("debtorIban", req.DebtorIBAN)
		if err != nil {
			return err
		}
		d.DebtorIBAN = iban
	}
	bankID := req.BankID
	if req.AccountID != "" {
		a, err := v.Accounts.GetAccount(ctx, scope, req.AccountID)
		if errors.Is(err, connections.ErrNotFound) {
			return httpapi.NotFound("Account " + req.AccountID)
		}
		if err != nil {
			return err
		}
		if d.DebtorIBAN != "" && d.DebtorIBAN != a.IBAN {
			return httpapi.InvalidField("debtorIban", "is not the IBAN of accountId (omit it)")
		}
		if a.IBAN == "" {
			return httpapi.InvalidField("accountId", "has no IBAN at its bank, so it cannot be named as the paying account")
		}
		if a.Currency != d.Currency {
			return httpapi.InvalidField("currency", "must be the account's currency ("+a.Currency+")")
		}
		d.Account, d.DebtorIBAN, bankID = &a, a.IBAN, a.BankID
	}
	if bankID == "" {
		return nil
	}
	b, err := v.Banks.Bank(scope.Tenant().Env, bankID)
	if err != nil {
		field := "bankId"
		if req.AccountID != "" {
			field = "accountId"
		}
		return httpapi.InvalidField(field, "is not at a bank offering payments in this environment (see GET /v1/banks?service=pis)")
	}
	d.Bank = b
	return nil
}

// checkBank checks the bank offers payment initiation and a product for the currency, and
// that the amount is within the bank's maximum, and picks the product: SEPA (instant when
// asked and offered) for EUR, the domestic scheme for the bank's own currency, else a
// cross-border transfer.
func checkBank(d *Draft, cur money.Currency) error {
	b := d.Bank
	if !b.Services.PIS {
		return httpapi.InvalidField(fieldOfBank(d), "is at a bank that does not offer payment initiation through Tok")
	}
	offers := func(p string) bool { return slices.Contains(b.PaymentProducts, p) }
	switch {
	case d.Instant && d.Currency == "EUR" && offers(bank.ProductInstantSEPA):
		d.Product = bank.ProductInstantSEPA
	case d.Instant:
		return httpapi.InvalidField("instant", "is not offered by "+b.ID+" for "+d.Currency)
	case d.Currency == "EUR" && offers(bank.ProductSEPA):
		d.Product = bank.ProductSEPA
	case d.Currency == b.Currency && offers(bank.ProductDomestic):
		d.Product = bank.ProductDomestic
	case offers(bank.ProductCrossBorder):
		d.Product = bank.ProductCrossBorder
	default:
		return httpapi.InvalidField("currency", b.ID+" offers no payment product for "+d.Currency)
	}
	// The bank-defined domestic schemes take a payment without the creditor's name; the
	// Berlin Group products require it.
	if d.CreditorName == "" && d.Product != bank.ProductDomestic {
		return httpapi.InvalidField("creditorName", "is required for a "+d.Product+" payment")
	}
	if d.Currency == b.Currency && d.Amount.GreaterThan(b.Limits.MaxPayment()) {
		return httpapi.InvalidField("amount", "is over the bank's maximum of "+b.Limits.MaxPayment().StringFixed(cur.MinorUnits)+" "+b.Currency)
	}
	return nil
}

func fieldOfBank(d *Draft) string {
	if d.Account != nil {
		return "accountId"
	}
	return "bankId"
}
