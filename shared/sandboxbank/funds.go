package sandboxbank

import (
	"net/http"

	"tokapi.io/tok/shared/money"
)

type fundsBody struct {
	Account          *accountRef `json:"account"`
	InstructedAmount *amountRef  `json:"instructedAmount"`
	Payee            string      `json:"payee"`
}

// fundsConfirmation answers whether the account covers the amount (PIIS). The TPP is
// trusted by its certificate, as in the standard; the account must be one of this bank's.
func (s *Server) fundsConfirmation(w http.ResponseWriter, r *http.Request, b bankInfo) {
	var body fundsBody
	if !decodeBody(w, r, 16<<10, &body, "The body must have account and instructedAmount.", func() bool { return body.Account != nil }) {
		return
	}
	amount, ok := instructedAmount(w, body.InstructedAmount)
	if !ok {
		return
	}
	iban, err := money.ValidateIBAN(body.Account.IBAN)
	if err != nil {
		tppError(w, 400, "FORMAT_ERROR", "account.iban is not a valid IBAN.")
		return
	}
	persona, a, known := ownerOfIBAN(b, iban)
	if !known {
		tppError(w, 404, "RESOURCE_UNKNOWN", "The account is unknown.")
		return
	}
	if s.faulted(r.Context(), w, persona) {
		return
	}
	_, available := balancesOf(b, persona, a, s.now())
	fundsOK := persona != PersonaBroke && body.InstructedAmount.Currency == a.Currency && !available.LessThan(amount)
	writeJSON(w, 200, map[string]any{"fundsAvailable": fundsOK})
}
