package payments

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/connectors"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
)

type fakeAccounts map[string]connections.Account

func (f fakeAccounts) GetAccount(_ context.Context, _ store.Scope, id string) (connections.Account, error) {
	if a, ok := f[id]; ok {
		return a, nil
	}
	return connections.Account{}, connections.ErrNotFound
}

type fakeOrgs struct{}

func (fakeOrgs) GetOrg(context.Context, string) (orgs.Org, error) {
	return orgs.Org{AllowedOrigins: []string{"https://app.example.com"}}, nil
}

type catalogueBanks struct{ c *bankcatalog.Catalogue }

func (b catalogueBanks) Bank(env, id string) (bankcatalog.Bank, error) {
	if bk, ok := b.c.Get(env, id); ok {
		return bk, nil
	}
	return bankcatalog.Bank{}, connectors.ErrUnknownBank
}

func TestValidate(t *testing.T) {
	cat, err := bankcatalog.Load("http://127.0.0.1:8080/sandbox-bank")
	if err != nil {
		t.Fatal(err)
	}
	rsd := ids.New(ids.Account)
	v := &Validator{Banks: catalogueBanks{cat}, Orgs: fakeOrgs{},
		Accounts: fakeAccounts{rsd: {ID: rsd, BankID: "sandbox-rs", IBAN: "RS35105008123123123173", Currency: "RSD"}},
		Now:      func() time.Time { return time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC) }}
	// Validation reads no document itself (the fakes answer): a client that never dials does.
	sandbox := store.For(&firestore.Client{}, tenant.Tenant{Env: tenant.Sandbox, OrgID: ids.New(ids.Organisation)})
	seed := func() Request {
		return Request{CreditorIBAN: "RS35105008123123123173", Amount: "1500.00", Currency: "RSD",
			RemittanceInfo: "Invoice INV-2026-042", BankID: "sandbox-rs", CallbackURL: "http://localhost:3000/cb"}
	}
	d, err := v.Validate(context.Background(), sandbox, seed())
	if err != nil {
		t.Fatalf("the seed's body: %v", err)
	}
	if d.Product != bank.ProductDomestic || d.Amount.String() != "1500" || d.Bank.ID != "sandbox-rs" {
		t.Errorf("seed draft %+v", d)
	}
	eur := seed()
	eur.BankID, eur.Currency, eur.Amount, eur.CreditorIBAN, eur.CreditorName = "sandbox-hr", "EUR", "10.50", "HR1723600001101234565", "Obrt Kovač"
	if d, err := v.Validate(context.Background(), sandbox, eur); err != nil || d.Product != bank.ProductSEPA {
		t.Errorf("EUR at sandbox-hr: %+v %v", d.Product, err)
	}
	eur.Instant = true
	if d, err := v.Validate(context.Background(), sandbox, eur); err != nil || d.Product != bank.ProductInstantSEPA {
		t.Errorf("instant EUR at sandbox-hr: %+v %v", d.Product, err)
	}
	fromAccount := seed()
	fromAccount.BankID, fromAccount.AccountID = "", rsd
	if d, err := v.Validate(context.Background(), sandbox, fromAccount); err != nil || d.DebtorIBAN != "RS35105008123123123173" || d.Bank.ID != "sandbox-rs" {
		t.Errorf("from an account: %+v %v", d, err)
	}
	// Without a bank the customer picks it on the hosted pages: no product yet, and the
	// banks that can take the payment are those Offers accepts.
	hostedReq := seed()
	hostedReq.BankID, hostedReq.Locale = "", "sr-cyrl"
	d, err = v.Validate(context.Background(), sandbox, hostedReq)
	if err != nil || d.Bank.ID != "" || d.Product != "" || d.Locale != "sr-Cyrl" {
		t.Errorf("without a bank: %+v %v", d, err)
	}
	p := Payment{ID: "pay_1", Amount: "1500.0000", Currency: "RSD", CreditorIBAN: d.CreditorIBAN}
	for id, want := range map[string]bool{"sandbox-rs": true, "sandbox-hr": false, "sandbox-bg": false} {
		b, _ := cat.Get(tenant.Sandbox, id)
		if Offers(p, b) != want {
			t.Errorf("Offers(seed payment, %s) = %v", id, !want)
		}
	}
	p.CreditorName = "Ana"
	if b, _ := cat.Get(tenant.Sandbox, "sandbox-hr"); !Offers(p, b) {
		t.Error("a named creditor can be paid cross-border from sandbox-hr")
	}
	p.Amount = "12000000.0100"
	if b, _ := cat.Get(tenant.Sandbox, "sandbox-rs"); Offers(p, b) {
		t.Error("an amount over the bank's maximum is offered")
	}

	for name, c := range map[string]struct {
		change func(*Request)
		status int
		field  string
	}{
		"bad IBAN check digits":      {func(r *Request) { r.CreditorIBAN = "RS35105008123123123174" }, 400, "creditorIban"},
		"IBAN too short":             {func(r *Request) { r.CreditorIBAN = "RS3510500812312312317" }, 400, "creditorIban"},
		"zero amount":                {func(r *Request) { r.Amount = "0.00" }, 400, "amount"},
		"negative amount":            {func(r *Request) { r.Amount = "-5.00" }, 400, "amount"},
		"three decimals for RSD":     {func(r *Request) { r.Amount = "1.005" }, 400, "amount"},
		"float exponent":             {func(r *Request) { r.Amount = "1e3" }, 400, "amount"},
		"unknown currency":           {func(r *Request) { r.Currency = "XXX" }, 400, "currency"},
		"lower-case currency":        {func(r *Request) { r.Currency = "rsd" }, 400, "currency"},
		"over the bank's maximum":    {func(r *Request) { r.Amount = "12000000.01" }, 400, "amount"},
		"remittance of 141":          {func(r *Request) { r.RemittanceInfo = strings.Repeat("a", 141) }, 400, "remittanceInfo"},
		"end-to-end ID of 36":        {func(r *Request) { r.EndToEndID = strings.Repeat("E", 36) }, 400, "endToEndId"},
		"end-to-end ID with //":      {func(r *Request) { r.EndToEndID = "A//B" }, 400, "endToEndId"},
		"execution today":            {func(r *Request) { r.ExecutionDate = "2026-12-01" }, 400, "executionDate"},
		"execution in the past":      {func(r *Request) { r.ExecutionDate = "2026-11-30" }, 400, "executionDate"},
		"execution not a date":       {func(r *Request) { r.ExecutionDate = "01.12.2026" }, 400, "executionDate"},
		"both accountId and bankId":  {func(r *Request) { r.AccountID = rsd }, 400, "accountId"},
		"unknown locale":             {func(r *Request) { r.BankID, r.Locale = "", "de" }, 400, "locale"},
		"unknown bank":               {func(r *Request) { r.BankID = "nosuch-rs" }, 400, "bankId"},
		"live bank with sandbox key": {func(r *Request) { r.BankID = "intesa-rs" }, 400, "bankId"},
		"another org's account":      {func(r *Request) { r.BankID, r.AccountID = "", ids.New(ids.Account) }, 404, ""},
		"currency the account lacks": {func(r *Request) { r.BankID, r.AccountID, r.Currency = "", rsd, "EUR" }, 400, "currency"},
		"debtorIban not the account": {func(r *Request) { r.BankID, r.AccountID, r.DebtorIBAN = "", rsd, "HR1723600001101234565" }, 400, "debtorIban"},
		"instant not offered":        {func(r *Request) { r.Instant = true }, 400, "instant"},
		"SEPA without creditorName":  {func(r *Request) { r.BankID, r.Currency, r.CreditorName = "sandbox-hr", "EUR", "" }, 400, "creditorName"},
		"callback not allowed":       {func(r *Request) { r.CallbackURL = "https://evil.example.net/cb" }, 400, "callbackUrl"},
		"callback missing":           {func(r *Request) { r.CallbackURL = "" }, 400, "callbackUrl"},
		"bad PSU IP":                 {func(r *Request) { r.PSUIPAddress = "999.1.1.1" }, 400, "psuIpAddress"},
		"control characters":         {func(r *Request) { r.RemittanceInfo = "a\x00b" }, 400, "remittanceInfo"},
	} {
		r := seed()
		c.change(&r)
		_, err := v.Validate(context.Background(), sandbox, r)
		apiErr, ok := err.(*httpapi.Error)
		if !ok || apiErr.Status != c.status {
			t.Errorf("%s: %v, want %d", name, err, c.status)
			continue
		}
		if c.field != "" && (len(apiErr.Details) == 0 || apiErr.Details[0].Field != c.field) {
			t.Errorf("%s: details %+v, want field %s", name, apiErr.Details, c.field)
		}
	}
}
