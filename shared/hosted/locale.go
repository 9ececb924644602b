package hosted

import (
	"slices"
	"strconv"
	"strings"
)

// Locales are the languages of the hosted pages (BCP 47), the default first.
var Locales = []string{"en", "sr-Latn", "sr-Cyrl", "hr", "sl", "mk", "sq", "bg", "ro"}

// DefaultLocale is the language when nothing asks for one of Locales.
const DefaultLocale = "en"

// ParseLocale returns the supported locale that tag names exactly (case-insensitive), for
// the requests' locale field.
func ParseLocale(tag string) (string, bool) {
	for _, l := range Locales {
		if strings.EqualFold(l, tag) {
			return l, true
		}
	}
	return "", false
}

// closest maps a language tag to a supported locale: its script decides Serbian (Cyrillic
// by default, as CLDR has it), and the neighbouring Latin-script languages read Serbian
// Latin best.
func closest(tag string) (string, bool) {
	if l, ok := ParseLocale(tag); ok {
		return l, true
	}
	parts := strings.Split(strings.ToLower(tag), "-")
	switch parts[0] {
	case "sr":
		if slices.Contains(parts[1:], "latn") {
			return "sr-Latn", true
		}
		return "sr-Cyrl", true
	case "bs", "sh", "cnr":
		return "sr-Latn", true
	}
	return ParseLocale(parts[0])
}

// Negotiate picks the locale of an Accept-Language header: the supported language with the
// highest weight, the earlier on ties; DefaultLocale when none is.
func Negotiate(acceptLanguage string) string {
	best, bestQ := DefaultLocale, 0.0
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		if l, ok := closest(strings.TrimSpace(tag)); ok && q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}
