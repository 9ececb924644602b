package connectors

import (
	"errors"
	"net/http"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/httpapi"
)

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

// APIError maps an error of a bank call (or of the token vault) to Tok's error envelope:
// the one place where bank failures become API errors. Consent expired → 403
// CONSENT_EXPIRED, revoked → 403 CONSENT_REVOKED, other bank failures → 502 BANK_API_ERROR
// marked as coming from the bank; anything else is returned unchanged (a 500 unless it is
// an *httpapi.Error).
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
