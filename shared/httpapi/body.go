package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Bounds of a request body as a function process reads it. functions-framework-go serves
// with no server timeouts, so these are what stops a client that sends less than its
// Content-Length, stalls a chunked body, or sends too much, when it reaches the process
// directly as well as behind the load balancer.
const (
	// BodyReadTimeout is how long the whole body may take to arrive.
	BodyReadTimeout = 5 * time.Second
	// MaxRequestBytes bounds any body a function reads (the sandbox bank's bulk payments are
	// the largest); DecodeJSON holds API bodies to MaxBodyBytes.
	MaxRequestBytes = 1 << 20
)

// ReadBody reads r's whole body within timeout and at most limit bytes, and replaces it with
// the bytes read, so the handlers after it read a complete body of known length and never
// wait on the client. A body that is late answers 408 REQUEST_TIMEOUT, one that ends early or
// whose chunked encoding is malformed 400, one too large 413; each also closes the
// connection, whose state is then unknown.
func ReadBody(w http.ResponseWriter, r *http.Request, timeout time.Duration, limit int64) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(timeout)) // ErrNotSupported only off a real connection
	// net/http clears the deadline itself once the body is read to its end.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		w.Header().Set("Connection", "close")
		return bodyError(err, timeout)
	}
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.TransferEncoding = nil
	return nil
}

func bodyError(err error, timeout time.Duration) *Error {
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodePayloadTooLarge,
			Message: fmt.Sprintf("The request body is larger than %d bytes.", tooLarge.Limit)}
	case errors.As(err, &netErr) && netErr.Timeout():
		return &Error{Status: http.StatusRequestTimeout, Code: CodeRequestTimeout,
			Message: fmt.Sprintf("The request body did not arrive within %s.", timeout), Err: err}
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeValidation,
		Message: "The request body could not be read: it ended early or its chunked encoding is malformed.", Err: err}
}
