package payments

import (
	"slices"
	"testing"
	"time"

	"tokapi.io/tok/shared/bank"
)

func TestFromBank(t *testing.T) {
	no, yes := false, true
	for _, c := range []struct {
		state  bank.PaymentState
		future bool
		want   Change
	}{
		{bank.PaymentState{Status: "ACSC"}, false, Change{Status: StatusCompleted, BankStatus: "ACSC"}},
		{bank.PaymentState{Status: "ACCC"}, true, Change{Status: StatusCompleted, BankStatus: "ACCC"}},
		{bank.PaymentState{Status: "RJCT", FundsAvailable: &no}, false, Change{Status: StatusRejected, BankStatus: "RJCT", Reason: ReasonInsufficientFunds}},
		{bank.PaymentState{Status: "RJCT", FundsAvailable: &yes}, false, Change{Status: StatusRejected, BankStatus: "RJCT", Reason: ReasonBankRejected}},
		{bank.PaymentState{Status: "RJCT"}, false, Change{Status: StatusRejected, BankStatus: "RJCT", Reason: ReasonBankRejected}},
		{bank.PaymentState{Status: "CANC"}, false, Change{Status: StatusCancelled, BankStatus: "CANC", Reason: ReasonCancelledAtBank}},
		{bank.PaymentState{Status: "ACSP"}, true, Change{Status: StatusPending, BankStatus: "ACSP"}},
		{bank.PaymentState{Status: "ACCP"}, true, Change{Status: StatusScheduled, BankStatus: "ACCP"}},
		{bank.PaymentState{Status: "ACCP"}, false, Change{Status: StatusPending, BankStatus: "ACCP"}},
		{bank.PaymentState{Status: "XYZ"}, false, Change{Status: StatusPending, BankStatus: "XYZ"}},
	} {
		if got := FromBank(c.state, c.future); got != c.want {
			t.Errorf("FromBank(%+v, %v) = %+v, want %+v", c.state, c.future, got, c.want)
		}
	}
}

func TestAdvanceNeverRegresses(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	p := Payment{Status: StatusAwaiting}
	steps := []struct {
		c       Change
		events  []string
		changed bool
		status  string
	}{
		{Change{Status: StatusPending, BankStatus: "ACTC"}, []string{EventAuthorized}, true, StatusPending},
		{Change{Status: StatusPending, BankStatus: "ACTC"}, nil, false, StatusPending},   // the same answer again
		{Change{Status: StatusPending, BankStatus: "ACSP"}, nil, true, StatusPending},    // a new bank code: history only
		{Change{Status: StatusScheduled, BankStatus: "ACCP"}, nil, false, StatusPending}, // backwards
		{Change{Status: StatusAwaiting, BankStatus: "RCVD"}, nil, false, StatusPending},  // backwards
		{Change{Status: StatusCompleted, BankStatus: "ACSC"}, []string{EventCompleted}, true, StatusCompleted},
		{Change{Status: StatusRejected, BankStatus: "RJCT"}, nil, false, StatusCompleted},  // final stays
		{Change{Status: StatusCompleted, BankStatus: "ACCC"}, nil, false, StatusCompleted}, // final stays, even its code
	}
	for i, s := range steps {
		evs, changed := p.Advance(s.c, now.Add(time.Duration(i)*time.Second))
		if !slices.Equal(evs, s.events) || changed != s.changed || p.Status != s.status {
			t.Fatalf("step %d %+v: events %v changed %v status %s", i, s.c, evs, changed, p.Status)
		}
	}
	if len(p.StatusHistory) != 3 || p.BankStatus != "ACSC" || p.AuthorizedAt == nil || p.PollActive {
		t.Fatalf("after the steps: %+v", p)
	}
	// Straight from awaiting to completed: authorised and completed, in that order.
	q := Payment{Status: StatusAwaiting}
	if evs, _ := q.Advance(Change{Status: StatusCompleted}, now); !slices.Equal(evs, []string{EventAuthorized, EventCompleted}) {
		t.Errorf("awaiting → completed published %v", evs)
	}
	// Denied at SCA: rejected only.
	r := Payment{Status: StatusAwaiting}
	if evs, _ := r.Advance(Change{Status: StatusRejected, Reason: ReasonDeniedByUser}, now); !slices.Equal(evs, []string{EventRejected}) || r.AuthorizedAt != nil {
		t.Errorf("awaiting → rejected published %v (authorizedAt %v)", evs, r.AuthorizedAt)
	}
	// Scheduled, then executed on its date.
	f := Payment{Status: StatusScheduled}
	if evs, ch := f.Advance(Change{Status: StatusPending, BankStatus: "ACSP"}, now); evs != nil || !ch || f.Status != StatusPending {
		t.Errorf("scheduled → pending: %v %v %s", evs, ch, f.Status)
	}
}

// FuzzAdvance: whatever the bank answers in whatever order, the status rank never falls,
// a final status never changes, and each event type is published at most once.
func FuzzAdvance(f *testing.F) {
	f.Add([]byte{1, 2, 3, 0, 4})
	f.Add([]byte{6, 3, 2, 1})
	codes := []string{"RCVD", "PDNG", "ACTC", "ACCP", "ACSP", "ACSC", "ACCC", "RJCT", "CANC", "ACWC"}
	f.Fuzz(func(t *testing.T, seq []byte) {
		p := Payment{Status: StatusAwaiting}
		seen := map[string]int{}
		now := time.Unix(0, 0)
		for _, b := range seq {
			c := FromBank(bank.PaymentState{Status: codes[int(b)%len(codes)]}, b&0x80 != 0)
			before := p.Status
			evs, _ := p.Advance(c, now)
			if rank(p.Status) < rank(before) || (Final(before) && p.Status != before) {
				t.Fatalf("%s went to %s", before, p.Status)
			}
			for _, e := range evs {
				if seen[e]++; seen[e] > 1 {
					t.Fatalf("%s published twice (sequence %v)", e, seq)
				}
			}
		}
	})
}
