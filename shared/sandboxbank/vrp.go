package sandboxbank

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/money"
	"tokapi.io/tok/shared/random"
	"tokapi.io/tok/shared/vrplimits"
)

// The VRP mandate service, in Berlin Group style after the UK Open Banking VRP profile: a
// mandate with control parameters, authorised by the PSU in its own SCA (scope
// VRP:<mandateId>), then payments under it with no PSU present, each checked by the bank
// against the mandate's limits on its own ledger (the mandate's payments).

// maxMandatePayments bounds a mandate's ledger (it lives in the mandate's record).
const maxMandatePayments = 2000

type mandateLimit struct {
	Max       string `firestore:"max"`
	Type      string `firestore:"type"`
	Alignment string `firestore:"alignment"`
}

// vrpPayment is one payment under a mandate, in the mandate's ledger.
type vrpPayment struct {
	ID             string    `firestore:"id"`
	IdempotencyKey string    `firestore:"idempotencyKey"`
	Amount         string    `firestore:"amount"`
	Status         string    `firestore:"status"`
	Reason         string    `firestore:"reason"`
	EndToEndID     string    `firestore:"endToEndId"`
	Remittance     string    `firestore:"remittance"`
	Created        time.Time `firestore:"created"`
}

// mandateRecord is a VRP mandate (sandboxbank/{bankId}/mandates/{mandateId}).
type mandateRecord struct {
	ID             string         `firestore:"id"`
	Status         string         `firestore:"status"`
	Persona        string         `firestore:"persona"`
	CreditorIBAN   string         `firestore:"creditorIban"`
	CreditorName   string         `firestore:"creditorName"`
	DebtorIBAN     string         `firestore:"debtorIban"`
	Currency       string         `firestore:"currency"`
	MaxIndividual  string         `firestore:"maxIndividual"`
	MinIndividual  string         `firestore:"minIndividual"`
	Periodic       []mandateLimit `firestore:"periodic"`
	MaxOccurrences int            `firestore:"maxOccurrences"`
	ValidFrom      time.Time      `firestore:"validFrom"`
	ValidTo        time.Time      `firestore:"validTo"`
	TimeZone       string         `firestore:"timeZone"`
	VRPType        string         `firestore:"vrpType"`
	Remittance     string         `firestore:"remittance"`
	RedirectURI    string         `firestore:"redirectUri"`
	Created        time.Time      `firestore:"created"`
	Payments       []vrpPayment   `firestore:"payments"`
}

// limits are the mandate's control parameters for vrplimits.
func (m mandateRecord) limits() (vrplimits.Limits, error) {
	st := vrplimits.Stored{Currency: m.Currency, MaxIndividual: m.MaxIndividual, MinIndividual: m.MinIndividual,
		MaxOccurrences: m.MaxOccurrences, From: m.ValidFrom, To: m.ValidTo, TimeZone: m.TimeZone}
	for _, p := range m.Periodic {
		st.Periodic = append(st.Periodic, vrplimits.StoredPeriodic{Max: p.Max, Type: p.Type, Alignment: p.Alignment})
	}
	return st.Limits()
}

// effectiveStatus is the mandate's status now: a valid mandate past its validity is expired.
func (m mandateRecord) effectiveStatus(now time.Time) string {
	if m.Status == "valid" && !m.ValidTo.IsZero() && !now.Before(m.ValidTo) {
		return "expired"
	}
	return m.Status
}

// used sums the ledger as the bank sees it: every payment not rejected counts.
func (m mandateRecord) used(l vrplimits.Limits) vrplimits.Used {
	u := vrplimits.Used{Period: func(_ int, p vrplimits.Period) int64 {
		var sum int64
		for _, v := range m.Payments {
			if v.Status != "RJCT" && p.Contains(v.Created) {
				d, _ := decimal.NewFromString(v.Amount)
				sum += l.Minor(d)
			}
		}
		return sum
	}}
	for _, v := range m.Payments {
		if v.Status != "RJCT" {
			u.Occurrences++
		}
	}
	return u
}

type mandateBody struct {
	CreditorAccount   *accountRef `json:"creditorAccount"`
	CreditorName      string      `json:"creditorName"`
	DebtorAccount     *accountRef `json:"debtorAccount"`
	VRPType           string      `json:"vrpType"`
	Remittance        string      `json:"remittanceInformationUnstructured"`
	ControlParameters *struct {
		MaximumIndividualAmount *amountRef `json:"maximumIndividualAmount"`
		MinimumIndividualAmount *amountRef `json:"minimumIndividualAmount"`
		PeriodicLimits          []struct {
			MaximumAmount   *amountRef `json:"maximumAmount"`
			PeriodType      string     `json:"periodType"`
			PeriodAlignment string     `json:"periodAlignment"`
		} `json:"periodicLimits"`
		MaximumOccurrences int       `json:"maximumOccurrences"`
		ValidFrom          time.Time `json:"validFromDateTime"`
		ValidTo            time.Time `json:"validToDateTime"`
		TimeZone           string    `json:"timeZone"`
	} `json:"controlParameters"`
}

func (s *Server) createMandate(w http.ResponseWriter, r *http.Request, b bankInfo) {
	if ip := r.Header.Get("PSU-IP-Address"); ip == "" || net.ParseIP(ip) == nil {
		tppError(w, 400, "FORMAT_ERROR", "PSU-IP-Address is mandatory: the PSU sets up a mandate.")
		return
	}
	var body mandateBody
	if !decodeBody(w, r, 64<<10, &body, "The body is not a valid mandate: creditorAccount and controlParameters are mandatory.", func() bool { return body.ControlParameters != nil && body.CreditorAccount != nil }) {
		return
	}
	cp := body.ControlParameters
	creditor, err := money.ValidateIBAN(body.CreditorAccount.IBAN)
	if err != nil || body.CreditorName == "" {
		tppError(w, 400, "FORMAT_ERROR", "creditorAccount needs a valid IBAN and creditorName is mandatory.")
		return
	}
	maxInd, ok := parseAmount(cp.MaximumIndividualAmount)
	if !ok || len(cp.PeriodicLimits) == 0 {
		tppError(w, 400, "FORMAT_ERROR", "maximumIndividualAmount and at least one periodic limit are mandatory.")
		return
	}
	m := mandateRecord{ID: "vrpm-" + random.Token(12), Status: "received", CreditorIBAN: creditor, CreditorName: body.CreditorName,
		Currency: cp.MaximumIndividualAmount.Currency, MaxIndividual: maxInd.String(), MaxOccurrences: cp.MaximumOccurrences,
		ValidFrom: cp.ValidFrom.UTC(), ValidTo: cp.ValidTo.UTC(), TimeZone: cp.TimeZone, VRPType: body.VRPType,
		Remittance: body.Remittance, RedirectURI: r.Header.Get("TPP-Redirect-URI"), Created: s.now()}
	if cp.MinimumIndividualAmount != nil {
		d, ok := parseAmount(cp.MinimumIndividualAmount)
		if !ok || cp.MinimumIndividualAmount.Currency != m.Currency {
			tppError(w, 400, "FORMAT_ERROR", "minimumIndividualAmount is invalid.")
			return
		}
		m.MinIndividual = d.String()
	}
	for _, p := range cp.PeriodicLimits {
		d, ok := parseAmount(p.MaximumAmount)
		if !ok || p.MaximumAmount.Currency != m.Currency || !slices.Contains(vrplimits.PeriodTypes, p.PeriodType) || !slices.Contains(vrplimits.Alignments, p.PeriodAlignment) {
			tppError(w, 400, "FORMAT_ERROR", "Each periodic limit needs a maximumAmount in the mandate's currency, a periodType and a periodAlignment.")
			return
		}
		m.Periodic = append(m.Periodic, mandateLimit{Max: d.String(), Type: p.PeriodType, Alignment: p.PeriodAlignment})
	}
	if !validRedirect(m.RedirectURI) {
		tppError(w, 400, "FORMAT_ERROR", "TPP-Redirect-URI must be an absolute http(s) URL.")
		return
	}
	if m.ValidFrom.IsZero() {
		m.ValidFrom = s.now()
	}
	if _, err := m.limits(); err != nil || (!m.ValidTo.IsZero() && !m.ValidTo.After(m.ValidFrom)) {
		tppError(w, 400, "FORMAT_ERROR", "The control parameters are inconsistent (currency, time zone or validity).")
		return
	}
	if body.DebtorAccount != nil && body.DebtorAccount.IBAN != "" {
		debtor, err := money.ValidateIBAN(body.DebtorAccount.IBAN)
		if _, _, known := ownerOfIBAN(b, debtor); err != nil || !known {
			tppError(w, 400, "FORMAT_ERROR", "debtorAccount is not an account of this bank.")
			return
		}
		m.DebtorIBAN = debtor
	}
	s.createAwaitingSCA(w, r, b, kindMandates, m.ID, &m, bankPath(b)+"/v1/vrp-mandates/"+m.ID, map[string]any{"mandateId": m.ID, "mandateStatus": m.Status})
}

// mandatePage describes the mandate on the decision page.
func (s *Server) mandatePage(r *http.Request, b bankInfo, ar *authRequest, pd pageData) pageData {
	var m mandateRecord
	_ = s.opts.Store.Get(r.Context(), b.ID, kindMandates, ar.ResourceID, &m)
	pd.Service = "VRP"
	pd.Payment = "Payments to " + m.CreditorName + " (" + m.CreditorIBAN + ")"
	pd.Scopes = []string{"at most " + m.MaxIndividual + " " + m.Currency + " per payment"}
	for _, p := range m.Periodic {
		pd.Scopes = append(pd.Scopes, "at most "+p.Max+" "+m.Currency+" per "+p.Type+" ("+p.Alignment+" aligned)")
	}
	if m.MaxOccurrences > 0 {
		pd.Scopes = append(pd.Scopes, fmt.Sprintf("at most %d payments", m.MaxOccurrences))
	}
	if !m.ValidTo.IsZero() {
		pd.Scopes = append(pd.Scopes, "until "+m.ValidTo.Format(time.RFC3339))
	}
	return pd
}

// decideMandate records the PSU's decision on a mandate; it picks the debtor account in the
// mandate's currency when the TPP named none.
func (s *Server) decideMandate(r *http.Request, b bankInfo, ar *authRequest, approve bool) error {
	var m mandateRecord
	return s.opts.Store.Update(r.Context(), b.ID, kindMandates, ar.ResourceID, &m, func(exists bool) error {
		if !exists || m.Status != "received" {
			return errors.New("mandate not awaiting authorisation")
		}
		m.Persona, m.Status = ar.Persona, "rejected"
		if !approve {
			return nil
		}
		for _, a := range accountsOf(b, ar.Persona) {
			if (m.DebtorIBAN != "" && a.IBAN == m.DebtorIBAN) || (m.DebtorIBAN == "" && a.Currency == m.Currency) {
				m.DebtorIBAN, m.Status = a.IBAN, "valid"
				return nil
			}
		}
		return nil // no account of the PSU can pay: the mandate is rejected
	})
}

// loadMandate checks the bearer token (service VRP, this mandate) and reads the mandate.
func (s *Server) loadMandate(w http.ResponseWriter, r *http.Request, b bankInfo) (*mandateRecord, bool) {
	t, ok := s.bearer(w, r, b, "VRP")
	if !ok {
		return nil, false
	}
	id := r.PathValue("mandateId")
	var m mandateRecord
	ok = s.load(w, r, b, kindMandates, id, &m, func() bool { return t.ResourceID == id }, "CONSENT_UNKNOWN", "The mandate is unknown.")
	return &m, ok
}

func (s *Server) mandateStatus(w http.ResponseWriter, r *http.Request, b bankInfo) {
	if m, ok := s.loadMandate(w, r, b); ok {
		writeJSON(w, 200, map[string]any{"mandateStatus": m.effectiveStatus(s.now())})
	}
}

func (s *Server) deleteMandate(w http.ResponseWriter, r *http.Request, b bankInfo) {
	if _, ok := s.loadMandate(w, r, b); !ok {
		return
	}
	var m mandateRecord
	err := s.opts.Store.Update(r.Context(), b.ID, kindMandates, r.PathValue("mandateId"), &m, func(bool) error {
		if m.Status == "valid" || m.Status == "received" {
			m.Status = "terminatedByTpp"
		}
		return nil
	})
	if err != nil {
		s.internal(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// revokeMandate is the sandbox's stand-in for the PSU revoking a mandate in their online
// banking: a valid mandate becomes revokedByPsu, after which payments and funds
// confirmations under it answer 401 MANDATE_REVOKED. Not part of any standard; it takes the
// mandate's VRP token, as every mandate call does.
//
//	POST .../v1/vrp-mandates/{mandateId}/sandbox-revoke   204; 409 MANDATE_INVALID unless valid
func (s *Server) revokeMandate(w http.ResponseWriter, r *http.Request, b bankInfo) {
	if _, ok := s.loadMandate(w, r, b); !ok {
		return
	}
	var m mandateRecord
	errNotValid := errors.New("not valid")
	err := s.opts.Store.Update(r.Context(), b.ID, kindMandates, r.PathValue("mandateId"), &m, func(bool) error {
		if m.effectiveStatus(s.now()) != "valid" {
			return errNotValid
		}
		m.Status = "revokedByPsu"
		return nil
	})
	switch {
	case errors.Is(err, errNotValid):
		tppError(w, http.StatusConflict, "MANDATE_INVALID", "Only a valid mandate can be revoked; this one is "+m.effectiveStatus(s.now())+".")
	case err != nil:
		s.internal(w, err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// usable answers the error of a mandate that cannot pay now, or writes nothing.
func (s *Server) usable(w http.ResponseWriter, m *mandateRecord) bool {
	switch m.effectiveStatus(s.now()) {
	case "valid":
		return true
	case "expired":
		tppError(w, 401, "MANDATE_EXPIRED", "The mandate has expired.")
	case "terminatedByTpp", "revokedByPsu":
		tppError(w, 401, "MANDATE_REVOKED", "The mandate was revoked.")
	default:
		tppError(w, 401, "CONSENT_INVALID", "The mandate is not authorised.")
	}
	return false
}

type vrpBody struct {
	InstructedAmount *amountRef `json:"instructedAmount"`
	Remittance       string     `json:"remittanceInformationUnstructured"`
	EndToEndID       string     `json:"endToEndIdentification"`
}

// initiateVRP pays under a mandate with no PSU present. The whole check (idempotency key,
// limits on the ledger, funds) and the ledger entry are one transaction on the mandate, so
// the bank's limits hold whatever the TPP does.
func (s *Server) initiateVRP(w http.ResponseWriter, r *http.Request, b bankInfo) {
	m, ok := s.loadMandate(w, r, b)
	if !ok || !s.usable(w, m) {
		return
	}
	key := r.Header.Get("X-Idempotency-Key")
	if key == "" || len(key) > 128 {
		tppError(w, 400, "FORMAT_ERROR", "X-Idempotency-Key is mandatory (at most 128 characters).")
		return
	}
	var body vrpBody
	if !decodeBody(w, r, 16<<10, &body, "The body is not a valid payment.", nil) {
		return
	}
	amount, ok := instructedAmount(w, body.InstructedAmount)
	if !ok {
		return
	}
	if s.faulted(r.Context(), w, m.Persona) {
		return
	}
	var p vrpPayment
	var violation *vrplimits.Violation
	errLimit := errors.New("limit")
	err := s.opts.Store.Update(r.Context(), b.ID, kindMandates, m.ID, m, func(bool) error {
		p, violation = vrpPayment{}, nil
		for _, old := range m.Payments {
			if old.IdempotencyKey == key {
				p = old
				return nil // written back unchanged
			}
		}
		l, err := m.limits()
		if err != nil {
			return err
		}
		now := s.now()
		if violation = l.Check(amount, body.InstructedAmount.Currency, now, m.used(l)); violation != nil || len(m.Payments) >= maxMandatePayments {
			return errLimit
		}
		p = vrpPayment{ID: "vrp-" + random.Token(12), IdempotencyKey: key, Amount: amount.StringFixed(l.Currency.MinorUnits),
			Status: "ACSP", EndToEndID: body.EndToEndID, Remittance: body.Remittance, Created: now}
		if _, available := s.available(b, m); m.Persona == PersonaBroke || available.LessThan(amount) {
			p.Status, p.Reason = "RJCT", "Insufficient funds."
		}
		m.Payments = append(m.Payments, p)
		return nil
	})
	switch {
	case errors.Is(err, errLimit):
		text := "The payment is over the mandate's limits."
		if violation != nil {
			text = "The payment is over the mandate's " + violation.Limit + "."
		}
		tppError(w, 400, "LIMIT_EXCEEDED", text)
		return
	case err != nil:
		s.internal(w, err)
		return
	}
	out := map[string]any{"paymentId": p.ID, "transactionStatus": s.vrpStatus(p, m.Persona)}
	if p.Status == "RJCT" {
		out["fundsAvailable"] = false
	}
	writeJSON(w, http.StatusCreated, out)
}

// available is the debtor account's available balance.
func (s *Server) available(b bankInfo, m *mandateRecord) (account, decimal.Decimal) {
	for _, a := range accountsOf(b, m.Persona) {
		if a.IBAN == m.DebtorIBAN {
			_, avail := balancesOf(b, m.Persona, a, s.now())
			return a, avail
		}
	}
	return account{}, decimal.Zero
}

// vrpStatus is a ledger entry's status now: it settles as a single payment does.
func (s *Server) vrpStatus(p vrpPayment, persona string) string {
	return s.settled(paymentRecord{Status: p.Status, Authorised: p.Created, Persona: persona})
}

func (s *Server) vrpPaymentStatus(w http.ResponseWriter, r *http.Request, b bankInfo) {
	m, ok := s.loadMandate(w, r, b)
	if !ok {
		return
	}
	for _, p := range m.Payments {
		if p.ID == r.PathValue("paymentId") {
			body := map[string]any{"transactionStatus": s.vrpStatus(p, m.Persona)}
			if p.Status == "RJCT" {
				body["fundsAvailable"], body["psuMessage"] = false, p.Reason
			}
			writeJSON(w, 200, body)
			return
		}
	}
	tppError(w, 403, "RESOURCE_UNKNOWN", "The payment is unknown.")
}

func (s *Server) mandateFunds(w http.ResponseWriter, r *http.Request, b bankInfo) {
	m, ok := s.loadMandate(w, r, b)
	if !ok || !s.usable(w, m) {
		return
	}
	var body struct {
		InstructedAmount *amountRef `json:"instructedAmount"`
	}
	if !decodeBody(w, r, 16<<10, &body, "The body must have instructedAmount.", nil) {
		return
	}
	amount, ok := instructedAmount(w, body.InstructedAmount)
	if !ok {
		return
	}
	a, available := s.available(b, m)
	writeJSON(w, 200, map[string]any{"fundsAvailable": m.Persona != PersonaBroke && a.Currency == body.InstructedAmount.Currency && !available.LessThan(amount)})
}

// validRedirect checks a TPP-Redirect-URI header: empty or an absolute http(s) URL.
func validRedirect(raw string) bool {
	if raw == "" {
		return true
	}
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}
