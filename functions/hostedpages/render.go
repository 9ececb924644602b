package hostedpages

import (
	"bytes"
	"embed"
	"encoding/base64"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/hosted"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/money"
	"tokapi.io/tok/shared/random"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/vrp"
)

//go:embed pages.html
var pagesFS embed.FS

// page is what the layout renders.
type page struct {
	Page         string // country, banks or error
	T            texts
	Nonce        string
	Brand        brand
	BrandColor   template.CSS
	BrandOnColor template.CSS
	Title        string
	Intro        string
	Base         string // the session's path
	CSRF         string // set on pages whose forms act on the session
	Langs        []langLink
	Summary      *summary
	Countries    []choice
	Country      string
	Query        string
	Banks        []bankChoice
	Message      string
	RequestID    string
}

type langLink struct {
	Tag, Name, Href string
	Current         bool
}

type choice struct{ Code, Name, Href string }

type bankChoice struct{ ID, Name, Search string }

// summary is what the customer agrees to: access and validity of a consent, the payment's
// amount, payee and reference, or a VRP mandate's payee, limits and validity.
type summary struct {
	Access                         []string
	ValidUntil                     string
	Amount, Creditor, CreditorIBAN string
	Reference, ExecutionDate       string
	// A VRP mandate: its currency, maximum per payment, periodic limits (and maximum number
	// of payments), and validity, each formatted for the locale.
	Currency, MaxPerPayment string
	Limits                  []string
	Validity                string
}

// langNames are the switcher's entries, each in its own language.
var langNames = map[string]string{
	"en": "English", "sr-Latn": "Srpski (latinica)", "sr-Cyrl": "Српски (ћирилица)", "hr": "Hrvatski", "sl": "Slovenščina",
	"mk": "Македонски", "sq": "Shqip", "bg": "Български", "ro": "Română",
}

// newPage starts the page of kind for the visit v (nil on errors before a session is known).
func newPage(r *http.Request, kind string, v *visit) *page {
	p := &page{Page: kind, Nonce: nonce(), RequestID: httpapi.RequestID(r.Context())}
	if v != nil {
		p.T, p.Brand, p.Base = v.texts, v.brand, hosted.CookiePath(v.sess.ID)
	} else {
		p.T, p.Brand = textsFor(pickLocale(r, "")), newBrand("Tok", "", "")
	}
	// Both are #rrggbb (newBrand checks the organisation's colour against hexColor).
	p.BrandColor, p.BrandOnColor = template.CSS(p.Brand.Color), template.CSS(p.Brand.OnColor) //nolint:gosec // G203: see above
	for _, l := range hosted.Locales {
		q := url.Values{}
		for k, vals := range r.URL.Query() {
			q[k] = vals
		}
		q.Set("lang", l)
		href := r.URL.Path
		if r.Method != http.MethodGet && p.Base != "" {
			href = p.Base
			q = url.Values{"lang": {l}}
		}
		p.Langs = append(p.Langs, langLink{Tag: l, Name: langNames[l], Href: href + "?" + q.Encode(), Current: l == p.T.Locale()})
	}
	return p
}

func nonce() string {
	return base64.StdEncoding.EncodeToString(random.Bytes(18))
}

// withSummary fills the page's intro and summary from the visit's consent or payment.
func (p *page) withSummary(v *visit) {
	t := v.texts
	if c := v.consent; c != nil {
		p.Intro = t.Org("intro.consent", v.brand.Name)
		sum := &summary{ValidUntil: t.Date(c.ValidUntil)}
		for _, a := range c.Access {
			sum.Access = append(sum.Access, t.S("access."+a))
		}
		p.Summary = sum
		return
	}
	if c := v.vrp; c != nil {
		p.Intro = t.Org("intro.vrp", v.brand.Name)
		p.Summary = vrpSummary(t, *c)
		return
	}
	pay := v.payment
	p.Intro = t.Org("intro.payment", v.brand.Name)
	amount, err := money.ParseAmount(pay.Amount)
	if err != nil {
		slog.Error("hosted page: stored payment amount", "paymentId", pay.ID, "error", err)
	}
	p.Summary = &summary{Amount: t.Amount(amount, pay.Currency), Creditor: pay.CreditorName, CreditorIBAN: IBAN(pay.CreditorIBAN),
		Reference: pay.RemittanceInfo}
	if pay.ExecutionDate != "" {
		p.Summary.ExecutionDate = pay.ExecutionDate
	}
}

// vrpSummary is a VRP mandate as the customer agrees to it: amounts in the locale's format,
// each periodic limit with its period and alignment, the validity window in the consent's
// time zone.
func vrpSummary(t texts, c vrp.Consent) *summary {
	amount := func(wire string) string {
		d, err := money.ParseAmount(wire)
		if err != nil {
			slog.Error("hosted page: stored vrp amount", "vrpConsentId", c.ID, "error", err)
		}
		return t.Amount(d, c.Currency)
	}
	sum := &summary{Creditor: c.CreditorName, CreditorIBAN: IBAN(c.CreditorIBAN), Reference: c.RemittanceInfo,
		Currency: c.Currency, MaxPerPayment: amount(c.MaxIndividual)}
	for _, l := range c.PeriodicLimits {
		sum.Limits = append(sum.Limits, strings.ReplaceAll(t.S("vrp.period."+l.PeriodType), "{amount}", amount(l.MaximumAmount))+
			" ("+t.S("vrp.align."+l.PeriodAlignment)+")")
	}
	if c.MaxOccurrences > 0 {
		sum.Limits = append(sum.Limits, strings.ReplaceAll(t.S("vrp.occurrences"), "{n}", strconv.Itoa(c.MaxOccurrences)))
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	from := t.Date(c.ValidFrom.In(loc))
	if c.ValidTo != nil {
		sum.Validity = strings.NewReplacer("{from}", from, "{to}", t.Date(c.ValidTo.In(loc))).Replace(t.S("vrp.validity.range"))
	} else {
		sum.Validity = strings.ReplaceAll(t.S("vrp.validity.open"), "{from}", from)
	}
	return sum
}

// service is the catalogue service the visit's request needs.
func (v *visit) service() string {
	switch {
	case v.consent != nil:
		return bankcatalog.ServiceAIS
	case v.vrp != nil:
		return bankcatalog.ServiceVRP
	}
	return bankcatalog.ServicePIS
}

// render writes the page with the security headers.
func render(w http.ResponseWriter, r *http.Request, status int, p *page, env string) {
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, "layout", p); err != nil {
		slog.ErrorContext(r.Context(), "render hosted page", "page", p.Page, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	setHeaders(w, p.Nonce, env)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// setHeaders sets the pages' security headers. Forms may only post to Tok, and their
// redirects go to the bank or the callbackUrl: https, or for sandbox requests also the
// loopback hosts sandbox callback URLs may use.
func setHeaders(w http.ResponseWriter, nonce, env string) {
	h := w.Header()
	formAction := "'self' https:"
	if env == tenant.Sandbox {
		formAction += " http://localhost:* http://127.0.0.1:*"
	}
	csp := "default-src 'none'; img-src https:; base-uri 'none'; frame-ancestors 'none'; form-action " + formAction
	if nonce != "" {
		csp += "; style-src 'nonce-" + nonce + "'; script-src 'nonce-" + nonce + "'"
	}
	httpapi.SetPageHeaders(h, csp)
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
}

// secureCookies reports whether the pages are served over https (always, but for the local stack).
func secureCookies(publicURL string) bool { return strings.HasPrefix(publicURL, "https://") }

// errorPage explains why the flow cannot go on.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, key string, v *visit) {
	p := newPage(r, "error", v)
	p.Title, p.Message = p.T.S("error.heading"), p.T.S(key)
	env := ""
	if v != nil {
		env = v.sess.Env
	}
	render(w, r, status, p, env)
}

// bankIDValid bounds what a form may name as a bank before the catalogue is asked.
func bankIDValid(id string) bool {
	return id != "" && len(id) <= 64 && strings.IndexFunc(id, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-'
	}) < 0
}
