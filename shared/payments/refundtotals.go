package payments

import (
	"time"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/money"
)

// Refund statuses of a payment.
const (
	RefundNone    = "NONE"
	RefundPartial = "PARTIAL"
	RefundFull    = "FULL"
)

// amountOf reads a stored wire-format amount; empty is zero.
func amountOf(s string) decimal.Decimal {
	if s == "" {
		return decimal.Zero
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Zero
	}
	return d
}

func (p Payment) refunded() decimal.Decimal { return amountOf(p.RefundedAmount) }

// Refundable is what is left to refund: the amount less every refund not REJECTED, FAILED
// or CANCELLED.
func (p Payment) Refundable() decimal.Decimal {
	return amountOf(p.Amount).Sub(amountOf(p.RefundReserved))
}

// RefundStatus is NONE, PARTIAL or FULL by the completed refunds.
func (p Payment) RefundStatus() string {
	switch r := p.refunded(); {
	case r.IsZero():
		return RefundNone
	case r.GreaterThanOrEqual(amountOf(p.Amount)):
		return RefundFull
	default:
		return RefundPartial
	}
}

// holdsReservation reports whether a refund in status counts against its payment.
func holdsReservation(status string) bool {
	return status != StatusRejected && status != StatusFailed && status != StatusCancelled
}

// applyRefund moves the payment's refund totals for refund r, which was in status before:
// a refund that ends unpaid gives its reservation back, a completed one adds to the
// refunded amount. It reports whether p changed.
func (p *Payment) applyRefund(r Payment, before string, now time.Time) bool {
	amount := amountOf(r.Amount)
	changed := false
	if holdsReservation(before) && !holdsReservation(r.Status) {
		p.RefundReserved = money.FormatAmount(amountOf(p.RefundReserved).Sub(amount))
		changed = true
	}
	if before != StatusCompleted && r.Status == StatusCompleted {
		p.RefundedAmount = money.FormatAmount(p.refunded().Add(amount))
		changed = true
	}
	if changed {
		p.UpdatedAt = now
	}
	return changed
}
