// Package httpapi holds what every Tok HTTP function shares: the error envelope and its codes,
// request IDs, strict JSON decoding, panic recovery, and a router whose 404 and 405 answers
// are in the envelope too.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error codes of the Tok API (design.md section 5 and the API overview).
const (
	CodeInvalidAPIKey        = "INVALID_API_KEY" //nolint:gosec // G101: an error code, not a credential
	CodeConsentExpired       = "CONSENT_EXPIRED"
	CodeConsentRevoked       = "CONSENT_REVOKED"
	CodeBankAPIError         = "BANK_API_ERROR"
	CodeRateLimited          = "RATE_LIMITED"
	CodeNotFound             = "NOT_FOUND"
	CodeValidation           = "VALIDATION_ERROR"
	CodeForbidden            = "FORBIDDEN"
	CodeConflict             = "CONFLICT"
	CodeIdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED"
	CodeMethodNotAllowed     = "METHOD_NOT_ALLOWED"
	CodePayloadTooLarge      = "PAYLOAD_TOO_LARGE"
	CodeUnsupportedMedia     = "UNSUPPORTED_MEDIA_TYPE"
	CodeInternal             = "INTERNAL_ERROR"
	CodeInsufficientFunds    = "INSUFFICIENT_FUNDS"
	CodeServiceUnavailable   = "SERVICE_UNAVAILABLE"
	CodeRequestTimeout       = "REQUEST_TIMEOUT"
	CodeRefundExceedsPayment = "REFUND_EXCEEDS_PAYMENT"
)

// ErrorSourceHeader tells the client an error came from the bank, not from Tok.
const ErrorSourceHeader = "X-Tok-Error-Source"

// FieldError names one invalid input.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an API error: what the client sees (status, code, message, details) and, in Err,
// the cause, which is logged but never shown.
type Error struct {
	Status  int
	Code    string
	Message string
	Details []FieldError
	// FromBank marks errors caused by the bank; the response carries ErrorSourceHeader.
	FromBank bool
	Err      error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Validation is a 400 VALIDATION_ERROR naming the invalid fields.
func Validation(message string, details ...FieldError) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeValidation, Message: message, Details: details}
}

// InvalidField is a 400 VALIDATION_ERROR for one field.
func InvalidField(field, message string) *Error {
	return Validation("The request is invalid: "+field+" "+message+".", FieldError{Field: field, Message: message})
}

// NotFound is a 404 for a resource, whether it does not exist or belongs to someone else.
func NotFound(what string) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: what + " was not found."}
}

// Forbidden is a 403 for a call the caller's role does not allow.
func Forbidden(message string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: message}
}

// Conflict is a 409.
func Conflict(message string) *Error {
	return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: message}
}

// Internal is a 500 that hides its cause from the client.
func Internal(err error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "An internal error occurred. Retry later, quoting the request ID if it persists.", Err: err}
}

// RetryAfterUnavailable is the Retry-After, in seconds, of a 503 SERVICE_UNAVAILABLE.
const RetryAfterUnavailable = 2

// Unavailable is a 503 for a dependency (Firestore, KMS, Secret Manager, Pub/Sub) that did
// not answer within the request's deadline.
func Unavailable(err error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeServiceUnavailable,
		Message: "A service Tok depends on did not answer in time. Retry after the Retry-After delay.", Err: err}
}

// dependencyTimedOut reports whether err says a dependency did not answer in time: the
// request's deadline passed, or a gRPC call ended DeadlineExceeded or Unavailable.
func dependencyTimedOut(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var grpcErr interface{ GRPCStatus() *status.Status }
	if errors.As(err, &grpcErr) {
		switch grpcErr.GRPCStatus().Code() {
		case codes.DeadlineExceeded, codes.Unavailable:
			return true
		}
	}
	return false
}

type envelope struct {
	Error envelopeBody `json:"error"`
}

type envelopeBody struct {
	Code      string       `json:"code"`
	Message   string       `json:"message"`
	RequestID string       `json:"requestId"`
	Details   []FieldError `json:"details,omitempty"`
}

// WriteError answers err in the Tok error envelope. Anything that is not an *Error is a 500
// whose cause is logged, never sent. A cancelled request is logged at a lower level: the
// client has gone.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var apiErr *Error
	if !errors.As(err, &apiErr) {
		apiErr = Internal(err)
	}
	if apiErr.Code == CodeInternal && apiErr.Status == http.StatusInternalServerError && dependencyTimedOut(err) {
		apiErr = Unavailable(err)
	}
	if apiErr.Status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterUnavailable))
	}
	ctx := r.Context()
	switch {
	case apiErr.Status >= 500 && errors.Is(err, context.Canceled) && !errors.Is(ctx.Err(), context.DeadlineExceeded):
		slog.InfoContext(ctx, "request cancelled", "error", err)
	case apiErr.Status >= 500:
		slog.ErrorContext(ctx, "request failed", "code", apiErr.Code, "error", err)
	case apiErr.Err != nil:
		slog.InfoContext(ctx, "request rejected", "code", apiErr.Code, "error", apiErr.Err)
	}
	if apiErr.FromBank {
		w.Header().Set(ErrorSourceHeader, "bank")
	}
	WriteJSON(w, apiErr.Status, envelope{Error: envelopeBody{
		Code:      apiErr.Code,
		Message:   apiErr.Message,
		RequestID: RequestID(ctx),
		Details:   apiErr.Details,
	}})
}
