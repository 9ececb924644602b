package httpapi

import "net/http"

// SetPageHeaders sets the headers every HTML page of Tok's carries: never cached, sniffed,
// framed or named in a Referer, under the Content-Security-Policy csp.
func SetPageHeaders(h http.Header, csp string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}
