// Package bankcatalog is Tok's catalogue of banks: banks.yaml, compiled into banks_gen.go
// (go generate ./shared/bankcatalog, so no function decodes YAML when it starts), validated
// when loaded, with the sandbox banks' endpoints bound to the sandbox bank function's URL.
package bankcatalog

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/money"
)

// Environments, standards and services as they appear in the catalogue and the API.
const (
	EnvLive    = "live"
	EnvSandbox = "sandbox"

	StandardBerlinGroup = "berlin-group"
	StandardProprietary = "proprietary"

	ServiceAIS = "ais"
	ServicePIS = "pis"
	ServiceVRP = "vrp"
)

// SandboxURLPlaceholder starts every sandbox bank endpoint in banks.yaml; Load replaces it.
const SandboxURLPlaceholder = "${SANDBOX_BANK_URL}"

//go:generate go run ./gencatalogue

// Bank is one catalogue entry. Its JSON form is the public API's bank object; the connector
// stays internal.
type Bank struct {
	ID              string    `yaml:"id" json:"id"`
	Name            string    `yaml:"name" json:"name"`
	Country         string    `yaml:"country" json:"country"`
	Currency        string    `yaml:"currency" json:"currency"`
	BIC             string    `yaml:"bic" json:"bic"`
	Standard        string    `yaml:"standard" json:"standard"`
	Services        Services  `yaml:"services" json:"services"`
	PaymentProducts []string  `yaml:"paymentProducts" json:"paymentProducts"`
	Limits          Limits    `yaml:"limits" json:"limits"`
	Configured      bool      `yaml:"configured" json:"configured"`
	Environment     string    `yaml:"environment" json:"environment"`
	Connector       Connector `yaml:"connector" json:"-"`
}

// Services says which PSD2 services Tok offers at a bank.
type Services struct {
	AIS bool `yaml:"ais" json:"ais"`
	PIS bool `yaml:"pis" json:"pis"`
	// VRP: variable recurring payments under a mandate (the bank's mandate service).
	VRP bool `yaml:"vrp" json:"vrp"`
}

// Limits are the bank's consent and payment limits. After Load, MaxPaymentAmount is in the
// wire format ("100000.0000").
type Limits struct {
	MaxConsentDays   int    `yaml:"maxConsentDays" json:"maxConsentDays"`
	FrequencyPerDay  int    `yaml:"frequencyPerDay" json:"frequencyPerDay"`
	MaxPaymentAmount string `yaml:"maxPaymentAmount" json:"maxPaymentAmount"`

	maxPayment decimal.Decimal
}

// MaxPayment is MaxPaymentAmount as a decimal, for comparing with a requested amount.
func (l Limits) MaxPayment() decimal.Decimal { return l.maxPayment }

// Connector is how Tok reaches a configured bank. Secrets are Secret Manager secret IDs.
type Connector struct {
	BaseURL            string `yaml:"baseUrl"`
	AuthorizeURL       string `yaml:"authorizeUrl"`
	TokenURL           string `yaml:"tokenUrl"`
	ClientIDSecret     string `yaml:"clientIdSecret"`
	ClientSecretSecret string `yaml:"clientSecretSecret"`
	QWACSecret         string `yaml:"qwacSecret"`
}

// Catalogue is the loaded, validated list of banks. It is read-only and safe for
// concurrent use.
type Catalogue struct {
	banks []Bank // sorted by country, then id
}

// Config is where the sandbox bank is, which the catalogue's sandbox banks point at.
type Config struct {
	// SandboxBankURL is the base URL of the sandbox bank function.
	SandboxBankURL string `env:"TOK_SANDBOX_BANK_URL, default=http://127.0.0.1:8080/sandbox-bank"`
}

// Load validates the catalogue of banks.yaml. sandboxBankURL is the base URL of the
// sandbox bank function (Config.SandboxBankURL); it replaces SandboxURLPlaceholder.
func Load(sandboxBankURL string) (*Catalogue, error) {
	return loadBanks(generatedBanks(), sandboxBankURL)
}

// List returns the banks of one environment, optionally only those of a country and those
// offering a service ("ais", "pis" or "vrp"); empty filters match everything. Banks are sorted
// by country, then id.
func (c *Catalogue) List(environment, country, service string) []Bank {
	out := []Bank{}
	for _, b := range c.banks {
		if (environment == "" || b.Environment == environment) &&
			(country == "" || b.Country == country) &&
			(service == "" || b.offers(service)) {
			out = append(out, b.clone())
		}
	}
	return out
}

// Get finds a bank by id in one environment: a live bank is not found in the sandbox
// environment, and a sandbox bank not in the live one.
func (c *Catalogue) Get(environment, id string) (Bank, bool) {
	for _, b := range c.banks {
		if b.ID == id && b.Environment == environment {
			return b.clone(), true
		}
	}
	return Bank{}, false
}

func (b Bank) offers(service string) bool {
	switch service {
	case ServiceAIS:
		return b.Services.AIS
	case ServicePIS:
		return b.Services.PIS
	case ServiceVRP:
		return b.Services.VRP
	}
	return false
}

// clone copies the slice too, so callers cannot change the shared catalogue.
func (b Bank) clone() Bank {
	b.PaymentProducts = slices.Clone(b.PaymentProducts)
	return b
}

// countries are the countries Tok serves and their currencies.
var countries = map[string]struct{ name, currency string }{
	"RS": {"Serbia", "RSD"},
	"HR": {"Croatia", "EUR"},
	"BA": {"Bosnia and Herzegovina", "BAM"},
	"MK": {"North Macedonia", "MKD"},
	"ME": {"Montenegro", "EUR"},
	"AL": {"Albania", "ALL"},
	"SI": {"Slovenia", "EUR"},
	"BG": {"Bulgaria", "BGN"},
	"RO": {"Romania", "RON"},
	"XK": {"Kosovo", "EUR"},
}

// paymentProducts are the Berlin Group payment products Tok knows how to initiate.
var paymentProducts = []string{
	"sepa-credit-transfers",
	"instant-sepa-credit-transfers",
	"target-2-payments",
	"cross-border-credit-transfers",
	"domestic-credit-transfers",
}

// PSD2 limits: consents last at most 180 days, and unattended access is at most 4 a day.
const (
	maxConsentDays  = 180
	maxAccessPerDay = 4
)

// The patterns are compiled when a catalogue is first loaded, not as the process starts:
// an instance's first request loads it while it waits for its first dependency call.
var (
	idPattern  = lazyPattern(`^[a-z0-9]+(-[a-z0-9]+)*-[a-z]{2}$`)
	bicPattern = lazyPattern(`^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$`)
	// A secret ID is 1 to maxSecretID of these; the length is checked apart, since a
	// bounded repetition compiles into that many copies.
	secretPattern = lazyPattern(`^[A-Za-z0-9_-]+$`)
)

func lazyPattern(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

const maxSecretID = 255

// loadBanks validates banks, which it changes (amounts normalised, sandbox endpoints bound).
func loadBanks(banks []Bank, sandboxBankURL string) (*Catalogue, error) {
	base, err := parseSandboxURL(sandboxBankURL)
	if err != nil {
		return nil, err
	}
	if len(banks) == 0 {
		return nil, errors.New("bank catalogue: no banks")
	}
	var problems []error
	seen := map[string]bool{}
	for i := range banks {
		b := &banks[i]
		if seen[b.ID] {
			problems = append(problems, fmt.Errorf("bank %q: duplicate id", b.ID))
		}
		seen[b.ID] = true
		for _, err := range validate(b, base) {
			problems = append(problems, fmt.Errorf("bank %q: %w", b.ID, err))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("bank catalogue: %w", errors.Join(problems...))
	}
	slices.SortFunc(banks, func(a, b Bank) int {
		return cmp.Or(strings.Compare(a.Country, b.Country), strings.Compare(a.ID, b.ID))
	})
	return &Catalogue{banks: banks}, nil
}

func parseSandboxURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("bank catalogue: sandbox bank URL %q must be an absolute http(s) URL without query", s)
	}
	return strings.TrimSuffix(s, "/"), nil
}

// validate checks one entry, normalises its amounts and expands its sandbox endpoints. It
// returns every problem, so one run of the tests lists all mistakes in the file.
func validate(b *Bank, sandboxBase string) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	country, knownCountry := countries[b.Country]
	if !knownCountry {
		fail("country %q is not one Tok serves", b.Country)
	}
	if !idPattern().MatchString(b.ID) || !strings.HasSuffix(b.ID, "-"+strings.ToLower(b.Country)) {
		fail("id must be <shortname>-<country>, lower case")
	}
	if strings.TrimSpace(b.Name) == "" {
		fail("name is empty")
	}
	if _, ok := money.LookupCurrency(b.Currency); !ok {
		fail("currency %q is not a known ISO 4217 code", b.Currency)
	} else if knownCountry && b.Currency != country.currency {
		fail("currency %s is not %s's (%s)", b.Currency, b.Country, country.currency)
	}
	sandbox := b.Environment == EnvSandbox
	switch {
	case !bicPattern().MatchString(b.BIC):
		fail("BIC %q must be 8 or 11 upper-case letters and digits", b.BIC)
	case b.BIC[4:6] != b.Country:
		fail("BIC %s is not from %s", b.BIC, b.Country)
	case sandbox != (b.BIC[7] == '0'):
		// A location code ending in 0 marks a SWIFT test BIC: sandbox banks must use one,
		// live banks must not.
		fail("BIC %s: sandbox banks and only they use test BICs (location code ending in 0)", b.BIC)
	}
	if b.Standard != StandardBerlinGroup && b.Standard != StandardProprietary {
		fail("standard %q must be %s or %s", b.Standard, StandardBerlinGroup, StandardProprietary)
	}
	if !b.Services.AIS && !b.Services.PIS {
		fail("offers neither ais nor pis")
	}
	if b.Services.VRP && !b.Services.PIS {
		fail("vrp needs pis: payments under a mandate are payments")
	}
	errs = append(errs, validateProducts(b)...)
	errs = append(errs, validateLimits(b)...)
	switch b.Environment {
	case EnvLive:
	case EnvSandbox:
		if knownCountry && b.ID != "sandbox-"+strings.ToLower(b.Country) {
			fail("sandbox bank id must be sandbox-%s", strings.ToLower(b.Country))
		}
		if knownCountry && b.Name != "Tok Sandbox Bank ("+country.name+")" {
			fail("sandbox bank name must be %q", "Tok Sandbox Bank ("+country.name+")")
		}
		if !b.Configured || b.Standard != StandardBerlinGroup || !b.Services.AIS || !b.Services.PIS || !b.Services.VRP {
			fail("sandbox banks are configured berlin-group banks with ais, pis and vrp")
		}
	default:
		fail("environment %q must be %s or %s", b.Environment, EnvLive, EnvSandbox)
	}
	return append(errs, validateConnector(b, sandboxBase)...)
}

func validateProducts(b *Bank) []error {
	var errs []error
	if b.PaymentProducts == nil {
		b.PaymentProducts = []string{} // JSON [] rather than null
	}
	if b.Services.PIS != (len(b.PaymentProducts) > 0) {
		errs = append(errs, errors.New("paymentProducts must be listed exactly when pis is offered"))
	}
	for i, p := range b.PaymentProducts {
		if !slices.Contains(paymentProducts, p) {
			errs = append(errs, fmt.Errorf("payment product %q is unknown", p))
		}
		if slices.Contains(b.PaymentProducts[:i], p) {
			errs = append(errs, fmt.Errorf("payment product %q is listed twice", p))
		}
	}
	return errs
}

func validateLimits(b *Bank) []error {
	var errs []error
	l := &b.Limits
	if l.MaxConsentDays < 1 || l.MaxConsentDays > maxConsentDays {
		errs = append(errs, fmt.Errorf("limits.maxConsentDays %d must be 1..%d", l.MaxConsentDays, maxConsentDays))
	}
	if l.FrequencyPerDay < 1 || l.FrequencyPerDay > maxAccessPerDay {
		errs = append(errs, fmt.Errorf("limits.frequencyPerDay %d must be 1..%d", l.FrequencyPerDay, maxAccessPerDay))
	}
	amount, err := money.ParseAmount(l.MaxPaymentAmount)
	if err == nil {
		if cur, ok := money.LookupCurrency(b.Currency); ok {
			err = money.ValidateAmountForCurrency(amount, cur)
		}
	}
	if err != nil {
		return append(errs, fmt.Errorf("limits.maxPaymentAmount: %w", err))
	}
	l.maxPayment = amount
	l.MaxPaymentAmount = money.FormatAmount(amount)
	return errs
}

func validateConnector(b *Bank, sandboxBase string) []error {
	var errs []error
	c := &b.Connector
	if !b.Configured {
		if *c != (Connector{}) {
			errs = append(errs, errors.New("connector given for a bank that is not configured"))
		}
		return errs
	}
	sandbox := b.Environment == EnvSandbox
	for _, u := range []struct {
		name string
		v    *string
	}{{"baseUrl", &c.BaseURL}, {"authorizeUrl", &c.AuthorizeURL}, {"tokenUrl", &c.TokenURL}} {
		rest, relative := strings.CutPrefix(*u.v, SandboxURLPlaceholder)
		switch {
		case sandbox && !relative:
			errs = append(errs, fmt.Errorf("connector.%s must start with %s", u.name, SandboxURLPlaceholder))
			continue
		case sandbox:
			*u.v = sandboxBase + rest
		case strings.Contains(*u.v, SandboxURLPlaceholder):
			errs = append(errs, fmt.Errorf("connector.%s: only sandbox banks may use %s", u.name, SandboxURLPlaceholder))
			continue
		}
		// The sandbox bank may be served over plain HTTP locally; real banks never.
		p, err := url.Parse(*u.v)
		schemeOK := err == nil && (p.Scheme == "https" || sandbox && p.Scheme == "http")
		if !schemeOK || p.Host == "" {
			errs = append(errs, fmt.Errorf("connector.%s %q must be an absolute https URL", u.name, *u.v))
		}
	}
	for _, s := range []struct {
		name, v  string
		required bool
	}{
		{"clientIdSecret", c.ClientIDSecret, true},
		{"clientSecretSecret", c.ClientSecretSecret, true},
		// Only real banks check Tok's eIDAS certificate; the sandbox bank does not.
		{"qwacSecret", c.QWACSecret, !sandbox},
	} {
		if (s.v != "" || s.required) && (len(s.v) > maxSecretID || !secretPattern().MatchString(s.v)) {
			errs = append(errs, fmt.Errorf("connector.%s %q must be a Secret Manager secret ID", s.name, s.v))
		}
	}
	return errs
}
