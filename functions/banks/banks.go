// Package banks is the HTTP function serving the bank catalogue: GET /v1/banks and
// GET /v1/banks/{bankId}. A live key sees live banks, a sandbox key sandbox banks.
package banks

import (
	"context"
	"net/http"
	"regexp"

	"tokapi.io/tok/shared/bankcatalog"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/tenant"
)

func init() {
	platform.HTTP("Banks", platform.WithConfig(build))
}

func build(_ context.Context, env *platform.Env, s bankcatalog.Config) (http.Handler, error) {
	catalogue, err := bankcatalog.Load(s.SandboxBankURL)
	if err != nil {
		return nil, err
	}
	return Handler(catalogue), nil
}

var countryRE = regexp.MustCompile(`^[A-Z]{2}$`)

// Handler serves the catalogue.
func Handler(catalogue *bankcatalog.Catalogue) http.Handler {
	rt := httpapi.NewRouter()
	rt.Handle("GET /v1/banks", func(w http.ResponseWriter, r *http.Request) error {
		t, err := tenant.From(r.Context())
		if err != nil {
			return err
		}
		q := r.URL.Query()
		country, service := q.Get("country"), q.Get("service")
		if country != "" && !countryRE.MatchString(country) {
			return httpapi.InvalidField("country", "must be an ISO 3166-1 alpha-2 code such as HR")
		}
		if service != "" && service != "ais" && service != "pis" && service != "vrp" {
			return httpapi.InvalidField("service", "must be ais, pis or vrp")
		}
		// The catalogue is small enough for one page; the envelope is the standard one.
		list := catalogue.List(t.Env, country, service)
		page, err := httpapi.NewList(list, len(list)+1, nil)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, page)
		return nil
	})
	rt.Handle("GET /v1/banks/{bankId}", func(w http.ResponseWriter, r *http.Request) error {
		t, err := tenant.From(r.Context())
		if err != nil {
			return err
		}
		b, ok := catalogue.Get(t.Env, r.PathValue("bankId"))
		if !ok {
			return httpapi.NotFound("Bank " + r.PathValue("bankId"))
		}
		httpapi.WriteJSON(w, http.StatusOK, b)
		return nil
	})
	return rt
}
