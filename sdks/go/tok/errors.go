package tok

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// ErrorCode is the code of a Tok error (the error envelope's error.code).
type ErrorCode = ErrorErrorCode

// ErrorDetail says what was wrong with one field of a request.
type ErrorDetail struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// APIError is an error answered by the API, in its error envelope. Match a code with
// errors.Is(err, tok.ErrNotFound), or read it with errors.As.
type APIError struct {
	StatusCode int
	Code       ErrorCode // empty when the answer was not a Tok envelope (a proxy's 502, say)
	Message    string
	RequestID  string
	Details    []ErrorDetail
	// RetryAfter is the Retry-After header's delay: set on RATE_LIMITED and SERVICE_UNAVAILABLE.
	RetryAfter time.Duration
	Response   Response
}

func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("tok: HTTP %d: %s", e.StatusCode, e.Message)
	}
	return fmt.Sprintf("tok: %s (HTTP %d, request %s): %s", e.Code, e.StatusCode, e.RequestID, e.Message)
}

// Is reports whether target is an *APIError with the same code, so the Err… values below
// match any error of their code.
func (e *APIError) Is(target error) bool {
	t, ok := target.(*APIError)
	return ok && t.Code != "" && t.Code == e.Code
}

// The error codes of the API, each with a value for errors.Is.
var (
	ErrInvalidAPIKey        = &APIError{Code: ErrorErrorCodeINVALIDAPIKEY}
	ErrForbidden            = &APIError{Code: ErrorErrorCodeFORBIDDEN}
	ErrConsentExpired       = &APIError{Code: ErrorErrorCodeCONSENTEXPIRED}
	ErrConsentRevoked       = &APIError{Code: ErrorErrorCodeCONSENTREVOKED}
	ErrNotFound             = &APIError{Code: ErrorErrorCodeNOTFOUND}
	ErrMethodNotAllowed     = &APIError{Code: ErrorErrorCodeMETHODNOTALLOWED}
	ErrConflict             = &APIError{Code: ErrorErrorCodeCONFLICT}
	ErrPayloadTooLarge      = &APIError{Code: ErrorErrorCodePAYLOADTOOLARGE}
	ErrUnsupportedMediaType = &APIError{Code: ErrorErrorCodeUNSUPPORTEDMEDIATYPE}
	ErrIdempotencyKeyReused = &APIError{Code: ErrorErrorCodeIDEMPOTENCYKEYREUSED}
	ErrValidation           = &APIError{Code: ErrorErrorCodeVALIDATIONERROR}
	ErrRateLimited          = &APIError{Code: ErrorErrorCodeRATELIMITED}
	ErrInternal             = &APIError{Code: ErrorErrorCodeINTERNALERROR}
	ErrBankAPI              = &APIError{Code: ErrorErrorCodeBANKAPIERROR}
	ErrServiceUnavailable   = &APIError{Code: ErrorErrorCodeSERVICEUNAVAILABLE}
	ErrInsufficientFunds    = &APIError{Code: ErrorErrorCodeINSUFFICIENTFUNDS}
	ErrRequestTimeout       = &APIError{Code: ErrorErrorCodeREQUESTTIMEOUT}
	ErrAccessExceeded       = &APIError{Code: ErrorErrorCodeACCESSEXCEEDED}
	ErrLimitExceeded        = &APIError{Code: ErrorErrorCodeLIMITEXCEEDED}
	ErrRefundExceedsPayment = &APIError{Code: ErrorErrorCodeREFUNDEXCEEDSPAYMENT}
)

// newAPIError reads an error response; a body that is not the envelope keeps the status
// and the start of the body.
func newAPIError(meta Response, body []byte) *APIError {
	e := &APIError{StatusCode: meta.StatusCode, RequestID: meta.RequestID, RetryAfter: retryAfter(meta.Header), Response: meta}
	var env Error
	if json.Unmarshal(body, &env) == nil && env.Error.Code != "" {
		e.Code, e.Message = env.Error.Code, env.Error.Message
		if env.Error.Details != nil {
			for _, d := range *env.Error.Details {
				e.Details = append(e.Details, ErrorDetail(d))
			}
		}
		if env.Error.RequestID != "" {
			e.RequestID = env.Error.RequestID
		}
		return e
	}
	e.Message = http.StatusText(meta.StatusCode)
	if len(body) > 0 {
		e.Message = string(body[:min(len(body), 200)])
	}
	return e
}
