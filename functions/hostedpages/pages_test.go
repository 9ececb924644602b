package hostedpages

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/hosted"
	"tokapi.io/tok/shared/vrp"
)

func TestCatalogueRefusesAMissingTranslation(t *testing.T) {
	if _, err := parseCatalog([]byte(`{"a":{"en":"A","hr":"A"}}`)); err == nil || !strings.Contains(err.Error(), "a: missing sr-Latn") {
		t.Fatalf("missing locales: %v", err)
	}
	if _, err := parseCatalog([]byte(`{"a":{"en":"A","de":"A"}}`)); err == nil || !strings.Contains(err.Error(), "unknown locale de") {
		t.Fatalf("unknown locale: %v", err)
	}
	if len(messages) != len(hosted.Locales) || len(messages["en"]) < 40 {
		t.Fatalf("catalogue: %d locales, %d English texts", len(messages), len(messages["en"]))
	}
}

// samplePages renders every page kind, with a consent and a payment summary, in locale.
func samplePages(t *testing.T, locale string) map[string]string {
	t.Helper()
	tx := textsFor(locale)
	b := newBrand("Bilko d.o.o.", "https://cdn.bilko.io/logo.png", "#ffcc00")
	consent := &summary{Access: []string{tx.S("access.accounts"), tx.S("access.balances"), tx.S("access.transactions"), tx.S("access.funds")},
		ValidUntil: tx.Date(time.Date(2027, 5, 30, 0, 0, 0, 0, time.UTC))}
	payment := &summary{Amount: tx.Amount(decimal.RequireFromString("1500.00"), "RSD"), Creditor: "Ana", CreditorIBAN: IBAN("RS35105008123123123173"),
		Reference: "Invoice INV-2026-042", ExecutionDate: "2027-01-02"}
	mandate := vrpSummary(tx, sampleMandate())
	out := map[string]string{}
	for name, p := range map[string]*page{
		"banks-vrp": {Page: "banks", Title: tx.S("title.banks"), Intro: tx.Org("intro.vrp", b.Name), Summary: mandate, CSRF: "x", Country: "HR",
			Banks: []bankChoice{{ID: "sandbox-hr", Name: "Sandbox Banka Hrvatska", Search: "sandbox"}}},
		"country-consent": {Page: "country", Title: tx.S("title.country"), Intro: tx.Org("intro.consent", b.Name), Summary: consent, CSRF: "x",
			Countries: []choice{{Code: "RS", Name: tx.S("country.RS"), Href: "/x"}}},
		"country-none": {Page: "country", Title: tx.S("title.country"), Intro: tx.Org("intro.payment", b.Name), Summary: payment, CSRF: "x"},
		"banks-payment": {Page: "banks", Title: tx.S("title.banks"), Intro: tx.Org("intro.payment", b.Name), Summary: payment, CSRF: "x", Country: "RS",
			Banks: []bankChoice{{ID: "sandbox-rs", Name: "Sandbox Bank Srbija", Search: "sandbox"}}},
		"banks-none": {Page: "banks", Title: tx.S("title.banks"), CSRF: "x", Country: "RS", Query: "zzz"},
		"error":      {Page: "error", Title: tx.S("error.heading"), Message: tx.S("error.used"), RequestID: "req_1"},
	} {
		p.T, p.Brand, p.Nonce, p.Base = tx, b, "n0nce", "/v1/hosted/hps_X"
		p.BrandColor, p.BrandOnColor = "#ffcc00", "#000000"
		for _, l := range hosted.Locales {
			p.Langs = append(p.Langs, langLink{Tag: l, Name: langNames[l], Href: "?lang=" + l, Current: l == locale})
		}
		rec := httptest.NewRecorder()
		render(rec, httptest.NewRequest("GET", "/v1/hosted/hps_X", nil), 200, p, "sandbox")
		out[name] = rec.Body.String()
	}
	return out
}

// sampleMandate is a VRP consent with every kind of limit and an end.
func sampleMandate() vrp.Consent {
	end := time.Date(2027, 12, 31, 22, 59, 0, 0, time.UTC)
	return vrp.Consent{ID: "vrc_X", CreditorName: "Zajam d.o.o.", CreditorIBAN: "HR1723600001101234565", Currency: "EUR",
		MaxIndividual: "60.0000", RemittanceInfo: "Loan 42", TimeZone: "Europe/Zagreb", MaxOccurrences: 24,
		ValidFrom: time.Date(2026, 12, 1, 23, 30, 0, 0, time.UTC), ValidTo: &end,
		PeriodicLimits: []vrp.Limit{{MaximumAmount: "1000.0000", PeriodType: "DAY", PeriodAlignment: "CALENDAR"},
			{MaximumAmount: "2500.5000", PeriodType: "MONTH", PeriodAlignment: "CONSENT"}}}
}

func TestVRPSummary(t *testing.T) {
	for locale, want := range map[string]summary{
		"en": {MaxPerPayment: "60.00\u00a0EUR", Limits: []string{"1,000.00\u00a0EUR per day (calendar periods)",
			"2,500.50\u00a0EUR per month (counted from the start date)", "at most 24 payments"}, Validity: "from 2 Dec 2026 to 31 Dec 2027"},
		"hr": {MaxPerPayment: "60,00\u00a0EUR", Limits: []string{"1.000,00\u00a0EUR dnevno (kalendarska razdoblja)",
			"2.500,50\u00a0EUR mjesečno (računano od datuma početka)", "najviše 24 plaćanja"}, Validity: "od 02.12.2026. do 31.12.2027."},
	} {
		got := vrpSummary(textsFor(locale), sampleMandate())
		if got.MaxPerPayment != want.MaxPerPayment || strings.Join(got.Limits, "|") != strings.Join(want.Limits, "|") || got.Validity != want.Validity ||
			got.Creditor != "Zajam d.o.o." || got.CreditorIBAN != "HR17 2360 0001 1012 3456 5" || got.Currency != "EUR" {
			t.Errorf("%s: %+v", locale, got)
		}
	}
	open := sampleMandate()
	open.ValidTo, open.MaxOccurrences = nil, 0
	if got := vrpSummary(textsFor("sr-Cyrl"), open); got.Validity != "од 02.12.2026. док је не опозовете" || len(got.Limits) != 2 {
		t.Errorf("open-ended in sr-Cyrl: %+v", got)
	}
}

func TestEveryPageRendersInEveryLanguage(t *testing.T) {
	english := samplePages(t, "en")
	for _, l := range hosted.Locales {
		for name, html := range samplePages(t, l) {
			if i := strings.Index(html, Missing); i >= 0 {
				t.Errorf("%s in %s: %s", name, l, html[i:i+60])
			}
			if !strings.Contains(html, `<html lang="`+l+`">`) {
				t.Errorf("%s in %s: no lang attribute", name, l)
			}
			if !strings.Contains(html, "Bilko d.o.o.") || !strings.Contains(html, "https://cdn.bilko.io/logo.png") || !strings.Contains(html, "--brand:#ffcc00") {
				t.Errorf("%s in %s: no branding", name, l)
			}
			if len(html) > 50<<10 {
				t.Errorf("%s in %s: %d bytes", name, l, len(html))
			}
			if l != "en" && strings.Contains(html, "<h1 id=\"title\">") && html == english[name] {
				t.Errorf("%s in %s is the English page", name, l)
			}
		}
	}
}

func TestFormats(t *testing.T) {
	for _, c := range []struct{ locale, amount, currency, want string }{
		{"en", "1500.00", "RSD", "1,500.00\u00a0RSD"},
		{"sr-Latn", "1234567.5", "EUR", "1.234.567,50\u00a0EUR"},
		{"bg", "1500", "EUR", "1 500,00\u00a0EUR"},
		{"en", "999.99", "MKD", "999.99\u00a0MKD"},
		{"ro", "0.10", "RON", "0,10\u00a0RON"},
	} {
		if got := textsFor(c.locale).Amount(decimal.RequireFromString(c.amount), c.currency); got != c.want {
			t.Errorf("%s %s %s = %q, want %q", c.locale, c.amount, c.currency, got, c.want)
		}
	}
	if got := IBAN("RS35105008123123123173"); got != "RS35 1050 0812 3123 1231 73" {
		t.Errorf("IBAN %q", got)
	}
	if got := textsFor("hr").Date(time.Date(2027, 5, 3, 0, 0, 0, 0, time.UTC)); got != "03.05.2027." {
		t.Errorf("hr date %q", got)
	}
}

func TestBrandColours(t *testing.T) {
	for color, on := range map[string]string{"#ffcc00": "#000000", "#1f4fd1": "#ffffff", "#000000": "#ffffff", "#f0f0f0": "#000000"} {
		if b := newBrand("X", "", color); b.OnColor != on || b.Color != color {
			t.Errorf("%s: on %s, want %s", color, b.OnColor, on)
		}
	}
	if b := newBrand("X", "javascript:alert(1)", "red;}body{"); b.LogoURL != "" || b.Color != defaultColor {
		t.Errorf("unsafe branding kept: %+v", b)
	}
}

func TestSecurityHeaders(t *testing.T) {
	rec := httptest.NewRecorder()
	setHeaders(rec, "abc", "live")
	h := rec.Header()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "script-src 'nonce-abc'", "style-src 'nonce-abc'", "base-uri 'none'", "form-action 'self' https:"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "127.0.0.1") {
		t.Errorf("live CSP %q", csp)
	}
	if h.Get("X-Frame-Options") != "DENY" || h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("Referrer-Policy") != "no-referrer" ||
		h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", h)
	}
}
