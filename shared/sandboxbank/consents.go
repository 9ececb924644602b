package sandboxbank

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"tokapi.io/tok/shared/random"
)

// consentRecord is an AIS consent (sandboxbank/{bankId}/consents/{consentId}).
type consentRecord struct {
	ID              string    `firestore:"id"`
	Status          string    `firestore:"status"`
	Balances        bool      `firestore:"balances"`
	Transactions    bool      `firestore:"transactions"`
	ValidUntil      string    `firestore:"validUntil"` // YYYY-MM-DD, inclusive
	FrequencyPerDay int       `firestore:"frequencyPerDay"`
	Recurring       bool      `firestore:"recurring"`
	RedirectURI     string    `firestore:"redirectUri"`
	Persona         string    `firestore:"persona"`
	Created         time.Time `firestore:"created"`
	LastActionDate  string    `firestore:"lastActionDate"`
	DataAccesses    int       `firestore:"dataAccesses"`
	// Unattended holds today's unattended access counts per resource, keyed "day|resource".
	Unattended map[string]int `firestore:"unattended"`
}

// effectiveStatus applies the clock: a valid consent past its validUntil is expired.
func (c *consentRecord) effectiveStatus(now time.Time) string {
	if (c.Status == "valid" || c.Status == "received") && now.Format(time.DateOnly) > c.ValidUntil {
		return "expired"
	}
	return c.Status
}

type consentBody struct {
	Access struct {
		Accounts     *[]json.RawMessage `json:"accounts"`
		Balances     *[]json.RawMessage `json:"balances"`
		Transactions *[]json.RawMessage `json:"transactions"`
		Available    string             `json:"availableAccounts"`
		WithBalance  string             `json:"availableAccountsWithBalance"`
		AllPsd2      string             `json:"allPsd2"`
	} `json:"access"`
	RecurringIndicator       *bool  `json:"recurringIndicator"`
	ValidUntil               string `json:"validUntil"`
	FrequencyPerDay          *int   `json:"frequencyPerDay"`
	CombinedServiceIndicator *bool  `json:"combinedServiceIndicator"`
}

func (s *Server) createConsent(w http.ResponseWriter, r *http.Request, b bankInfo) {
	var body consentBody
	if !decodeBody(w, r, 64<<10, &body, "The body is not a valid consent request.", nil) {
		return
	}
	if body.RecurringIndicator == nil || body.FrequencyPerDay == nil || body.CombinedServiceIndicator == nil || body.ValidUntil == "" {
		tppError(w, 400, "FORMAT_ERROR", "access, recurringIndicator, validUntil, frequencyPerDay and combinedServiceIndicator are mandatory.")
		return
	}
	until, err := time.Parse(time.DateOnly, body.ValidUntil)
	today := truncDay(s.now())
	if err != nil || until.Before(today) {
		tppError(w, 400, "PERIOD_INVALID", "validUntil must be a date, today or later.")
		return
	}
	if max := today.AddDate(0, 0, s.opts.MaxConsentDays); until.After(max) {
		until = max // the standard lets the ASPSP shorten it; GET /consents shows the date
	}
	freq := *body.FrequencyPerDay
	if freq < 1 {
		tppError(w, 400, "FORMAT_ERROR", "frequencyPerDay must be at least 1.")
		return
	}
	if !*body.RecurringIndicator {
		freq = 1
	}
	a := body.Access
	all := a.AllPsd2 != ""
	if !all && a.Accounts == nil && a.Balances == nil && a.Transactions == nil && a.Available == "" && a.WithBalance == "" {
		tppError(w, 400, "FORMAT_ERROR", "access must name at least one service.")
		return
	}
	redirect, ok := redirectURI(w, r)
	if !ok {
		return
	}
	c := consentRecord{
		ID:              "cns-" + random.Token(12),
		Status:          "received",
		Balances:        all || a.Balances != nil || a.WithBalance != "",
		Transactions:    all || a.Transactions != nil,
		ValidUntil:      until.Format(time.DateOnly),
		FrequencyPerDay: freq,
		Recurring:       *body.RecurringIndicator,
		RedirectURI:     redirect,
		Created:         s.now(),
		LastActionDate:  today.Format(time.DateOnly),
	}
	s.createAwaitingSCA(w, r, b, kindConsents, c.ID, &c, bankPath(b)+"/v1/consents/"+c.ID, map[string]any{"consentStatus": c.Status, "consentId": c.ID})
}

// createAwaitingSCA stores a new resource (record, kind/id) that awaits the PSU's SCA and
// answers 201 with body and its links: self (also Location), status and the OAuth server.
func (s *Server) createAwaitingSCA(w http.ResponseWriter, r *http.Request, b bankInfo, kind, id string, record any, self string, body map[string]any) {
	if err := s.opts.Store.Create(r.Context(), b.ID, kind, id, record); err != nil {
		s.internal(w, err)
		return
	}
	w.Header().Set("Location", self)
	w.Header().Set("ASPSP-SCA-Approach", "REDIRECT")
	body["_links"] = map[string]any{
		"scaOAuth": href(baseURL(r, b) + "/.well-known/oauth-authorization-server"),
		"self":     href(self),
		"status":   href(self + "/status"),
	}
	writeJSON(w, http.StatusCreated, body)
}

func href(s string) map[string]string { return map[string]string{"href": s} }

func (s *Server) internal(w http.ResponseWriter, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	s.opts.Logger.Error("sandbox bank store failure", "err", err)
	w.WriteHeader(http.StatusInternalServerError)
}

// loadConsent reads the consent of the path; writes the error itself.
func (s *Server) loadConsent(w http.ResponseWriter, r *http.Request, b bankInfo) (*consentRecord, bool) {
	var c consentRecord
	ok := s.load(w, r, b, kindConsents, r.PathValue("consentId"), &c, nil, "CONSENT_UNKNOWN", "The consent is unknown.")
	return &c, ok
}

// load reads the record kind/id a path names into v. One missing, or that belongs (when
// given) finds is not the path's, is 403 code with text: unknown to the TPP. It writes the
// errors itself.
func (s *Server) load(w http.ResponseWriter, r *http.Request, b bankInfo, kind, id string, v any, belongs func() bool, code, text string) bool {
	err := s.opts.Store.Get(r.Context(), b.ID, kind, id, v)
	if errors.Is(err, ErrNotFound) || (err == nil && belongs != nil && !belongs()) {
		tppError(w, 403, code, text)
		return false
	}
	if err != nil {
		s.internal(w, err)
		return false
	}
	return true
}

func (s *Server) getConsent(w http.ResponseWriter, r *http.Request, b bankInfo) {
	c, ok := s.loadConsent(w, r, b)
	if !ok {
		return
	}
	access := map[string]any{}
	if c.Balances && c.Transactions {
		access["allPsd2"] = "allAccounts"
	} else {
		access["accounts"] = []any{}
		if c.Balances {
			access["balances"] = []any{}
		}
		if c.Transactions {
			access["transactions"] = []any{}
		}
	}
	writeJSON(w, 200, map[string]any{
		"access":             access,
		"recurringIndicator": c.Recurring,
		"validUntil":         c.ValidUntil,
		"frequencyPerDay":    c.FrequencyPerDay,
		"lastActionDate":     c.LastActionDate,
		"consentStatus":      c.effectiveStatus(s.now()),
	})
}

func (s *Server) consentStatus(w http.ResponseWriter, r *http.Request, b bankInfo) {
	c, ok := s.loadConsent(w, r, b)
	if !ok {
		return
	}
	writeJSON(w, 200, map[string]any{"consentStatus": c.effectiveStatus(s.now())})
}

func (s *Server) deleteConsent(w http.ResponseWriter, r *http.Request, b bankInfo) {
	var c consentRecord
	err := s.opts.Store.Update(r.Context(), b.ID, kindConsents, r.PathValue("consentId"), &c, func(exists bool) error {
		if !exists {
			return ErrNotFound
		}
		c.Status = "terminatedByTpp"
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		tppError(w, 403, "CONSENT_UNKNOWN", "The consent is unknown.")
		return
	}
	if err != nil {
		s.internal(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
