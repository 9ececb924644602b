package bank

import (
	"errors"
	"net/url"
	"slices"
)

// MaxCodeLen bounds the authorization code a bank redirect may carry; banks issue codes of
// a few dozen to a few hundred characters.
const MaxCodeLen = 2048

// OAuthErrors are the error codes RFC 6749 (section 4.1.2.1) lets an authorization server
// send back to the client.
var OAuthErrors = []string{"invalid_request", "unauthorized_client", "access_denied",
	"unsupported_response_type", "invalid_scope", "server_error", "temporarily_unavailable"}

// ErrNotARedirect is a query that is not an authorization response of the bank's.
var ErrNotARedirect = errors.New("not an authorization response")

// CheckRedirect reports whether q has the form of a bank's authorization response: a code
// or an error (exactly one, each at most once), the code 1 to MaxCodeLen printable ASCII
// characters, the error one of OAuthErrors. Anything else is no answer of the bank's, so
// it must change nothing; other parameters (error_description, iss, ...) are ignored as
// RFC 6749 asks.
func CheckRedirect(q url.Values) error {
	codes, errs := q["code"], q["error"]
	switch {
	case len(codes)+len(errs) != 1:
		return ErrNotARedirect
	case len(errs) == 1:
		if !slices.Contains(OAuthErrors, errs[0]) {
			return ErrNotARedirect
		}
	case len(codes[0]) == 0 || len(codes[0]) > MaxCodeLen:
		return ErrNotARedirect
	default:
		for i := 0; i < len(codes[0]); i++ {
			if c := codes[0][i]; c < 0x20 || c > 0x7e {
				return ErrNotARedirect
			}
		}
	}
	return nil
}
