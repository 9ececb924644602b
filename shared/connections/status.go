package connections

import (
	"time"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/connectors"
)

// ConsentStatusOf names a connection's state in the consent vocabulary of the API.
func ConsentStatusOf(c Connection, now time.Time) string {
	switch c.EffectiveStatus(now) {
	case StatusActive:
		return ConsentAuthorized
	case StatusRevoked:
		return ConsentRevoked
	default:
		return ConsentExpired
	}
}

// StatusError answers a read of data behind a connection in status st: nil when usable.
func StatusError(st string) error {
	switch st {
	case StatusActive:
		return nil
	case StatusRevoked:
		return connectors.ConsentRevokedError()
	default:
		return connectors.ConsentExpiredError()
	}
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

// endedError is the bank error a call on an ended connection gets.
func endedError(st string) error {
	if st == StatusRevoked {
		return &bank.Error{Kind: bank.ConsentRevoked, Message: "the connection's consent was revoked"}
	}
	return &bank.Error{Kind: bank.ConsentExpired, Message: "the connection's consent has expired"}
}
