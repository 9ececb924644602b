package localstacktest

import (
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"
)

// App is the organisation's application in a test: CallbackURL is where Tok sends the
// customer's browser back. It records the query of every return there and answers a page
// whose <h1 id=done> shows the status; any other path (the browser's favicon) is 404.
type App struct {
	*httptest.Server
	back chan url.Values
}

// NewApp starts an App on 127.0.0.1, closed when the test ends.
func NewApp(t testing.TB) *App {
	a := &App{back: make(chan url.Values, 64)}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/back" {
			http.NotFound(w, r)
			return
		}
		a.back <- r.URL.Query()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!DOCTYPE html><title>App</title><h1 id=done>"+html.EscapeString(r.URL.Query().Get("status"))+"</h1>")
	}))
	t.Cleanup(a.Close)
	return a
}

// CallbackURL is the callbackUrl to give Tok.
func (a *App) CallbackURL() string { return a.URL + "/back" }

// Wait waits for the next return to the app and answers its query.
func (a *App) Wait(t testing.TB) url.Values {
	t.Helper()
	select {
	case q := <-a.back:
		return q
	case <-time.After(45 * time.Second):
		t.Fatal("Tok never sent the browser back to the app")
	}
	return nil
}

// Back waits for the next return to the app and checks that it carries param=id and one of
// statuses (a payment's status on its way back may already have moved past PENDING).
func (a *App) Back(t testing.TB, param, id string, statuses ...string) {
	t.Helper()
	if q := a.Wait(t); q.Get(param) != id || !slices.Contains(statuses, q.Get("status")) {
		t.Fatalf("back at the app with %v, want %s=%s and a status of %v", q, param, id, statuses)
	}
}
