package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"tokapi.io/tok/shared/httpapi"
)

func TestStatusWriterKeepsTheFirstStatus(t *testing.T) {
	cases := []struct {
		name  string
		write func(w http.ResponseWriter)
		want  int
	}{
		{"nothing", func(http.ResponseWriter) {}, 0},
		{"body only", func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")) }, 200},
		{"header then body", func(w http.ResponseWriter) { w.WriteHeader(201); _, _ = w.Write([]byte("x")) }, 201},
		{"two headers", func(w http.ResponseWriter) { w.WriteHeader(404); w.WriteHeader(500) }, 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			sw := &httpapi.StatusWriter{ResponseWriter: rec}
			c.write(sw)
			if sw.Status() != c.want {
				t.Errorf("Status() = %d, want %d", sw.Status(), c.want)
			}
			if c.want != 0 && rec.Code != c.want {
				t.Errorf("the client got %d, want %d", rec.Code, c.want)
			}
		})
	}
}

func TestStatusWriterFlushesThroughResponseController(t *testing.T) {
	rec := httptest.NewRecorder()
	if err := http.NewResponseController(&httpapi.StatusWriter{ResponseWriter: rec}).Flush(); err != nil || !rec.Flushed {
		t.Errorf("flushed %v, err %v", rec.Flushed, err)
	}
	// A ResponseWriter that cannot flush says so, through the StatusWriter.
	plain := struct{ http.ResponseWriter }{httptest.NewRecorder()}
	if err := http.NewResponseController(&httpapi.StatusWriter{ResponseWriter: plain}).Flush(); err == nil {
		t.Error("a flush of a writer without Flush reported no error")
	}
}
