package bankcatalog

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"tokapi.io/tok/shared/money"
)

const sandboxURL = "http://127.0.0.1:8080/sandbox-bank"

func load(t *testing.T) *Catalogue {
	t.Helper()
	c, err := Load(sandboxURL)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// TestPromisedCoverage checks what the product promises about the catalogue.
func TestPromisedCoverage(t *testing.T) {
	c := load(t)
	live := c.List(EnvLive, "", "")
	liveCountries := map[string]bool{}
	configured := 0
	for _, b := range live {
		liveCountries[b.Country] = true
		if b.Configured {
			configured++
			if b.Connector.BaseURL == "" || b.Connector.QWACSecret == "" {
				t.Errorf("%s is configured without a full connector", b.ID)
			}
		}
	}
	if len(live) < 20 || len(liveCountries) < 8 {
		t.Errorf("%d live banks in %d countries, want >= 20 in >= 8", len(live), len(liveCountries))
	}
	if configured < 3 {
		t.Errorf("%d configured live banks, want >= 3", configured)
	}
	for cc, country := range countries {
		sb, ok := c.Get(EnvSandbox, "sandbox-"+strings.ToLower(cc))
		if !ok {
			t.Errorf("no sandbox bank for %s", cc)
			continue
		}
		if sb.Name != "Tok Sandbox Bank ("+country.name+")" || sb.Currency != country.currency || !sb.Services.AIS || !sb.Services.PIS || !sb.Configured {
			t.Errorf("sandbox bank for %s: %+v", cc, sb)
		}
	}
	if n := len(c.List(EnvSandbox, "", "")); n != len(countries) {
		t.Errorf("%d sandbox banks, want one per country (%d)", n, len(countries))
	}
}

// TestKnownBanks pins entries other parts of Tok and the docs refer to, with their real BICs.
func TestKnownBanks(t *testing.T) {
	c := load(t)
	for id, bic := range map[string]string{
		"erste-hr": "ESBCHR22", "zaba-hr": "ZABAHR2X", "intesa-rs": "DBDBRSBG",
		"raiffeisen-rs": "RZBSRSBG", "nlb-si": "LJBASI2X", "unicredit-bg": "UNCRBGSF",
		"bt-ro": "BTRLRO22", "bcr-ro": "RNCBROBU", "komercijalna-mk": "KOBSMK2X",
		"ckb-me": "CKBCMEPG", "raiffeisen-xk": "RBKOXKPR", "bkt-al": "NCBAALTX",
		"unicredit-ba": "UNCRBA22",
	} {
		b, ok := c.Get(EnvLive, id)
		if !ok {
			t.Errorf("%s missing", id)
			continue
		}
		if b.BIC != bic {
			t.Errorf("%s BIC = %s, want %s", id, b.BIC, bic)
		}
	}
	erste, _ := c.Get(EnvLive, "erste-hr")
	if !erste.Configured || erste.Standard != StandardBerlinGroup || erste.Currency != "EUR" {
		t.Errorf("erste-hr = %+v, want a configured berlin-group EUR bank", erste)
	}
}

func TestEveryBankIsConsistent(t *testing.T) {
	c := load(t)
	all := c.List("", "", "")
	for _, b := range all {
		if b.Currency != countries[b.Country].currency {
			t.Errorf("%s: currency %s in %s", b.ID, b.Currency, b.Country)
		}
		if _, frac, _ := strings.Cut(b.Limits.MaxPaymentAmount, "."); len(frac) != 4 {
			t.Errorf("%s: maxPaymentAmount %q is not in the wire format", b.ID, b.Limits.MaxPaymentAmount)
		}
		if !b.Limits.MaxPayment().IsPositive() || money.FormatAmount(b.Limits.MaxPayment()) != b.Limits.MaxPaymentAmount {
			t.Errorf("%s: MaxPayment %s does not match %q", b.ID, b.Limits.MaxPayment(), b.Limits.MaxPaymentAmount)
		}
		for _, u := range []string{b.Connector.BaseURL, b.Connector.AuthorizeURL, b.Connector.TokenURL} {
			if strings.Contains(u, SandboxURLPlaceholder) {
				t.Errorf("%s: placeholder left in %q", b.ID, u)
			}
		}
	}
	if got := len(all); got != len(c.List(EnvLive, "", ""))+len(c.List(EnvSandbox, "", "")) {
		t.Errorf("banks outside live and sandbox: %d in all", got)
	}
}

func TestSandboxEndpointsAreBoundToTheSandboxBank(t *testing.T) {
	c, err := Load("https://sandbox-bank.example.run.app/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Get(EnvSandbox, "sandbox-hr")
	if want := "https://sandbox-bank.example.run.app/banks/sandbox-hr/v1"; b.Connector.BaseURL != want {
		t.Errorf("BaseURL = %q, want %q", b.Connector.BaseURL, want)
	}
	if want := "https://sandbox-bank.example.run.app/banks/sandbox-hr/oauth2/token"; b.Connector.TokenURL != want {
		t.Errorf("TokenURL = %q, want %q", b.Connector.TokenURL, want)
	}
}

func TestLoadRejectsBadSandboxURL(t *testing.T) {
	for _, u := range []string{"", "/sandbox-bank", "ftp://x/y", "http://", "http://h/p?x=1", "::"} {
		if _, err := Load(u); err == nil {
			t.Errorf("Load(%q) succeeded", u)
		}
	}
}

func TestListFiltersAndOrder(t *testing.T) {
	c := load(t)
	live := c.List(EnvLive, "", "")
	if !slices.IsSortedFunc(live, func(a, b Bank) int { return strings.Compare(a.Country+" "+a.ID, b.Country+" "+b.ID) }) {
		t.Error("List is not sorted by country, then id")
	}
	hr := c.List(EnvLive, "HR", "")
	if len(hr) == 0 {
		t.Fatal("no live banks in HR")
	}
	for _, b := range hr {
		if b.Country != "HR" || b.Environment != EnvLive {
			t.Errorf("List(live, HR) returned %s in %s/%s", b.ID, b.Environment, b.Country)
		}
	}
	pis := c.List(EnvLive, "", ServicePIS)
	if len(pis) == 0 || len(pis) == len(live) {
		t.Fatalf("pis filter kept %d of %d live banks", len(pis), len(live))
	}
	for _, b := range pis {
		if !b.Services.PIS {
			t.Errorf("List(pis) returned %s without pis", b.ID)
		}
	}
	if got := c.List(EnvLive, "", "xyz"); len(got) != 0 {
		t.Errorf("unknown service matched %d banks", len(got))
	}
	if got := c.List(EnvLive, "DE", ""); got == nil || len(got) != 0 {
		t.Errorf("List for a country without banks = %v, want an empty non-nil slice", got)
	}
	if got := c.List(EnvSandbox, "", ""); got[0].ID != "sandbox-al" {
		t.Errorf("first sandbox bank = %s, want sandbox-al (AL sorts first)", got[0].ID)
	}
}

func TestGetKeepsEnvironmentsApart(t *testing.T) {
	c := load(t)
	if _, ok := c.Get(EnvSandbox, "erste-hr"); ok {
		t.Error("live bank found in the sandbox environment")
	}
	if _, ok := c.Get(EnvLive, "sandbox-hr"); ok {
		t.Error("sandbox bank found in the live environment")
	}
	if _, ok := c.Get(EnvLive, "nope-hr"); ok {
		t.Error("unknown bank found")
	}
}

func TestCallersCannotChangeTheCatalogue(t *testing.T) {
	c := load(t)
	b, _ := c.Get(EnvLive, "erste-hr")
	b.PaymentProducts[0] = "changed"
	b.Connector.BaseURL = "https://evil.example"
	again, _ := c.Get(EnvLive, "erste-hr")
	if again.PaymentProducts[0] == "changed" || again.Connector.BaseURL == "https://evil.example" {
		t.Error("a returned bank aliases the catalogue")
	}
}

func TestJSONIsThePublicBankObject(t *testing.T) {
	c := load(t)
	for _, id := range []string{"erste-hr", "intesa-rs"} {
		b, _ := c.Get(EnvLive, id)
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for k := range got {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		want := "bic configured country currency environment id limits name paymentProducts services standard"
		if strings.Join(keys, " ") != want {
			t.Errorf("%s JSON keys = %v, want %s", id, keys, want)
		}
		if strings.Contains(string(raw), "secret") || strings.Contains(string(raw), "Url") {
			t.Errorf("%s JSON leaks the connector: %s", id, raw)
		}
		if _, isList := got["paymentProducts"].([]any); !isList {
			t.Errorf("%s paymentProducts = %v, want a list", id, got["paymentProducts"])
		}
	}
}
