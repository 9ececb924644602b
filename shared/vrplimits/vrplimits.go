// Package vrplimits is the arithmetic of a variable recurring payment mandate's control
// parameters: the periods its periodic limits apply to (day, week, month, year; aligned to
// the consent's start date or to the calendar, in the consent's time zone) and the check of
// one payment against every limit, in the currency's minor units. Tok's VRP service
// (shared/vrp) and the sandbox bank both use it: Tok reserves against counters in one
// transaction, the bank sums its own ledger.
package vrplimits

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/money"
)

// Period types and alignments.
const (
	Day   = "DAY"
	Week  = "WEEK"
	Month = "MONTH"
	Year  = "YEAR"

	AlignConsent  = "CONSENT"
	AlignCalendar = "CALENDAR"
)

// PeriodTypes and Alignments list the accepted values.
var (
	PeriodTypes = []string{Day, Week, Month, Year}
	Alignments  = []string{AlignConsent, AlignCalendar}
)

// DefaultTimeZone is the zone of the periods of a consent that names none: midnight,
// Monday and the first of the month are those of Belgrade (the same as Zagreb, Sarajevo,
// Podgorica, Skopje, Tirana, Ljubljana and Pristina).
const DefaultTimeZone = "Europe/Belgrade"

// Period is the [Start, End) interval of one period of a periodic limit.
type Period struct {
	Start, End time.Time
}

// Contains reports whether t is in the period.
func (p Period) Contains(t time.Time) bool { return !t.Before(p.Start) && t.Before(p.End) }

// PeriodOf returns the period of type typ containing t. CALENDAR periods start at local
// midnight, on Mondays, on the first of the month or on 1 January; CONSENT periods start on
// the consent's start date (its time of day disregarded) and repeat every day, 7 days, month
// or year from it. A monthly or yearly period anchored on a day a month lacks (the 31st, 29
// February) starts on that month's last day instead, and returns to the anchor day the
// month after. Days are calendar days in loc, so a period across a DST change is 23 or 25
// hours long.
func PeriodOf(typ, alignment string, anchor, t time.Time, loc *time.Location) Period {
	lt := t.In(loc)
	y, m, d := lt.Date()
	if alignment == AlignCalendar {
		switch typ {
		case Week:
			back := (int(lt.Weekday()) + 6) % 7 // days since Monday
			return dayPeriod(y, m, d-back, 7, loc)
		case Month:
			return Period{Start: date(y, m, 1, loc), End: date(y, m+1, 1, loc)}
		case Year:
			return Period{Start: date(y, 1, 1, loc), End: date(y+1, 1, 1, loc)}
		}
		return dayPeriod(y, m, d, 1, loc)
	}
	ay, am, ad := anchor.In(loc).Date()
	switch typ {
	case Week:
		n := floorDiv(civilDays(y, m, d)-civilDays(ay, am, ad), 7)
		return dayPeriod(ay, am, ad+int(n)*7, 7, loc)
	case Month, Year:
		step := int64(1)
		if typ == Year {
			step = 12
		}
		k := int(floorDiv(int64((y-ay)*12+int(m-am)), step) * step)
		start := monthsFrom(ay, am, ad, k, loc)
		if start.After(lt) { // t is before the anchor day of its own month
			k -= int(step)
			start = monthsFrom(ay, am, ad, k, loc)
		}
		return Period{Start: start, End: monthsFrom(ay, am, ad, k+int(step), loc)}
	}
	return dayPeriod(y, m, d, 1, loc)
}

func date(y int, m time.Month, d int, loc *time.Location) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// dayPeriod is n calendar days from y-m-d (normalised) in loc.
func dayPeriod(y int, m time.Month, d, n int, loc *time.Location) Period {
	return Period{Start: date(y, m, d, loc), End: date(y, m, d+n, loc)}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// civilDays numbers calendar days (UTC arithmetic, so DST never shifts them).
func civilDays(y int, m time.Month, d int) int64 {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// monthsFrom is the anchor day k months after (ay, am), clamped to that month's last day.
func monthsFrom(ay int, am time.Month, ad, k int, loc *time.Location) time.Time {
	first := time.Date(ay, am+time.Month(k), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return date(first.Year(), first.Month(), min(ad, last), loc)
}

// Periodic is one periodic limit.
type Periodic struct {
	Max       decimal.Decimal
	Type      string
	Alignment string
}

// Limits are a mandate's control parameters.
type Limits struct {
	Currency       money.Currency
	MaxIndividual  decimal.Decimal
	MinIndividual  decimal.Decimal // zero: none
	Periodic       []Periodic
	MaxOccurrences int // 0: none
	// From is the start of validity and the anchor of CONSENT periods; To (zero: none) its end.
	From, To time.Time
	Location *time.Location
}

// Stored is a mandate's control parameters as a record keeps them: amounts in the wire
// format, the time zone by name, MinIndividual "" for none, To zero for no end.
type Stored struct {
	Currency       string
	MaxIndividual  string
	MinIndividual  string
	Periodic       []StoredPeriodic
	MaxOccurrences int
	From, To       time.Time
	TimeZone       string
}

// StoredPeriodic is one periodic limit as stored.
type StoredPeriodic struct {
	Max, Type, Alignment string
}

// Limits reads the stored parameters, which were validated when the mandate was made.
func (s Stored) Limits() (Limits, error) {
	cur, ok := money.LookupCurrency(s.Currency)
	if !ok {
		return Limits{}, fmt.Errorf("currency %q", s.Currency)
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return Limits{}, err
	}
	l := Limits{Currency: cur, MaxOccurrences: s.MaxOccurrences, From: s.From, To: s.To, Location: loc}
	if l.MaxIndividual, err = decimal.NewFromString(s.MaxIndividual); err != nil {
		return l, err
	}
	if s.MinIndividual != "" {
		if l.MinIndividual, err = decimal.NewFromString(s.MinIndividual); err != nil {
			return l, err
		}
	}
	for _, p := range s.Periodic {
		d, err := decimal.NewFromString(p.Max)
		if err != nil {
			return l, err
		}
		l.Periodic = append(l.Periodic, Periodic{Max: d, Type: p.Type, Alignment: p.Alignment})
	}
	return l, nil
}

// Minor is d in the currency's minor units (d has at most that many decimals).
func (l Limits) Minor(d decimal.Decimal) int64 { return d.Shift(l.Currency.MinorUnits).IntPart() }

// Major is n minor units as an amount.
func (l Limits) Major(n int64) decimal.Decimal { return decimal.New(n, -l.Currency.MinorUnits) }

// Period is the period of periodic limit i containing t.
func (l Limits) Period(i int, t time.Time) Period {
	p := l.Periodic[i]
	return PeriodOf(p.Type, p.Alignment, l.From, t, l.Location)
}

// Key names the counter of periodic limit i in the period containing t.
func (l Limits) Key(i int, t time.Time) string {
	return fmt.Sprintf("p%d_%s", i, l.Period(i, t).Start.UTC().Format("20060102T150405Z"))
}

// Limit names, as Violation.Limit reports them.
const (
	LimitCurrency      = "currency"
	LimitValidity      = "validity"
	LimitMaxIndividual = "maximumIndividualAmount"
	LimitMinIndividual = "minimumIndividualAmount"
	LimitOccurrences   = "maximumOccurrences"
	LimitPeriodic      = "periodicLimits"
)

// Violation is the first limit a payment would break, with what is left of it.
type Violation struct {
	Limit string
	// Index is the periodic limit's index (Limit == LimitPeriodic).
	Index int
	// Remaining is what the limit still allows (minor units); ResetsAt when it renews
	// (periodic limits; zero otherwise).
	Remaining int64
	ResetsAt  time.Time
}

// Used reports what is already spent or reserved: the minor units in periodic limit i's
// period containing the payment, and the payments made so far.
type Used struct {
	Period      func(i int, p Period) int64
	Occurrences int
}

// Check checks a payment of amount in currency at t against every limit; nil means it
// passes them all.
func (l Limits) Check(amount decimal.Decimal, currency string, t time.Time, used Used) *Violation {
	minor := l.Minor(amount)
	switch {
	case currency != l.Currency.Code || !amount.Equal(amount.Truncate(l.Currency.MinorUnits)):
		return &Violation{Limit: LimitCurrency}
	case t.Before(l.From) || (!l.To.IsZero() && !t.Before(l.To)):
		return &Violation{Limit: LimitValidity}
	case minor > l.Minor(l.MaxIndividual):
		return &Violation{Limit: LimitMaxIndividual, Remaining: l.Minor(l.MaxIndividual)}
	case l.MinIndividual.IsPositive() && minor < l.Minor(l.MinIndividual):
		return &Violation{Limit: LimitMinIndividual}
	case l.MaxOccurrences > 0 && used.Occurrences >= l.MaxOccurrences:
		return &Violation{Limit: LimitOccurrences}
	}
	for i, p := range l.Periodic {
		per := l.Period(i, t)
		left := l.Minor(p.Max) - used.Period(i, per)
		if minor > left {
			return &Violation{Limit: LimitPeriodic, Index: i, Remaining: max(left, 0), ResetsAt: per.End}
		}
	}
	return nil
}
