package httpapi

import (
	"bytes"
	"net/http"
)

// Recorder is a ResponseWriter that holds a response back instead of sending it: the status
// first written (200 once a body is written without one), the header and the body.
type Recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

// NewRecorder is an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{header: http.Header{}} }

// Header is the held-back response's header.
func (r *Recorder) Header() http.Header { return r.header }

// WriteHeader keeps the first status written.
func (r *Recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *Recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// Status is the status written, 0 before any.
func (r *Recorder) Status() int { return r.status }

// Body is what was written.
func (r *Recorder) Body() []byte { return r.body.Bytes() }

// Replay sends the held-back response to w (200 when nothing set a status).
func (r *Recorder) Replay(w http.ResponseWriter) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	r.WriteHeader(http.StatusOK)
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body.Bytes())
}

// StatusWriter passes a response through to its ResponseWriter and remembers its status,
// for access logs: the first status written (200 once a body is written without one).
type StatusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader sends code and keeps the first one written.
func (w *StatusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Status is the status written, 0 before any.
func (w *StatusWriter) Status() int { return w.status }

// Unwrap is the ResponseWriter, so http.ResponseController reaches its Flush and deadlines
// (and reports when it has none).
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
