package sandboxbank_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/bank/berlingroup"
	"tokapi.io/tok/shared/money"
	"tokapi.io/tok/shared/sandboxbank"
)

func TestDemoPersonaAIS(t *testing.T) {
	e := newEnv(t, func(o *sandboxbank.Options) { o.AccessTokenTTL = 30 * 24 * time.Hour })
	ctx := context.Background()
	c := e.connector("sandbox-rs")
	s := e.consent(ctx, c, "demo", "demo")
	s.PSUPresent, s.PSUIPAddress = true, "203.0.113.7"

	if st, err := c.ConsentStatus(ctx, s); err != nil || st != bank.ConsentValid {
		t.Fatalf("ConsentStatus = %q, %v", st, err)
	}
	accts, err := c.Accounts(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	currencies := map[string]bool{}
	for _, a := range accts {
		currencies[a.Currency] = true
		if _, err := money.ValidateIBAN(a.IBAN); err != nil || !strings.HasPrefix(a.IBAN, "RS") {
			t.Errorf("IBAN %s: %v", a.IBAN, err)
		}
	}
	if len(accts) < 2 || !currencies["RSD"] || !currencies["EUR"] {
		t.Fatalf("demo accounts = %+v, want RSD and EUR", accts)
	}
	bals, err := c.Balances(ctx, s, accts[0].ResourceID)
	if err != nil || len(bals) == 0 || bals[0].Currency != "RSD" {
		t.Fatalf("Balances = %+v, %v", bals, err)
	}

	// 12 months of transactions, streamed page by page.
	var booked, pending, pages int
	var salary, rent, invoice bool
	firstDate := "9999"
	pendingByRef := map[string]string{}
	q := bank.TransactionQuery{DateFrom: e.clock.Now().AddDate(-1, 0, 0), Status: bank.StatusBoth}
	err = c.Transactions(ctx, s, accts[0].ResourceID, q, func(p []bank.Transaction) error {
		pages++
		for _, x := range p {
			if !x.Amount.IsPositive() || (x.Direction != bank.DirectionInbound && x.Direction != bank.DirectionOutbound) {
				t.Errorf("bad amount/direction %v %s", x.Amount, x.Direction)
			}
			switch x.Status {
			case bank.StatusBooked:
				booked++
				firstDate = min(firstDate, x.BookingDate)
			case bank.StatusPending:
				pending++
				pendingByRef[x.EntryReference] = x.BankTransactionID
			}
			salary = salary || strings.HasPrefix(x.RemittanceInfo, "Zarada")
			rent = rent || strings.HasPrefix(x.RemittanceInfo, "Zakup")
			invoice = invoice || strings.HasPrefix(x.RemittanceInfo, "Racun 20")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if booked < 300 || pending == 0 || pages < 2 || !salary || !rent || !invoice {
		t.Fatalf("booked=%d pending=%d pages=%d salary=%v rent=%v invoice=%v", booked, pending, pages, salary, rent, invoice)
	}
	if firstDate > e.clock.Now().AddDate(-1, 0, 2).Format(time.DateOnly) {
		t.Fatalf("oldest booking %s: less than 12 months", firstDate)
	}

	// Pending entries book later under a new transaction ID, same entryReference.
	e.clock.Add(4 * 24 * time.Hour)
	rebooked := 0
	err = c.Transactions(ctx, s, accts[0].ResourceID, bank.TransactionQuery{DateFrom: e.clock.Now().AddDate(0, 0, -10), Status: bank.StatusBooked},
		func(p []bank.Transaction) error {
			for _, x := range p {
				if old, ok := pendingByRef[x.EntryReference]; ok {
					rebooked++
					if old == x.BankTransactionID {
						t.Errorf("transaction %s kept its ID when booked", old)
					}
				}
			}
			return nil
		})
	if err != nil || rebooked != len(pendingByRef) {
		t.Fatalf("rebooked %d of %d pending: %v", rebooked, len(pendingByRef), err)
	}

	sos, err := c.StandingOrders(ctx, s, accts[0].ResourceID)
	if err != nil || len(sos) < 2 || sos[0].Frequency != "Monthly" {
		t.Fatalf("StandingOrders = %+v, %v", sos, err)
	}
}

func TestRefreshRotationAndExpiry(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.connector("sandbox-hr")
	verifier, challenge := bank.NewPKCE()
	start, err := c.CreateConsent(ctx, bank.ConsentRequest{Access: []string{"accounts", "balances", "transactions"},
		ValidUntil: e.clock.Now().AddDate(0, 0, 30), RedirectURI: redirectURI, State: "st", CodeChallenge: challenge})
	if err != nil {
		t.Fatal(err)
	}
	code := e.sca(start.AuthorizeURL, "demo", "demo", "approve").Query().Get("code")
	// A wrong verifier fails (PKCE), and the code is single-use.
	if _, err := c.ExchangeCode(ctx, code, strings.Repeat("x", 43), redirectURI); bank.KindOf(err) != bank.ConsentExpired {
		t.Fatalf("wrong verifier: %v", err)
	}
	code = func() string {
		start, _ := c.CreateConsent(ctx, bank.ConsentRequest{Access: []string{"accounts", "balances", "transactions"},
			ValidUntil: e.clock.Now().AddDate(0, 0, 30), RedirectURI: redirectURI, State: "st", CodeChallenge: challenge})
		return e.sca(start.AuthorizeURL, "demo", "demo", "approve").Query().Get("code")
	}()
	tok, err := c.ExchangeCode(ctx, code, verifier, redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExchangeCode(ctx, code, verifier, redirectURI); bank.KindOf(err) != bank.ConsentExpired {
		t.Fatalf("code reuse: %v", err)
	}
	if strings.Contains(tok.String(), tok.AccessToken) || strings.Contains(tok.String(), tok.RefreshToken) {
		t.Fatal("Tokens.String leaks a token")
	}
	tok2, err := c.Refresh(ctx, tok.RefreshToken)
	if err != nil || tok2.RefreshToken == tok.RefreshToken {
		t.Fatalf("Refresh: %v", err)
	}
	_, err = c.Refresh(ctx, tok.RefreshToken) // rotated: the old one is dead
	wantKind(t, err, bank.ConsentExpired)
	// Past validUntil the consent is expired: data calls and refreshes say so.
	e.clock.Add(31 * 24 * time.Hour)
	_, err = c.Refresh(ctx, tok2.RefreshToken)
	wantKind(t, err, bank.ConsentExpired)
}

func TestFrequencyPerDay(t *testing.T) {
	e, c, s := consented(t, "sandbox-si", "demo")
	ctx := context.Background()
	for i := range 4 {
		if _, err := c.Accounts(ctx, s); err != nil {
			t.Fatalf("unattended access %d: %v", i+1, err)
		}
	}
	_, err := c.Accounts(ctx, s)
	wantKind(t, err, bank.AccessExceeded)
	// With the PSU present there is no limit; other resources count apart.
	present := s
	present.PSUPresent, present.PSUIPAddress = true, "198.51.100.4"
	if _, err := c.Accounts(ctx, present); err != nil {
		t.Fatal(err)
	}
	// The next UTC day has a fresh allowance (the access token is refreshed first).
	e.clock.Add(24 * time.Hour)
	_, err = c.Accounts(ctx, s)
	wantKind(t, err, bank.TokenExpired)
}

func TestDeleteConsentThenRevoked(t *testing.T) {
	_, c, s := consented(t, "sandbox-me", "demo")
	ctx := context.Background()
	if err := c.DeleteConsent(ctx, s); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.ConsentStatus(ctx, s); st != bank.ConsentTerminatedByTPP {
		t.Fatalf("status after delete = %s", st)
	}
	_, err := c.Accounts(ctx, s)
	wantKind(t, err, bank.ConsentRevoked)
}

func TestPersonaDown(t *testing.T) {
	_, c, s := consented(t, "sandbox-ba", "down", func(cfg *berlingroup.Config) { cfg.BreakerThreshold = 3 })
	ctx := context.Background()
	_, err := c.Accounts(ctx, s) // 3 attempts, all 503: the circuit opens
	wantKind(t, err, bank.Unavailable)
	if c.BreakerState() != "open" {
		t.Fatalf("breaker = %s, want open", c.BreakerState())
	}
	_, err = c.Balances(ctx, s, "x")
	var be *bank.Error
	if !errors.As(err, &be) || be.BankCode != "circuit_open" {
		t.Fatalf("want circuit_open, got %v", err)
	}
}

func TestPersonaSlow(t *testing.T) {
	_, c, s := consented(t, "sandbox-mk", "slow", func(cfg *berlingroup.Config) { cfg.Timeout = 300 * time.Millisecond; cfg.Retries = 2 })
	ctx := context.Background()
	began := time.Now()
	_, err := c.Accounts(ctx, s)
	wantKind(t, err, bank.Unavailable)
	if time.Since(began) > 2*time.Second {
		t.Fatalf("timeouts not enforced: took %v", time.Since(began))
	}
}

func TestPersonaDeny(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.connector("sandbox-al")
	_, challenge := bank.NewPKCE()
	start, err := c.CreateConsent(ctx, bank.ConsentRequest{Access: []string{"accounts"}, RedirectURI: redirectURI, State: "s1", CodeChallenge: challenge})
	if err != nil {
		t.Fatal(err)
	}
	back := e.sca(start.AuthorizeURL, "deny", "deny", "approve") // the deny persona always denies
	if back.Query().Get("error") != "access_denied" || back.Query().Get("code") != "" || back.Query().Get("state") != "s1" {
		t.Fatalf("redirect = %s", back)
	}
	wantKind(t, bank.AuthorizationError(back.Query()), bank.Rejected)
	if st, _ := c.ConsentStatus(ctx, bank.Session{BankConsentID: start.BankConsentID}); st != bank.ConsentRejected {
		t.Fatalf("status = %s", st)
	}
}

// TestPersonaRevokeAndExpire: the revoke and expire personas' consents end at the bank
// after RevokeAfter data accesses, each with its own error and status.
func TestPersonaRevokeAndExpire(t *testing.T) {
	for _, c := range []struct {
		persona string
		kind    bank.Kind
		status  string
	}{{"revoke", bank.ConsentRevoked, bank.ConsentRevokedByPSU}, {"expire", bank.ConsentExpired, bank.ConsentExpiredStatus}} {
		t.Run(c.persona, func(t *testing.T) {
			_, conn, s := consented(t, "sandbox-bg", c.persona)
			ctx := context.Background()
			accts, err := conn.Accounts(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Balances(ctx, s, accts[0].ResourceID); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Accounts(ctx, s); err != nil { // third access: still served, then ended
				t.Fatal(err)
			}
			_, err = conn.Accounts(ctx, s)
			wantKind(t, err, c.kind)
			if st, _ := conn.ConsentStatus(ctx, s); st != c.status {
				t.Fatalf("status = %s", st)
			}
		})
	}
}

func TestPaymentsAndFunds(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.connector("sandbox-ro")
	creditor, _ := money.NewIBAN("RO", "TOKB0000000000012345")
	pay := func(persona, debtor string) (bank.PaymentStart, error) {
		_, challenge := bank.NewPKCE()
		return c.InitiatePayment(ctx, bank.Session{PSUPresent: true, PSUIPAddress: "203.0.113.9"}, bank.PaymentRequest{
			Transfer: bank.Transfer{Product: "domestic-credit-transfers", Amount: decimal.RequireFromString("125.50"), Currency: "RON",
				CreditorIBAN: creditor, CreditorName: "Dacia Furnizor SRL", DebtorIBAN: debtor, RemittanceInfo: "Factura 2026-0413",
				EndToEndID: "E2E-1"}, RedirectURI: redirectURI, State: "p", CodeChallenge: challenge})
	}
	// demo pays: RCVD, SCA, ACSP, then ACSC.
	ps, err := pay("demo", "")
	if err != nil || ps.Status != bank.PaymentReceived {
		t.Fatalf("InitiatePayment = %+v, %v", ps, err)
	}
	if q := e.sca(ps.AuthorizeURL, "demo", "demo", "approve").Query(); q.Get("code") == "" {
		t.Fatalf("no code: %v", q)
	}
	if st, err := c.PaymentStatus(ctx, bank.Session{}, "domestic-credit-transfers", ps.BankPaymentID); err != nil || st.Status != bank.PaymentInProcess {
		t.Fatalf("status = %+v, %v", st, err)
	}
	e.clock.Add(2 * time.Minute)
	if st, _ := c.PaymentStatus(ctx, bank.Session{}, "domestic-credit-transfers", ps.BankPaymentID); st.Status != bank.PaymentCompleted {
		t.Fatalf("status later = %+v", st)
	}
	// broke, debtor unknown up front: rejected at SCA for insufficient funds.
	ps, err = pay("broke", "")
	if err != nil {
		t.Fatal(err)
	}
	e.sca(ps.AuthorizeURL, "broke", "broke", "approve")
	if st, _ := c.PaymentStatus(ctx, bank.Session{}, "domestic-credit-transfers", ps.BankPaymentID); st.Status != bank.PaymentRejected || st.FundsAvailable == nil || *st.FundsAvailable {
		t.Fatalf("broke status = %+v", st)
	}
	// broke, debtor named: rejected at initiation (Rejected kind). Learn the IBAN first.
	s := e.consent(ctx, c, "broke", "broke")
	accts, err := c.Accounts(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pay("broke", accts[0].IBAN)
	wantKind(t, err, bank.Rejected)
	ok, err := c.ConfirmFunds(ctx, s, bank.FundsQuery{IBAN: accts[0].IBAN, Amount: decimal.NewFromInt(10), Currency: "RON"})
	if err != nil || ok {
		t.Fatalf("broke funds = %v, %v", ok, err)
	}
	d := e.consent(ctx, c, "demo", "demo")
	da, _ := c.Accounts(ctx, d)
	ok, err = c.ConfirmFunds(ctx, d, bank.FundsQuery{IBAN: da[0].IBAN, Amount: decimal.NewFromInt(10), Currency: "RON"})
	if err != nil || !ok {
		t.Fatalf("demo funds = %v, %v", ok, err)
	}
	_, err = c.InitiatePayment(ctx, bank.Session{}, bank.PaymentRequest{Transfer: bank.Transfer{Product: "target-2-payments"}})
	wantKind(t, err, bank.NotSupported)
}

func TestBusinessPersonaVolume(t *testing.T) {
	e, c, s := consented(t, "sandbox-rs", "business", func(cfg *berlingroup.Config) { cfg.ItemsPerPage = 500; cfg.Timeout = 10 * time.Second })
	ctx := context.Background()
	accts, err := c.Accounts(ctx, s)
	if err != nil || len(accts) < 3 {
		t.Fatalf("accounts %d, %v", len(accts), err)
	}
	total, maxPage := 0, 0
	for _, a := range accts {
		err := c.Transactions(ctx, s, a.ResourceID, bank.TransactionQuery{DateFrom: e.clock.Now().AddDate(0, 0, -400)}, func(p []bank.Transaction) error {
			total += len(p)
			maxPage = max(maxPage, len(p))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if total < 10000 || maxPage > 500+10 {
		t.Fatalf("business transactions = %d (max page %d)", total, maxPage)
	}
}

func TestFaults(t *testing.T) {
	e, c, s := consented(t, "sandbox-xk", "demo", func(cfg *berlingroup.Config) { cfg.Timeout = 500 * time.Millisecond; cfg.BreakerThreshold = 100 })
	ctx := context.Background()
	s.PSUPresent, s.PSUIPAddress = true, "203.0.113.7"
	accts, err := c.Accounts(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	acct := accts[0].ResourceID

	for _, f := range []struct {
		name string
		mode int
	}{{"latency", faultLatency}, {"reset", faultReset}, {"5xx", fault5xx}, {"truncated", faultTruncate}} {
		t.Run(f.name, func(t *testing.T) {
			// Every attempt fails: the GET gives up with Unavailable and returns nothing.
			e.proxy.set(f.mode, -1, "")
			got, err := c.Balances(ctx, s, acct)
			wantKind(t, err, bank.Unavailable)
			if got != nil {
				t.Fatalf("partial result %v", got)
			}
			// A POST is never retried: one fault, one failure, and no consent left behind.
			e.proxy.set(f.mode, 1, "/v1/consents")
			_, challenge := bank.NewPKCE()
			_, err = c.CreateConsent(ctx, bank.ConsentRequest{Access: []string{"accounts"}, RedirectURI: redirectURI, State: "x", CodeChallenge: challenge})
			wantKind(t, err, bank.Unavailable)
			// One transient fault on a GET: the retry succeeds.
			e.proxy.set(f.mode, 1, "/balances")
			if _, err := c.Balances(ctx, s, acct); err != nil {
				t.Fatalf("retry after one %s: %v", f.name, err)
			}
			// A fault on a later page fails the walk; a sink that commits on success
			// writes nothing.
			e.proxy.set(f.mode, -1, "pageIndex=1")
			var staged []bank.Transaction
			committed := 0
			err = c.Transactions(ctx, s, acct, bank.TransactionQuery{DateFrom: e.clock.Now().AddDate(0, -6, 0)}, func(p []bank.Transaction) error {
				staged = append(staged, p...)
				return nil
			})
			wantKind(t, err, bank.Unavailable)
			if err == nil {
				committed = len(staged)
			}
			if committed != 0 {
				t.Fatal("partial write")
			}
			e.proxy.set(faultNone, 0, "")
		})
	}
}
