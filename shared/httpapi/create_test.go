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
