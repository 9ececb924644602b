package tokenvault_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/testing/testenv"
	"tokapi.io/tok/shared/tokenvault"
)

// holder is a minimal record holding sealed tokens, as a payment mandate might.
type holder struct {
	tokenvault.Sealed
	Revoked bool `firestore:"revoked"`
}

var errRevoked = errors.New("revoked")

func read(snap *firestore.DocumentSnapshot) (tokenvault.Sealed, error) {
	var h holder
	if err := snap.DataTo(&h); err != nil {
		return tokenvault.Sealed{}, err
	}
	if h.Revoked {
		return tokenvault.Sealed{}, errRevoked
	}
	return h.Sealed, nil
}

type fixture struct {
	v   *tokenvault.Vault
	rec tokenvault.Record
}

// setup stores tokens expiring in expiresIn on a fresh record.
func setup(t *testing.T, expiresIn time.Duration) fixture {
	t.Helper()
	project := testenv.Project(t)
	fs := testenv.Firestore(t, project)
	v := &tokenvault.Vault{Client: fs, Sealer: testenv.Sealer(t, project)}
	id := ids.New("mdt")
	rec := tokenvault.Record{Ref: fs.Collection("holders").Doc(id), AAD: []byte("org_1/" + id), Read: read}
	tok := bank.Tokens{AccessToken: "access-0", RefreshToken: "refresh-0", ExpiresAt: time.Now().Add(expiresIn)}
	blob, err := v.Seal(t.Context(), rec.AAD, tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rec.Ref.Set(t.Context(), holder{Sealed: tokenvault.Sealed{Tokens: blob, TokenExpiresAt: tok.ExpiresAt}}); err != nil {
		t.Fatal(err)
	}
	return fixture{v: v, rec: rec}
}

func (f fixture) current(t *testing.T) tokenvault.Sealed {
	t.Helper()
	snap, err := f.rec.Ref.Get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s, err := read(snap)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpenBindsTheRecord(t *testing.T) {
	f := setup(t, time.Hour)
	cur := f.current(t)
	tok, err := f.v.Open(t.Context(), cur.Tokens, f.rec.AAD)
	if err != nil || tok.AccessToken != "access-0" || tok.RefreshToken != "refresh-0" {
		t.Fatalf("open: %+v %v", tok, err)
	}
	if _, err := f.v.Open(t.Context(), cur.Tokens, []byte("org_1/mdt_other")); !errors.Is(err, tokenvault.ErrUnreadable) {
		t.Errorf("tokens moved to another record: %v", err)
	}
	if _, err := f.v.Open(t.Context(), nil, f.rec.AAD); !errors.Is(err, tokenvault.ErrNoTokens) {
		t.Errorf("no tokens: %v", err)
	}
}

// refresher is a bank whose refresh tokens rotate and may be spent only once.
type refresher struct {
	calls atomic.Int64
	mu    sync.Mutex
	spent map[string]bool
	fail  error
}

func (r *refresher) refresh(_ context.Context, refreshToken string) (bank.Tokens, error) {
	r.calls.Add(1)
	if r.fail != nil {
		return bank.Tokens{}, r.fail
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.spent[refreshToken] {
		return bank.Tokens{}, errors.New("refresh token reused")
	}
	r.spent[refreshToken] = true
	time.Sleep(50 * time.Millisecond) // a bank round trip, so concurrent callers overlap
	return bank.Tokens{AccessToken: "access-1", RefreshToken: "refresh-1", ExpiresAt: time.Now().Add(time.Hour)}, nil
}

func TestFreshTokensAreNotRefreshed(t *testing.T) {
	f := setup(t, time.Hour)
	r := &refresher{spent: map[string]bool{}}
	tok, err := f.v.Fresh(t.Context(), f.rec, f.current(t), r.refresh)
	if err != nil || tok.AccessToken != "access-0" || r.calls.Load() != 0 {
		t.Fatalf("fresh tokens: %+v %v, %d refreshes", tok, err, r.calls.Load())
	}
}

// FreshIn refreshes the tokens of a record type that embeds Sealed, reading the document
// back as that type: the rotated pair is stored in the record's own fields.
func TestFreshInRefreshesARecordThatEmbedsSealed(t *testing.T) {
	f := setup(t, time.Minute)
	r := &refresher{spent: map[string]bool{}}
	snap, err := f.rec.Ref.Get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var h holder
	if err := snap.DataTo(&h); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenvault.FreshIn(t.Context(), f.v, f.rec.Ref, f.rec.AAD, h, r.refresh)
	if err != nil || tok.AccessToken != "access-1" || r.calls.Load() != 1 {
		t.Fatalf("FreshIn: %+v %v, %d refreshes", tok, err, r.calls.Load())
	}
	after := f.current(t)
	if string(after.Tokens) == string(h.Tokens) || !after.TokenExpiresAt.After(h.TokenExpiresAt) || after.RefreshLease != nil {
		t.Errorf("record after FreshIn: %+v", after)
	}
}

// Concurrent callers of expiring tokens refresh once: one spends the refresh token, the
// others get its rotated pair, which is stored sealed with the lease released.
func TestConcurrentRefreshHappensOnce(t *testing.T) {
	f := setup(t, time.Minute) // inside the default RefreshBefore of 2 minutes
	r := &refresher{spent: map[string]bool{}}
	cur := f.current(t)
	var wg sync.WaitGroup
	got := make(chan string, 6)
	for range 6 {
		wg.Go(func() {
			tok, err := f.v.Fresh(t.Context(), f.rec, cur, r.refresh)
			if err != nil {
				t.Errorf("fresh: %v", err)
			}
			got <- tok.AccessToken
		})
	}
	wg.Wait()
	close(got)
	for a := range got {
		if a != "access-1" {
			t.Errorf("a caller got %q", a)
		}
	}
	if n := r.calls.Load(); n != 1 {
		t.Errorf("%d refreshes at the bank, want 1", n)
	}
	after := f.current(t)
	if after.RefreshLease != nil || string(after.Tokens) == string(cur.Tokens) {
		t.Errorf("lease %v left or tokens not stored", after.RefreshLease)
	}
	stored, err := f.v.Open(t.Context(), after.Tokens, f.rec.AAD)
	if err != nil || stored.RefreshToken != "refresh-1" {
		t.Errorf("stored tokens %+v %v", stored, err)
	}
}

func TestRefreshEndsWhenTheRecordCannotBeUsed(t *testing.T) {
	f := setup(t, time.Minute)
	cur := f.current(t)
	if _, err := f.rec.Ref.Update(t.Context(), []firestore.Update{{Path: "revoked", Value: true}}); err != nil {
		t.Fatal(err)
	}
	r := &refresher{spent: map[string]bool{}}
	if _, err := f.v.Fresh(t.Context(), f.rec, cur, r.refresh); !errors.Is(err, errRevoked) || r.calls.Load() != 0 {
		t.Errorf("refresh of a revoked record: %v, %d bank calls", err, r.calls.Load())
	}
}

func TestFailedRefreshReleasesTheLease(t *testing.T) {
	f := setup(t, time.Minute)
	bankDown := errors.New("bank unavailable")
	r := &refresher{spent: map[string]bool{}, fail: bankDown}
	if _, err := f.v.Fresh(t.Context(), f.rec, f.current(t), r.refresh); !errors.Is(err, bankDown) {
		t.Fatalf("failed refresh: %v", err)
	}
	if l := f.current(t).RefreshLease; l != nil {
		t.Fatalf("lease left after a failed refresh: %+v", l)
	}
	r.fail = nil // the next caller claims the refresh at once instead of waiting for a lease
	if tok, err := f.v.Fresh(t.Context(), f.rec, f.current(t), r.refresh); err != nil || tok.AccessToken != "access-1" {
		t.Errorf("refresh after a failure: %+v %v", tok, err)
	}
}
