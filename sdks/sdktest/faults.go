package sdktest

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/testing/apitest"
)

// FaultProxy sits in front of the gateway and, when armed, answers chosen requests itself:
// a status with a body (before or after forwarding the request to Tok) or a dropped
// connection. It logs every request, so a test can see what its SDK sent and when. Responses
// that come from Tok are checked against the spec on the way through.
//
// Control, in JSON at Control:
//
//	POST   {"method":"GET","path":"/v1/accounts","times":1,"status":502,"body":"…",
//	        "headers":{"Retry-After":"1"},"forward":false,"drop":false}
//	       arms a fault for the next `times` requests whose path starts with `path`
//	       (and method, when given); forward: Tok handles the request and the client gets
//	       the fault instead of Tok's answer (but for a 429, which passes through and leaves
//	       the fault armed); drop: the connection closes without an answer.
//	GET    the log: [{"method","path","operation","idempotencyKey","status","retryAfter","at"}],
//	       operation the spec's operationId the request is one of ("" for none), at in Unix ms,
//	       status 0 for a dropped connection.
//	DELETE clears the faults and the log.
type FaultProxy struct {
	URL     string // the proxy's base URL, without /v1
	Control string // the control endpoint
	mu      sync.Mutex
	faults  []*Fault
	log     []LogEntry
	proxy   *httputil.ReverseProxy
	t       *testing.T
}

// Fault is an armed fault.
type Fault struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Times   int               `json:"times"`
	Status  int               `json:"status"`
	Body    string            `json:"body"`
	Headers map[string]string `json:"headers"`
	Forward bool              `json:"forward"`
	Drop    bool              `json:"drop"`
}

// LogEntry is one request the proxy saw and what it answered.
type LogEntry struct {
	Method         string `json:"method"`
	Path           string `json:"path"`
	Operation      string `json:"operation"`
	IdempotencyKey string `json:"idempotencyKey"`
	Status         int    `json:"status"`
	RetryAfter     string `json:"retryAfter"` // the answer's Retry-After header
	At             int64  `json:"at"`
}

const controlPath = "/_faults"

func startFaultProxy(t *testing.T, target string) *FaultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{proxy: httputil.NewSingleHostReverseProxy(u), t: t}
	p.proxy.Transport = apitest.Transport{T: t}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	p.Control = srv.URL + controlPath
	return p
}

// Arm adds a fault.
func (p *FaultProxy) Arm(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f.Times <= 0 {
		f.Times = 1
	}
	p.faults = append(p.faults, &f)
}

// Log returns the requests seen since the last Reset (an empty slice for none).
func (p *FaultProxy) Log() []LogEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]LogEntry{}, p.log...) // [] in JSON, never null
}

// Reset clears the faults and the log.
func (p *FaultProxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults, p.log = nil, nil
}

// take returns the first armed fault matching r, counting it used.
func (p *FaultProxy) take(r *http.Request) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, f := range p.faults {
		if (f.Method == "" || strings.EqualFold(f.Method, r.Method)) && strings.HasPrefix(r.URL.Path, f.Path) {
			if f.Times--; f.Times <= 0 {
				p.faults = append(p.faults[:i], p.faults[i+1:]...)
			}
			return f
		}
	}
	return nil
}

// rearm gives back one use of f, taken by a request the fault did not apply to.
func (p *FaultProxy) rearm(f *Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f.Times++
	for _, armed := range p.faults {
		if armed == f {
			return
		}
	}
	p.faults = append([]*Fault{f}, p.faults...)
}

func (p *FaultProxy) record(r *http.Request, status int, retryAfter string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = append(p.log, LogEntry{Method: r.Method, Path: r.URL.Path, Operation: operationOf(p.t, r), IdempotencyKey: r.Header.Get("Idempotency-Key"),
		Status: status, RetryAfter: retryAfter, At: time.Now().UnixMilli()})
}

func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == controlPath {
		p.control(w, r)
		return
	}
	f := p.take(r)
	if f == nil {
		rec := &httpapi.StatusWriter{ResponseWriter: w}
		p.proxy.ServeHTTP(rec, r)
		p.record(r, rec.Status(), w.Header().Get("Retry-After"))
		return
	}
	if f.Forward {
		// Tok handles the request; its answer is lost on the way back. A 429 means Tok did
		// not handle it, so nothing was lost: the client gets it and the fault stays armed
		// for the request's retry.
		answer := httptest.NewRecorder()
		p.proxy.ServeHTTP(answer, r)
		if answer.Code == http.StatusTooManyRequests {
			p.rearm(f)
			for k, v := range answer.Header() {
				w.Header()[k] = v
			}
			p.record(r, answer.Code, answer.Header().Get("Retry-After"))
			w.WriteHeader(answer.Code)
			_, _ = answer.Body.WriteTo(w)
			return
		}
	}
	if f.Drop {
		p.record(r, 0, "")
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // a reset, as a crashed server gives
				}
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	for k, v := range f.Headers {
		w.Header().Set(k, v)
	}
	if f.Body != "" && w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	p.record(r, f.Status, f.Headers["Retry-After"])
	w.WriteHeader(f.Status)
	_, _ = io.WriteString(w, f.Body)
}

func (p *FaultProxy) control(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		var f Fault
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil || f.Path == "" || (f.Status == 0 && !f.Drop) {
			http.Error(w, "want a fault with path and status (or drop)", http.StatusBadRequest)
			return
		}
		p.Arm(f)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p.Log())
	case http.MethodDelete:
		p.Reset()
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}
