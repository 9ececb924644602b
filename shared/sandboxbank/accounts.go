package sandboxbank

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// aisRequest is an authorised AIS call.
type aisRequest struct {
	consent *consentRecord
	persona string
	present bool // PSU-IP-Address sent: the PSU is present, no frequencyPerDay count
}

// accessError aborts an AIS call with a Berlin Group error.
type accessError struct {
	status     int
	code, text string
}

func (e *accessError) Error() string { return e.code }

// authorizeAIS checks the token and the consent of an AIS call; resource names the
// counted resource ("" for calls that are not counted, like next pages). The call counts
// against the consent's frequencyPerDay only when it is unattended. Everything it writes
// (counters, revocation) is written in one transaction, and only for calls that succeed.
func (s *Server) authorizeAIS(w http.ResponseWriter, r *http.Request, b bankInfo, resource string, needs func(*consentRecord) bool) (*aisRequest, bool) {
	ctx := r.Context()
	consentID := r.Header.Get("Consent-ID")
	if consentID == "" {
		tppError(w, 400, "FORMAT_ERROR", "The Consent-ID header is mandatory.")
		return nil, false
	}
	tok, ok := s.bearer(w, r, b, "AIS")
	if !ok {
		return nil, false
	}
	if tok.ResourceID != consentID {
		tppError(w, 401, "CONSENT_INVALID", "The access token does not belong to this consent.")
		return nil, false
	}
	present := false
	if ip := r.Header.Get("PSU-IP-Address"); ip != "" {
		if net.ParseIP(ip) == nil {
			tppError(w, 400, "FORMAT_ERROR", "PSU-IP-Address is not an IP address.")
			return nil, false
		}
		present = true
	}
	// Persona faults come before any write, so they leave nothing behind.
	if s.faulted(ctx, w, tok.Persona) {
		return nil, false
	}
	now := s.now()
	today := now.Format(time.DateOnly)
	check := func(c *consentRecord) *accessError {
		switch st := c.effectiveStatus(now); st {
		case "valid":
		case "expired":
			return &accessError{401, "CONSENT_EXPIRED", "The consent expired; the PSU must authorise again."}
		case "revokedByPsu":
			return &accessError{401, "CONSENT_INVALID", "The PSU revoked this consent at the bank."}
		case "terminatedByTpp":
			return &accessError{401, "CONSENT_INVALID", "The consent was terminated by the TPP."}
		default:
			return &accessError{401, "CONSENT_INVALID", "The consent is not authorised (status " + st + ")."}
		}
		if needs != nil && !needs(c) {
			return &accessError{401, "CONSENT_INVALID", "The consent does not cover this service."}
		}
		return nil
	}
	var c consentRecord
	counted := resource != "" && (!present || tok.Persona == PersonaRevoke || tok.Persona == PersonaExpire)
	if !counted {
		if err := s.opts.Store.Get(ctx, b.ID, kindConsents, consentID, &c); err != nil {
			if errors.Is(err, ErrNotFound) {
				tppError(w, 403, "CONSENT_UNKNOWN", "The consent is unknown.")
			} else {
				s.internal(w, err)
			}
			return nil, false
		}
		if e := check(&c); e != nil {
			tppError(w, e.status, e.code, e.text)
			return nil, false
		}
		return &aisRequest{consent: &c, persona: tok.Persona, present: present}, true
	}
	err := s.opts.Store.Update(ctx, b.ID, kindConsents, consentID, &c, func(exists bool) error {
		if !exists {
			return &accessError{403, "CONSENT_UNKNOWN", "The consent is unknown."}
		}
		if e := check(&c); e != nil {
			return e
		}
		if !present {
			key := today + "|" + resource
			if c.Unattended[key] >= c.FrequencyPerDay {
				return &accessError{429, "ACCESS_EXCEEDED", fmt.Sprintf("The consent allows %d unattended accesses a day to this resource.", c.FrequencyPerDay)}
			}
			counts := map[string]int{}
			for k, v := range c.Unattended {
				if strings.HasPrefix(k, today+"|") { // keep only today's counters
					counts[k] = v
				}
			}
			counts[key]++
			c.Unattended = counts
		}
		c.LastActionDate = today
		c.DataAccesses++
		// This access still succeeds; the next ones fail.
		if tok.Persona == PersonaRevoke && c.DataAccesses >= RevokeAfter {
			c.Status = "revokedByPsu"
		}
		if tok.Persona == PersonaExpire && c.DataAccesses >= RevokeAfter {
			c.Status = "expired"
		}
		return nil
	})
	var ae *accessError
	if errors.As(err, &ae) {
		tppError(w, ae.status, ae.code, ae.text)
		return nil, false
	}
	if err != nil {
		s.internal(w, err)
		return nil, false
	}
	return &aisRequest{consent: &c, persona: tok.Persona, present: present}, true
}

func (s *Server) accounts(w http.ResponseWriter, r *http.Request, b bankInfo) {
	ar, ok := s.authorizeAIS(w, r, b, "accounts", nil)
	if !ok {
		return
	}
	withBalance := r.URL.Query().Get("withBalance") == "true" && ar.consent.Balances
	list := []any{}
	for _, a := range accountsOf(b, ar.persona) {
		m, err := s.accountJSON(r, b, ar, a, withBalance)
		if err != nil {
			s.internal(w, err)
			return
		}
		list = append(list, m)
	}
	writeJSON(w, 200, map[string]any{"accounts": list})
}

func (s *Server) accountJSON(r *http.Request, b bankInfo, ar *aisRequest, a account, withBalance bool) (map[string]any, error) {
	self := bankPath(b) + "/v1/accounts/" + a.ResourceID
	links := map[string]any{}
	if ar.consent.Balances {
		links["balances"] = href(self + "/balances")
	}
	if ar.consent.Transactions {
		links["transactions"] = href(self + "/transactions")
	}
	m := map[string]any{
		"resourceId":      a.ResourceID,
		"iban":            a.IBAN,
		"currency":        a.Currency,
		"name":            a.Name,
		"product":         a.Product,
		"cashAccountType": "CACC",
		"status":          "enabled",
		"bic":             b.BIC,
		"usage":           a.Usage,
		"ownerName":       a.Owner,
		"_links":          links,
	}
	if withBalance {
		bals, err := s.balanceList(r.Context(), b, ar, a)
		if err != nil {
			return nil, err
		}
		m["balances"] = bals
	}
	return m, nil
}

func (s *Server) account(w http.ResponseWriter, r *http.Request, b bankInfo) {
	ar, ok := s.authorizeAIS(w, r, b, "account/"+r.PathValue("accountId"), nil)
	if !ok {
		return
	}
	a, found := findAccount(b, ar.persona, r.PathValue("accountId"))
	if !found {
		tppError(w, 404, "RESOURCE_UNKNOWN", "Unknown account.")
		return
	}
	m, err := s.accountJSON(r, b, ar, a, false)
	if err != nil {
		s.internal(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"account": m})
}

func (s *Server) balanceList(ctx context.Context, b bankInfo, ar *aisRequest, a account) ([]any, error) {
	now := s.now()
	booked, available := balancesOf(b, ar.persona, a, now)
	added, err := s.added(ctx, b, ar.consent.ID, a)
	if err != nil {
		return nil, err
	}
	for _, t := range added {
		booked, available = booked.Add(t.Amount), available.Add(t.Amount)
	}
	return []any{
		map[string]any{"balanceType": "closingBooked", "balanceAmount": amountJSON(booked, a.Currency),
			"referenceDate": now.AddDate(0, 0, -1).Format(time.DateOnly)},
		map[string]any{"balanceType": "interimAvailable", "balanceAmount": amountJSON(available, a.Currency),
			"referenceDate": now.Format(time.DateOnly), "lastChangeDateTime": now.Format(time.RFC3339)},
	}, nil
}

// checkAccount finds the account before the access is counted, so a bad ID costs nothing.
func (s *Server) checkAccount(w http.ResponseWriter, r *http.Request, b bankInfo) (account, bool) {
	// The persona is only known from the token; peek at it without counting.
	tok, err := s.peekBearer(r, b)
	if err != nil {
		return account{}, true // authorizeAIS reports the token error
	}
	a, found := findAccount(b, tok.Persona, r.PathValue("accountId"))
	if !found {
		tppError(w, 404, "RESOURCE_UNKNOWN", "Unknown account.")
		return account{}, false
	}
	return a, true
}

func (s *Server) balances(w http.ResponseWriter, r *http.Request, b bankInfo) {
	if _, ok := s.checkAccount(w, r, b); !ok {
		return
	}
	id := r.PathValue("accountId")
	ar, ok := s.authorizeAIS(w, r, b, id+"/balances", func(c *consentRecord) bool { return c.Balances })
	if !ok {
		return
	}
	a, _ := findAccount(b, ar.persona, id)
	bals, err := s.balanceList(r.Context(), b, ar, a)
	if err != nil {
		s.internal(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{
		"account":  map[string]any{"iban": a.IBAN, "currency": a.Currency},
		"balances": bals,
	})
}

// Transaction paging.
const (
	defaultItemsPerPage = 100
	maxItemsPerPage     = 500
)

func (s *Server) transactions(w http.ResponseWriter, r *http.Request, b bankInfo) {
	q := r.URL.Query()
	status := q.Get("bookingStatus")
	if status == "" {
		status = "booked"
	}
	if status != "booked" && status != "pending" && status != "both" && status != "information" {
		tppError(w, 400, "PARAMETER_NOT_SUPPORTED", "bookingStatus must be booked, pending, both or information.")
		return
	}
	now := s.now()
	today := truncDay(now)
	from, to := today.AddDate(0, 0, -HistoryDays), today
	if status != "information" {
		v := q.Get("dateFrom")
		if v == "" {
			tppError(w, 400, "FORMAT_ERROR", "dateFrom is mandatory.")
			return
		}
		var err error
		if from, err = time.Parse(time.DateOnly, v); err != nil {
			tppError(w, 400, "FORMAT_ERROR", "dateFrom must be a date (YYYY-MM-DD).")
			return
		}
		if v := q.Get("dateTo"); v != "" {
			if to, err = time.Parse(time.DateOnly, v); err != nil || to.Before(from) {
				tppError(w, 400, "FORMAT_ERROR", "dateTo must be a date (YYYY-MM-DD), not before dateFrom.")
				return
			}
		}
	}
	page, per := 0, defaultItemsPerPage
	if v := q.Get("pageIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			tppError(w, 400, "FORMAT_ERROR", "pageIndex must be a non-negative integer.")
			return
		}
		page = n
	}
	if v := q.Get("itemsPerPage"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			tppError(w, 400, "FORMAT_ERROR", "itemsPerPage must be a positive integer.")
			return
		}
		per = min(n, maxItemsPerPage)
	}
	if _, ok := s.checkAccount(w, r, b); !ok {
		return
	}
	id := r.PathValue("accountId")
	resource := id + "/transactions"
	if page > 0 {
		resource = "" // following _links.next is part of the same access
	}
	ar, ok := s.authorizeAIS(w, r, b, resource, func(c *consentRecord) bool { return c.Transactions })
	if !ok {
		return
	}
	a, _ := findAccount(b, ar.persona, id)
	todayN := dayNumber(now)
	ledger, err := s.ledgerOf(r.Context(), b, a)
	if err != nil {
		s.internal(w, err)
		return
	}
	// The day's generated entries, then the payments executed that day.
	entries := func(n int) []txn { return append(dayTxns(b, a, n, todayN), ledger[n]...) }
	self := bankPath(b) + "/v1/accounts/" + a.ResourceID
	report := map[string]any{}
	links := map[string]any{"account": href(self)}
	switch status {
	case "information":
		info := []any{}
		for _, so := range standingOrdersOf(b, a) {
			info = append(info, map[string]any{
				"transactionId":                     so.ID,
				"transactionAmount":                 amountJSON(so.Amount.Neg(), a.Currency),
				"creditorName":                      so.Creditor,
				"creditorAccount":                   map[string]any{"iban": so.CreditorIBAN},
				"remittanceInformationUnstructured": so.Remittance,
				"additionalInformationStructured": map[string]any{"standingOrderDetails": map[string]any{
					"startDate": so.Start.Format(time.DateOnly), "frequency": "Monthly",
					"dayOfExecution": strconv.Itoa(so.Day),
				}},
			})
		}
		report["information"] = info
	default:
		if status == "booked" || status == "both" {
			booked := []any{}
			// The walk goes day by day; a next link carries where the page stopped (the day
			// and how many of its entries were served), so a page seeks to its first row
			// instead of regenerating every earlier one. Without it (a pageIndex written by
			// hand) the page skips page*per rows from the start: the same rows either way.
			first, skip := dayNumber(from)-3, page*per
			if v := q.Get("dayCursor"); v != "" && page > 0 {
				d, k, ok := parseDayCursor(v)
				if !ok || d < first {
					tppError(w, 400, "FORMAT_ERROR", "dayCursor is not a cursor of this bank.")
					return
				}
				first, skip = d, k
			}
			more := false
			next := ""
			// Walk the days lazily: at most one page is ever held.
		walk:
			for n := first; n <= min(dayNumber(to), todayN); n++ {
				served := 0 // entries of day n in the report, served or skipped
				for _, t := range entries(n) {
					if t.Pending || t.BookingDate.Before(from) || t.BookingDate.After(to) {
						continue
					}
					if skip > 0 {
						skip--
						served++
						continue
					}
					if len(booked) == per {
						more = true
						next = strconv.Itoa(n) + "." + strconv.Itoa(served)
						break walk
					}
					booked = append(booked, txnJSON(a, t))
					served++
				}
			}
			if page == 0 {
				// Added entries come on the first page, beyond its size if need be.
				added, err := s.added(r.Context(), b, ar.consent.ID, a)
				if err != nil {
					s.internal(w, err)
					return
				}
				for _, t := range added {
					if !t.BookingDate.Before(from) && !t.BookingDate.After(to) {
						booked = append(booked, txnJSON(a, t))
					}
				}
			}
			report["booked"] = booked
			if more {
				nq := url.Values{}
				for k, v := range q {
					nq[k] = v
				}
				nq.Set("pageIndex", strconv.Itoa(page+1))
				nq.Set("itemsPerPage", strconv.Itoa(per))
				nq.Set("dayCursor", next)
				links["next"] = href(self + "/transactions?" + nq.Encode())
			}
		}
		if (status == "pending" || status == "both") && page == 0 {
			pending := []any{}
			for n := max(dayNumber(from), todayN-5); n <= min(dayNumber(to), todayN); n++ {
				for _, t := range entries(n) {
					if t.Pending {
						pending = append(pending, txnJSON(a, t))
					}
				}
			}
			report["pending"] = pending
		}
	}
	report["_links"] = links
	writeJSON(w, 200, map[string]any{
		"account":      map[string]any{"iban": a.IBAN, "currency": a.Currency},
		"transactions": report,
	})
}

// parseDayCursor reads a next link's dayCursor: "<day number>.<entries of that day served>".
func parseDayCursor(v string) (day, served int, ok bool) {
	d, k, found := strings.Cut(v, ".")
	if !found {
		return 0, 0, false
	}
	day, err1 := strconv.Atoi(d)
	served, err2 := strconv.Atoi(k)
	return day, served, err1 == nil && err2 == nil && served >= 0
}

func txnJSON(a account, t txn) map[string]any {
	m := map[string]any{
		"transactionId":                     t.ID,
		"entryReference":                    t.EntryReference,
		"endToEndId":                        t.EndToEndID,
		"valueDate":                         t.Date.Format(time.DateOnly),
		"transactionAmount":                 amountJSON(t.Amount, t.Currency),
		"remittanceInformationUnstructured": t.Remittance,
	}
	if !t.Pending {
		m["bookingDate"] = t.BookingDate.Format(time.DateOnly)
	}
	own := map[string]any{"iban": a.IBAN}
	var cp map[string]any
	if t.CounterIBAN != "" {
		cp = map[string]any{"iban": t.CounterIBAN}
	}
	if t.Amount.IsNegative() {
		m["creditorName"] = t.Counterparty
		if cp != nil {
			m["creditorAccount"] = cp
		}
		m["debtorName"] = a.Owner
		m["debtorAccount"] = own
	} else {
		m["debtorName"] = t.Counterparty
		if cp != nil {
			m["debtorAccount"] = cp
		}
		m["creditorName"] = a.Owner
		m["creditorAccount"] = own
	}
	return m
}
