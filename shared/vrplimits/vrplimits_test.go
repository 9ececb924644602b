package vrplimits

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/money"
)

func belgrade(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(DefaultTimeZone)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestPeriodOf(t *testing.T) {
	loc := belgrade(t)
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	anchor := at("2024-01-31 17:30") // time of day disregarded for CONSENT periods
	for _, c := range []struct {
		name, typ, align string
		anchor           time.Time
		t                string
		start, end       string
	}{
		{"calendar day", Day, AlignCalendar, anchor, "2026-03-10 23:59", "2026-03-10 00:00", "2026-03-11 00:00"},
		{"consent day is the calendar day", Day, AlignConsent, anchor, "2026-03-10 00:00", "2026-03-10 00:00", "2026-03-11 00:00"},
		{"calendar week starts Monday", Week, AlignCalendar, anchor, "2026-12-06 12:00", "2026-11-30 00:00", "2026-12-07 00:00"},
		{"calendar week on a Monday", Week, AlignCalendar, anchor, "2026-11-30 00:00", "2026-11-30 00:00", "2026-12-07 00:00"},
		{"consent week from the start date", Week, AlignConsent, anchor, "2024-02-07 08:00", "2024-02-07 00:00", "2024-02-14 00:00"},
		{"consent week, day before the next", Week, AlignConsent, anchor, "2024-02-06 23:59", "2024-01-31 00:00", "2024-02-07 00:00"},
		{"calendar month", Month, AlignCalendar, anchor, "2026-02-28 23:00", "2026-02-01 00:00", "2026-03-01 00:00"},
		{"consent month from the 31st, leap February", Month, AlignConsent, anchor, "2024-02-29 10:00", "2024-02-29 00:00", "2024-03-31 00:00"},
		{"consent month from the 31st, before the clamped day", Month, AlignConsent, anchor, "2024-02-28 10:00", "2024-01-31 00:00", "2024-02-29 00:00"},
		{"consent month from the 31st, April", Month, AlignConsent, anchor, "2024-04-30 00:00", "2024-04-30 00:00", "2024-05-31 00:00"},
		{"consent month from the 31st, back to the 31st", Month, AlignConsent, anchor, "2024-03-31 00:00", "2024-03-31 00:00", "2024-04-30 00:00"},
		{"calendar year", Year, AlignCalendar, anchor, "2026-12-31 23:59", "2026-01-01 00:00", "2027-01-01 00:00"},
		{"consent year from 29 February, non-leap year", Year, AlignConsent, at("2024-02-29 09:00"), "2025-03-01 00:00", "2025-02-28 00:00", "2026-02-28 00:00"},
		{"consent year from 29 February, before it", Year, AlignConsent, at("2024-02-29 09:00"), "2025-02-27 23:00", "2024-02-29 00:00", "2025-02-28 00:00"},
		{"consent year from 29 February, leap again", Year, AlignConsent, at("2024-02-29 09:00"), "2028-02-29 00:00", "2028-02-29 00:00", "2029-02-28 00:00"},
	} {
		got := PeriodOf(c.typ, c.align, c.anchor, at(c.t), loc)
		if !got.Start.Equal(at(c.start)) || !got.End.Equal(at(c.end)) {
			t.Errorf("%s: %s–%s, want %s–%s", c.name, got.Start.In(loc), got.End.In(loc), c.start, c.end)
		}
		if !got.Contains(at(c.t)) {
			t.Errorf("%s: the period does not contain its instant", c.name)
		}
	}
}

// Across the DST changes of Belgrade a day is 23 or 25 hours long and periods still start
// at local midnight.
func TestPeriodOfAcrossDST(t *testing.T) {
	loc := belgrade(t)
	spring := PeriodOf(Day, AlignCalendar, time.Time{}, time.Date(2026, 3, 29, 12, 0, 0, 0, loc), loc)
	if d := spring.End.Sub(spring.Start); d != 23*time.Hour {
		t.Errorf("29 March 2026 lasts %s, want 23h", d)
	}
	autumn := PeriodOf(Day, AlignCalendar, time.Time{}, time.Date(2026, 10, 25, 12, 0, 0, 0, loc), loc)
	if d := autumn.End.Sub(autumn.Start); d != 25*time.Hour {
		t.Errorf("25 October 2026 lasts %s, want 25h", d)
	}
	week := PeriodOf(Week, AlignConsent, time.Date(2026, 3, 25, 15, 0, 0, 0, loc), time.Date(2026, 4, 1, 0, 30, 0, 0, loc), loc)
	if !week.Start.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, loc)) || week.End.Sub(week.Start) != 7*24*time.Hour {
		t.Errorf("consent week after the spring change: %s–%s", week.Start, week.End)
	}
	// 00:30 UTC on 1 April is 02:30 in Belgrade: the period is Belgrade's day, not UTC's.
	d := PeriodOf(Day, AlignCalendar, time.Time{}, time.Date(2026, 3, 31, 23, 30, 0, 0, time.UTC), loc)
	if !d.Start.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, loc)) {
		t.Errorf("23:30 UTC on 31 March is in Belgrade's day from %s", d.Start.In(loc))
	}
}

// Periods tile time: consecutive periods meet, and every instant lies in its own period.
func TestPeriodsTile(t *testing.T) {
	loc := belgrade(t)
	r := rand.New(rand.NewPCG(1, 2))
	anchor := time.Date(2024, 1, 31, 0, 0, 0, 0, loc)
	for _, typ := range PeriodTypes {
		for _, align := range Alignments {
			p := PeriodOf(typ, align, anchor, anchor, loc)
			for range 400 {
				next := PeriodOf(typ, align, anchor, p.End, loc)
				if !next.Start.Equal(p.End) || !next.End.After(next.Start) {
					t.Fatalf("%s/%s: %s–%s is followed by %s–%s", typ, align, p.Start, p.End, next.Start, next.End)
				}
				mid := p.Start.Add(time.Duration(r.Int64N(int64(p.End.Sub(p.Start)))))
				if got := PeriodOf(typ, align, anchor, mid, loc); !got.Start.Equal(p.Start) || !got.End.Equal(p.End) {
					t.Fatalf("%s/%s: %s is in %s–%s, not %s–%s", typ, align, mid, got.Start, got.End, p.Start, p.End)
				}
				p = next
			}
		}
	}
}

func eur(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func limits(t *testing.T) Limits {
	cur, _ := money.LookupCurrency("EUR")
	from := time.Date(2026, 12, 1, 9, 0, 0, 0, belgrade(t))
	return Limits{Currency: cur, MaxIndividual: eur("60.00"), MinIndividual: eur("1.00"), MaxOccurrences: 20,
		Periodic: []Periodic{{Max: eur("100.00"), Type: Day, Alignment: AlignCalendar}, {Max: eur("250.00"), Type: Week, Alignment: AlignConsent}},
		From:     from, To: from.AddDate(0, 2, 0), Location: belgrade(t)}
}

func TestCheck(t *testing.T) {
	l := limits(t)
	now := l.From.Add(time.Hour)
	none := Used{Period: func(int, Period) int64 { return 0 }}
	spent := func(day int64) Used { return Used{Period: func(i int, _ Period) int64 { return []int64{day, 0}[i] }} }
	for _, c := range []struct {
		name   string
		amount string
		cur    string
		at     time.Time
		used   Used
		limit  string
		left   int64
	}{
		{"within every limit", "60.00", "EUR", now, none, "", 0},
		{"one cent over the maximum", "60.01", "EUR", now, none, LimitMaxIndividual, 6000},
		{"under the minimum", "0.99", "EUR", now, none, LimitMinIndividual, 0},
		{"other currency", "10.00", "RSD", now, none, LimitCurrency, 0},
		{"sub-cent amount", "10.001", "EUR", now, none, LimitCurrency, 0},
		{"before validity", "10.00", "EUR", l.From.Add(-time.Second), none, LimitValidity, 0},
		{"at the end of validity", "10.00", "EUR", l.To, none, LimitValidity, 0},
		{"exactly the day's rest", "10.00", "EUR", now, spent(9000), "", 0},
		{"one cent over the day's rest", "10.01", "EUR", now, spent(9000), LimitPeriodic, 1000},
		{"occurrences used up", "1.00", "EUR", now, Used{Period: none.Period, Occurrences: 20}, LimitOccurrences, 0},
	} {
		v := l.Check(eur(c.amount), c.cur, c.at, c.used)
		switch {
		case c.limit == "" && v != nil:
			t.Errorf("%s: refused by %+v", c.name, v)
		case c.limit != "" && (v == nil || v.Limit != c.limit || v.Remaining != c.left):
			t.Errorf("%s: %+v, want %s with %d left", c.name, v, c.limit, c.left)
		}
	}
	v := l.Check(eur("10.01"), "EUR", now, spent(9000))
	if want := time.Date(2026, 12, 2, 0, 0, 0, 0, l.Location); !v.ResetsAt.Equal(want) {
		t.Errorf("the daily limit resets at %s, want %s", v.ResetsAt, want)
	}
}

// FuzzNoSequenceOverspends replays random sequences of payments at random times against
// counters kept as Tok keeps them (Key per period) and checks, by summing the accepted
// payments per period from scratch, that no period's total and no single payment ever
// passes its limit, and no more payments than allowed are accepted.
func FuzzNoSequenceOverspends(f *testing.F) {
	f.Add(uint64(1), uint64(2), uint16(200))
	f.Add(uint64(7), uint64(99), uint16(1000))
	f.Fuzz(func(t *testing.T, s1, s2 uint64, n uint16) {
		l := limits(t)
		l.MaxOccurrences = int(s1%50) + 1
		r := rand.New(rand.NewPCG(s1, s2))
		counters := map[string]int64{}
		type paid struct {
			at    time.Time
			minor int64
		}
		var accepted []paid
		at := l.From
		for range int(n % 2000) {
			at = at.Add(time.Duration(r.Int64N(int64(10 * time.Hour))))
			amount := decimal.New(r.Int64N(7000)+1, -2)
			used := Used{Period: func(i int, p Period) int64 { return counters[l.Key(i, p.Start)] }, Occurrences: len(accepted)}
			if l.Check(amount, "EUR", at, used) != nil {
				continue
			}
			for i := range l.Periodic {
				counters[l.Key(i, at)] += l.Minor(amount)
			}
			accepted = append(accepted, paid{at, l.Minor(amount)})
		}
		if len(accepted) > l.MaxOccurrences {
			t.Fatalf("%d payments accepted, at most %d allowed", len(accepted), l.MaxOccurrences)
		}
		for _, p := range accepted {
			if p.minor > l.Minor(l.MaxIndividual) || !p.at.Before(l.To) || p.at.Before(l.From) {
				t.Fatalf("accepted %d at %s", p.minor, p.at)
			}
			for i, lim := range l.Periodic {
				per := l.Period(i, p.at)
				var sum int64
				for _, q := range accepted {
					if per.Contains(q.at) {
						sum += q.minor
					}
				}
				if sum > l.Minor(lim.Max) {
					t.Fatalf("periodic limit %d: %d spent in %s–%s, limit %d", i, sum, per.Start, per.End, l.Minor(lim.Max))
				}
			}
		}
	})
}

// TestStoredLimits: stored parameters read into Limits (no minimum and no end stay zero);
// a stored value that does not parse is an error, not a zero limit.
func TestStoredLimits(t *testing.T) {
	from := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	st := Stored{Currency: "EUR", MaxIndividual: "60.00", MaxOccurrences: 12, From: from, TimeZone: DefaultTimeZone,
		Periodic: []StoredPeriodic{{Max: "100.00", Type: Month, Alignment: AlignCalendar}, {Max: "25.5", Type: Day, Alignment: AlignConsent}}}
	l, err := st.Limits()
	if err != nil {
		t.Fatal(err)
	}
	if l.Currency.Code != "EUR" || !l.MaxIndividual.Equal(decimal.RequireFromString("60")) || !l.MinIndividual.IsZero() ||
		l.MaxOccurrences != 12 || !l.From.Equal(from) || !l.To.IsZero() || l.Location.String() != DefaultTimeZone || len(l.Periodic) != 2 ||
		!l.Periodic[1].Max.Equal(decimal.RequireFromString("25.50")) || l.Periodic[1].Type != Day || l.Periodic[1].Alignment != AlignConsent {
		t.Fatalf("limits %+v", l)
	}
	to := from.AddDate(1, 0, 0)
	withMin := st
	withMin.MinIndividual, withMin.To = "1.00", to
	if l, err := withMin.Limits(); err != nil || !l.MinIndividual.Equal(decimal.NewFromInt(1)) || !l.To.Equal(to) {
		t.Fatalf("with a minimum and an end: %+v, %v", l, err)
	}
	for name, broken := range map[string]func(*Stored){
		"currency":       func(s *Stored) { s.Currency = "XXX" },
		"time zone":      func(s *Stored) { s.TimeZone = "Europe/Nowhere" },
		"maximum":        func(s *Stored) { s.MaxIndividual = "sixty" },
		"minimum":        func(s *Stored) { s.MinIndividual = "1,00" },
		"periodic limit": func(s *Stored) { s.Periodic = []StoredPeriodic{{Max: "", Type: Day, Alignment: AlignCalendar}} },
	} {
		b := st
		broken(&b)
		if _, err := b.Limits(); err == nil {
			t.Errorf("a bad %s read without an error", name)
		}
	}
}
