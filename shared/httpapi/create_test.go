package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCreateOrder: the caller is admitted before the body is read, the body is decoded
// strictly before anything is made, and only a made resource is answered 201 with Location.
func TestCreateOrder(t *testing.T) {
	type in struct {
		Name string `json:"name"`
	}
	var made []string
	create := func(_ context.Context, scope string, v in) (string, any, error) {
		if v.Name == "fail" {
			return "", nil, errors.New("store down")
		}
		made = append(made, scope+"/"+v.Name)
		return "/v1/things/" + v.Name, map[string]string{"id": v.Name}, nil
	}
	admitted := func(*http.Request) (string, error) { return "org", nil }
	refused := func(*http.Request) (string, error) { return "", Forbidden("no") }
	serve := func(admit func(*http.Request) (string, error), body string) (*httptest.ResponseRecorder, error) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/v1/things", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return w, Create(w, r, admit, create)
	}

	var apiErr *Error
	if _, err := serve(refused, `not json`); !errors.As(err, &apiErr) || apiErr.Status != http.StatusForbidden {
		t.Fatalf("refused caller with a bad body: %v, want the 403 first", err)
	}
	if _, err := serve(admitted, `{"name":"a","extra":1}`); !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest {
		t.Fatalf("unknown field: %v, want 400", err)
	}
	if _, err := serve(admitted, `{"name":"fail"}`); err == nil || err.Error() != "store down" {
		t.Fatalf("failed create: %v", err)
	}
	w, err := serve(admitted, `{"name":"a"}`)
	if err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusCreated || w.Header().Get("Location") != "/v1/things/a" || !strings.Contains(w.Body.String(), `"id":"a"`) {
		t.Fatalf("got %d Location %q body %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	if len(made) != 1 || made[0] != "org/a" {
		t.Fatalf("made %v, want only org/a", made)
	}
}

// TestRespondOrder: Respond (on Answer) admits the caller before it reads the body, decodes
// the body strictly, passes the answer's error through and answers 200 with its JSON.
func TestRespondOrder(t *testing.T) {
	type in struct {
		N int `json:"n"`
	}
	double := func(_ context.Context, scope string, v in) (any, error) {
		if v.N < 0 {
			return nil, errors.New("negative")
		}
		return map[string]any{"scope": scope, "double": 2 * v.N}, nil
	}
	for _, c := range []struct {
		refuse     error
		body       string
		wantStatus int    // of the *Error returned, or of the answer
		wantErr    string // another error, returned as it is
		wantBody   string
	}{
		{refuse: Forbidden("no"), body: `junk`, wantStatus: http.StatusForbidden},
		{body: `{"n":1,"extra":2}`, wantStatus: http.StatusBadRequest},
		{body: `{"n":-1}`, wantErr: "negative"},
		{body: `{"n":2}`, wantStatus: http.StatusOK, wantBody: `{"double":4,"scope":"org"}`},
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/v1/doubles", strings.NewReader(c.body))
		r.Header.Set("Content-Type", "application/json")
		err := Respond(w, r, func(*http.Request) (string, error) { return "org", c.refuse }, double)
		var apiErr *Error
		switch {
		case c.wantErr != "":
			if err == nil || err.Error() != c.wantErr {
				t.Errorf("%s: error %v, want %q", c.body, err, c.wantErr)
			}
		case c.wantBody == "":
			if !errors.As(err, &apiErr) || apiErr.Status != c.wantStatus {
				t.Errorf("%s: error %v, want status %d", c.body, err, c.wantStatus)
			}
		case err != nil || w.Code != c.wantStatus || strings.TrimSpace(w.Body.String()) != c.wantBody:
			t.Errorf("%s: %v, answered %d %s; want %d %s", c.body, err, w.Code, w.Body, c.wantStatus, c.wantBody)
		}
	}
}

// TestOneOf: an empty value passes (the option left out), one of the allowed passes, any
// other is a 400 on the field that lists the allowed values.
func TestOneOf(t *testing.T) {
	allowed := []string{"PENDING", "COMPLETED"}
	if OneOf("status", "", allowed) != nil || OneOf("status", "COMPLETED", allowed) != nil {
		t.Fatal("an empty or allowed value was refused")
	}
	var apiErr *Error
	err := OneOf("status", "completed", allowed)
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || !strings.Contains(err.Error(), "PENDING, COMPLETED") {
		t.Fatalf("OneOf(completed) = %v, want a 400 listing the values", err)
	}
	if len(apiErr.Details) != 1 || apiErr.Details[0].Field != "status" {
		t.Fatalf("details %+v, want the field status", apiErr.Details)
	}
}
