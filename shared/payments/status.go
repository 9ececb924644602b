package payments

import (
	"time"

	"tokapi.io/tok/shared/bank"
)

// rank orders the statuses: a payment only ever moves to a higher rank.
func rank(status string) int {
	switch status {
	case StatusAwaiting:
		return 0
	case StatusScheduled:
		return 1
	case StatusPending:
		return 2
	case StatusCompleted, StatusRejected, StatusCancelled, StatusFailed:
		return 3
	}
	return -1
}

// Final reports whether status is the end of a payment.
func Final(status string) bool { return rank(status) == 3 }

// FromBank maps what the bank says about an authorised payment to Tok's status and reason.
// futureDated payments the bank accepted but has not executed are SCHEDULED; unknown or
// intermediate codes keep the payment PENDING (it is asked again).
func FromBank(s bank.PaymentState, futureDated bool) Change {
	c := Change{BankStatus: s.Status}
	switch s.Status {
	case bank.PaymentCompleted, bank.PaymentCreditCompleted:
		c.Status = StatusCompleted
	case bank.PaymentRejected:
		c.Status, c.Reason = StatusRejected, ReasonBankRejected
		if s.FundsAvailable != nil && !*s.FundsAvailable {
			c.Reason = ReasonInsufficientFunds
		}
	case bank.PaymentCancelled:
		c.Status, c.Reason = StatusCancelled, ReasonCancelledAtBank
	case bank.PaymentInProcess:
		c.Status = StatusPending
	default:
		c.Status = StatusPending
		if futureDated {
			c.Status = StatusScheduled
		}
	}
	return c
}

// Advance applies c to p unless it would move p backwards: a final status never changes,
// and a change to a lower rank is ignored. A new bank code at the same status is recorded in
// the history without an event. It returns the event type the change calls for ("" for
// none) and whether p changed at all.
func (p *Payment) Advance(c Change, now time.Time) (eventTypes []string, changed bool) {
	c.At = now
	from, to := rank(p.Status), rank(c.Status)
	switch {
	case Final(p.Status) || to < from:
		return nil, false
	case c.Status == p.Status:
		if c.BankStatus == "" || c.BankStatus == p.BankStatus {
			return nil, false
		}
		p.BankStatus = c.BankStatus
		p.StatusHistory = append(p.StatusHistory, c)
		p.UpdatedAt = now
		return nil, true
	}
	prev := p.Status
	p.Status, p.StatusReason = c.Status, c.Reason
	if c.BankStatus != "" {
		p.BankStatus = c.BankStatus
	}
	p.StatusHistory = append(p.StatusHistory, c)
	p.UpdatedAt = now
	if prev == StatusAwaiting && !Final(c.Status) {
		p.AuthorizedAt = &now
	}
	if Final(c.Status) {
		p.PollActive, p.NextPollAt, p.StatusCheckOverdue = false, nil, false
	}
	return eventsFor(prev, c.Status), true
}

// eventsFor are the events a status change publishes: payment.authorized once (also when
// the bank executed the payment at once), then the one of the final status.
func eventsFor(from, to string) []string {
	var out []string
	if from == StatusAwaiting && (to == StatusPending || to == StatusScheduled || to == StatusCompleted) {
		out = append(out, EventAuthorized)
	}
	switch to {
	case StatusCompleted:
		out = append(out, EventCompleted)
	case StatusRejected:
		out = append(out, EventRejected)
	case StatusCancelled:
		out = append(out, EventCancelled)
	case StatusFailed:
		out = append(out, EventFailed)
	}
	return out
}
