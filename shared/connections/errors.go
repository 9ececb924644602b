package connections

import (
	"errors"
	"net/http"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/httpapi"
)

// ErrTokensUnreadable reports stored tokens that failed their integrity check (tampered,
// moved from another record, or sealed under an unknown key). The connection fails closed:
// no bank call is made with them, and the PSU must authorise again.
var ErrTokensUnreadable = errors.New("connections: the stored bank tokens failed their integrity check; the connection fails closed and must be re-authorised")

// ErrNoTokens reports a connection whose tokens were destroyed (revoked) or never stored.
var ErrNoTokens = errors.New("connections: the connection holds no bank tokens")

// ConsentExpiredError is the API's 403 CONSENT_EXPIRED.
func ConsentExpiredError() *httpapi.Error {
	return &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodeConsentExpired,
		Message: "The bank consent has expired. Please reconnect the bank account."}
}

// ConsentRevokedError is the API's 403 CONSENT_REVOKED.
func ConsentRevokedError() *httpapi.Error {
	return &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodeConsentRevoked,
		Message: "The bank consent was revoked. Please reconnect the bank account."}
}

// StatusError answers a read of data behind a connection in status st: nil when usable.
func StatusError(st string) error {
	switch st {
	case StatusActive:
		return nil
	case StatusRevoked:
		return ConsentRevokedError()
	default:
		return ConsentExpiredError()
	}
}

// APIError maps an error of a bank call (or of the vault) to Tok's error envelope: the one
// place where bank failures become API errors. Consent expired → 403 CONSENT_EXPIRED,
// revoked → 403 CONSENT_REVOKED, other bank failures → 502 BANK_API_ERROR marked as coming
// from the bank; anything else is returned unchanged (a 500 unless it is an *httpapi.Error).
func APIError(err error) error {
	if err == nil {
		return nil
	}
	var apiErr *httpapi.Error
	if errors.As(err, &apiErr) {
		return err
	}
	var be *bank.Error
	if !errors.As(err, &be) {
		return err
	}
	switch be.Kind {
	case bank.ConsentExpired:
		e := ConsentExpiredError()
		e.Err = err
		return e
	case bank.ConsentRevoked:
		e := ConsentRevokedError()
		e.Err = err
		return e
	case bank.AccessExceeded:
		return &httpapi.Error{Status: http.StatusBadGateway, Code: httpapi.CodeBankAPIError, FromBank: true, Err: err,
			Message: "The bank refused the call: the consent's daily access limit is used up. Retry after midnight UTC."}
	}
	return &httpapi.Error{Status: http.StatusBadGateway, Code: httpapi.CodeBankAPIError, FromBank: true, Err: err,
		Message: "The bank API returned an error or is unavailable. Retry later."}
}

// EndStatus tells whether a bank error ends the connection: StatusExpired or StatusRevoked,
// or "" when it does not.
func EndStatus(err error) string {
	switch bank.KindOf(err) {
	case bank.ConsentExpired:
		return StatusExpired
	case bank.ConsentRevoked:
		return StatusRevoked
	}
	return ""
}
