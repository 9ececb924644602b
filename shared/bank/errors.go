package bank

import (
	"errors"
	"fmt"
	"net/url"
)

// Kind classifies a bank failure by what Tok must do about it.
type Kind int

// Kinds of bank error.
const (
	// Unknown is the kind of nil and of errors that are not *Error.
	Unknown Kind = iota
	// ConsentExpired: the consent (or its tokens) is expired or invalid; the customer must
	// authenticate again. Tok: 403 CONSENT_EXPIRED.
	ConsentExpired
	// ConsentRevoked: the customer revoked the consent at the bank (or it was terminated).
	// Tok: 403 CONSENT_REVOKED.
	ConsentRevoked
	// AccessExceeded: the unattended-access allowance (frequencyPerDay) is used up for
	// today; retry after the next UTC midnight. Kept distinct so sync can reschedule.
	AccessExceeded
	// TokenExpired: the access token expired; refresh it and retry.
	TokenExpired
	// Unavailable: 5xx, timeouts, connection resets, unparseable answers, circuit open.
	Unavailable
	// Rejected: the bank refused for a reason the customer caused (consent denied at SCA,
	// insufficient funds).
	Rejected
	// Invalid: the bank says our request was wrong.
	Invalid
	// NotSupported: the bank does not offer this service.
	NotSupported
)

var kindNames = map[Kind]string{
	Unknown: "unknown", ConsentExpired: "consent_expired", ConsentRevoked: "consent_revoked",
	AccessExceeded: "access_exceeded", TokenExpired: "token_expired", Unavailable: "unavailable",
	Rejected: "rejected", Invalid: "invalid", NotSupported: "not_supported",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is a failed bank call. Message is safe to show and log: it never holds a token or
// personal data (no names, IBANs, IP addresses).
type Error struct {
	Kind     Kind
	Status   int    // HTTP status from the bank, 0 if none (timeout, reset, circuit open)
	BankCode string // tppMessages code or OAuth error, e.g. CONSENT_EXPIRED, invalid_grant
	Message  string
	Err      error
}

func (e *Error) Error() string {
	s := "bank: " + e.Kind.String()
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d", e.Status)
		if e.BankCode != "" {
			s += " " + e.BankCode
		}
		s += ")"
	} else if e.BankCode != "" {
		s += " (" + e.BankCode + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + scrub(e.Err).Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// scrub drops the URL (which may carry query data) from a *url.Error.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// ErrNotSupported is returned where a bank does not offer a service (e.g. standing orders).
var ErrNotSupported = &Error{Kind: NotSupported, Message: "not supported by this bank"}

// KindOf returns the Kind of err (Unknown for nil or a non-bank error).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Unknown
}

// IsRetryable reports whether a later retry of the same call may succeed.
func IsRetryable(err error) bool {
	k := KindOf(err)
	return k == Unavailable || k == AccessExceeded || k == TokenExpired
}

// AuthorizationError interprets the query of the redirect back from the bank's SCA page:
// nil when it carries a code, a Rejected error for error=access_denied, Invalid otherwise.
func AuthorizationError(q url.Values) error {
	if q.Get("code") != "" && q.Get("error") == "" {
		return nil
	}
	code := q.Get("error")
	switch code {
	case "access_denied":
		return &Error{Kind: Rejected, BankCode: code, Message: "the customer denied consent at the bank"}
	case "temporarily_unavailable", "server_error":
		return &Error{Kind: Unavailable, BankCode: code, Message: "the bank could not complete the authorisation"}
	case "":
		return &Error{Kind: Invalid, Message: "the bank redirect carries neither code nor error"}
	}
	return &Error{Kind: Invalid, BankCode: code, Message: "the bank refused the authorisation request"}
}
