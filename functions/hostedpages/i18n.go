package hostedpages

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/hosted"
	"tokapi.io/tok/shared/money"
)

//go:embed messages.json
var messagesJSON []byte

// catalog holds every text of the pages by locale, then key.
type catalog map[string]map[string]string

// parseCatalog reads messages.json ({key: {locale: text}}) and fails on a key missing in
// any locale of hosted.Locales, or a locale the pages do not offer.
func parseCatalog(data []byte) (catalog, error) {
	var byKey map[string]json.RawMessage
	if err := json.Unmarshal(data, &byKey); err != nil {
		return nil, fmt.Errorf("messages.json: %w", err)
	}
	c := catalog{}
	for _, l := range hosted.Locales {
		c[l] = map[string]string{}
	}
	var problems []string
	for key, raw := range byKey {
		if strings.HasPrefix(key, "_") {
			continue
		}
		var texts map[string]string
		if err := json.Unmarshal(raw, &texts); err != nil {
			return nil, fmt.Errorf("messages.json %s: %w", key, err)
		}
		for l, text := range texts {
			if _, ok := c[l]; !ok {
				problems = append(problems, key+": unknown locale "+l)
				continue
			}
			c[l][key] = text
		}
		for _, l := range hosted.Locales {
			if strings.TrimSpace(texts[l]) == "" && !strings.HasPrefix(key, "num.") {
				problems = append(problems, key+": missing "+l)
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("messages.json: %s", strings.Join(problems, "; "))
	}
	return c, nil
}

// messages is the catalogue; the package does not start without a complete one.
var messages = func() catalog {
	c, err := parseCatalog(messagesJSON)
	if err != nil {
		panic(err)
	}
	return c
}()

// Missing marks a key the catalogue lacks in a rendered page (tests look for it).
const Missing = "[missing text: "

// texts is one locale's catalogue, as the templates use it.
type texts struct {
	locale string
	m      map[string]string
}

func textsFor(locale string) texts { return texts{locale: locale, m: messages[locale]} }

// S is the text of key.
func (t texts) S(key string) string {
	if s, ok := t.m[key]; ok {
		return s
	}
	return Missing + key + "]"
}

// Org is the text of key with {org} replaced by the organisation's name.
func (t texts) Org(key, org string) string { return strings.ReplaceAll(t.S(key), "{org}", org) }

// Amount formats an amount with the currency's minor units and the locale's separators,
// followed by the currency code ("1,500.00 RSD", "1.500,00 RSD").
func (t texts) Amount(amount decimal.Decimal, currency string) string {
	digits := int32(2)
	if c, ok := money.LookupCurrency(currency); ok {
		digits = c.MinorUnits
	}
	whole, frac, _ := strings.Cut(amount.StringFixed(digits), ".")
	neg := strings.HasPrefix(whole, "-")
	whole = strings.TrimPrefix(whole, "-")
	var b strings.Builder
	if neg {
		b.WriteString("-")
	}
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(t.m["num.group"])
		}
		b.WriteRune(r)
	}
	if frac != "" {
		b.WriteString(t.m["num.decimal"])
		b.WriteString(frac)
	}
	return b.String() + "\u00a0" + currency
}

// Date formats a day in the locale's layout.
func (t texts) Date(d time.Time) string { return d.Format(t.S("date.layout")) }

// IBAN groups an IBAN in fours, as printed on statements.
func IBAN(iban string) string {
	var parts []string
	for len(iban) > 4 {
		parts = append(parts, iban[:4])
		iban = iban[4:]
	}
	return strings.Join(append(parts, iban), " ")
}

// brand is how the organisation appears on its customers' pages.
type brand struct {
	Name    string
	LogoURL string
	// Color is the brand colour (#rrggbb) and OnColor the text colour with the better
	// contrast on it (black or white), so any brand colour stays readable.
	Color, OnColor string
}

var hexColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// defaultColor is Tok's own accent.
const defaultColor = "#1f4fd1"

func newBrand(name, logoURL, color string) brand {
	if !hexColor.MatchString(color) {
		color = defaultColor
	}
	if !strings.HasPrefix(logoURL, "https://") {
		logoURL = ""
	}
	return brand{Name: name, LogoURL: logoURL, Color: strings.ToLower(color), OnColor: onColor(color)}
}

// onColor is black or white, whichever contrasts more with the colour (WCAG 2.1 relative
// luminance).
func onColor(hex string) string {
	lum := 0.0
	for i, w := range []float64{0.2126, 0.7152, 0.0722} {
		v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		c := float64(v) / 255
		if c <= 0.04045 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		lum += w * c
	}
	if (lum+0.05)/0.05 > 1.05/(lum+0.05) {
		return "#000000"
	}
	return "#ffffff"
}

// Locale is the BCP 47 tag of the texts' language.
func (t texts) Locale() string { return t.locale }
