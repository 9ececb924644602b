// Package accounts is the Accounts function, owner of /v1/accounts and /v1/accounts/*:
//
//	GET /v1/accounts                         filters consentId, bankId, currency; cursor list
//	GET /v1/accounts/{accountId}             balance, IBAN, currency, bank name, consent status, last sync
//	GET /v1/accounts/{accountId}/balances    the bank's balance types
//	GET /v1/accounts/{accountId}/transactions[/{transactionId}|/changes]
//	GET /v1/accounts/{accountId}/standing-orders[/{standingOrderId}]
//
// Data is served from Tok's store (the callback and the sync worker write it; the
// transaction model and queries are shared/transactions'), never from the bank. Every
// route under /v1/accounts/{accountId} starts with one consent check
// (connections.Repo.ReadableAccount): an account whose consent was revoked or expired
// answers 403 CONSENT_REVOKED / CONSENT_EXPIRED.
package accounts

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/clock"
	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/lists"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/store"
)

func init() {
	platform.HTTP("Accounts", platform.Using(platform.Firestore, build))
}

// Deps is what every route of the function gets.
type Deps struct {
	Env  *platform.Env // nil in tests that build the handler directly
	Repo *connections.Repo
	Now  func() time.Time
}

// Scope is the caller's tenant scope.
func (d *Deps) Scope(ctx context.Context) (store.Scope, error) {
	return store.ForCaller(ctx, d.Repo.Client)
}

// Clock returns the current time (UTC).
func (d *Deps) Clock() time.Time { return clock.Now(d.Now) }

func build(_ context.Context, env *platform.Env, fs *firestore.Client, _ struct{}) (http.Handler, error) {
	return NewHandler(&Deps{Env: env, Repo: connections.NewRepo(fs)}), nil
}

// NewHandler returns the function's routes.
func NewHandler(d *Deps) http.Handler {
	rt := httpapi.NewRouter()
	rt.Handle("GET /v1/accounts", d.list)
	rt.Handle("GET /v1/accounts/{accountId}", d.get)
	rt.Handle("GET /v1/accounts/{accountId}/balances", d.balances)
	rt.Handle("GET /v1/accounts/{accountId}/transactions", d.listTransactions)
	rt.Handle("GET /v1/accounts/{accountId}/transactions/changes", d.transactionChanges)
	rt.Handle("GET /v1/accounts/{accountId}/transactions/{transactionId}", d.getTransaction)
	rt.Handle("GET /v1/accounts/{accountId}/standing-orders", d.listStandingOrders)
	rt.Handle("GET /v1/accounts/{accountId}/standing-orders/{standingOrderId}", d.getStandingOrder)
	return rt
}

// BalanceJSON is one balance.
type BalanceJSON struct {
	Type          string  `json:"type"`
	Amount        string  `json:"amount"`
	Currency      string  `json:"currency"`
	ReferenceDate *string `json:"referenceDate"`
}

// AccountJSON is the API's account object.
type AccountJSON struct {
	ID            string       `json:"id"`
	BankID        string       `json:"bankId"`
	BankName      string       `json:"bankName"`
	ConnectionID  string       `json:"connectionId"`
	ConsentID     string       `json:"consentId"`
	ConsentStatus string       `json:"consentStatus"`
	IBAN          *string      `json:"iban"`
	Currency      string       `json:"currency"`
	Name          string       `json:"name"`
	Product       *string      `json:"product"`
	OwnerName     *string      `json:"ownerName"`
	Balance       *BalanceJSON `json:"balance"`
	LastSyncAt    *time.Time   `json:"lastSyncAt"`
	CreatedAt     time.Time    `json:"createdAt"`
	UpdatedAt     time.Time    `json:"updatedAt"`
}

func balanceJSON(b connections.Balance) BalanceJSON {
	return BalanceJSON{Type: b.Type, Amount: b.Amount, Currency: b.Currency, ReferenceDate: httpapi.Optional(b.ReferenceDate)}
}

// preferred is the order in which a balance type is shown as the account's balance.
var preferred = []string{"interimAvailable", "expected", "closingAvailable", "interimBooked", "closingBooked", "openingBooked"}

// PrimaryBalance picks the balance shown on the account.
func PrimaryBalance(bs []connections.Balance) *connections.Balance {
	if len(bs) == 0 {
		return nil
	}
	best := 0
	rank := func(t string) int {
		if i := slices.Index(preferred, t); i >= 0 {
			return i
		}
		return len(preferred)
	}
	for i := range bs {
		if rank(bs[i].Type) < rank(bs[best].Type) {
			best = i
		}
	}
	return &bs[best]
}

func toJSON(a connections.Account, status string) AccountJSON {
	out := AccountJSON{ID: a.ID, BankID: a.BankID, BankName: a.BankName, ConnectionID: a.ConnectionID, ConsentID: a.ConsentID,
		ConsentStatus: status, IBAN: httpapi.Optional(a.IBAN), Currency: a.Currency, Name: a.Name, Product: httpapi.Optional(a.Product),
		OwnerName: httpapi.Optional(a.OwnerName), LastSyncAt: a.LastSyncAt, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
	if b := PrimaryBalance(a.Balances); b != nil {
		bj := balanceJSON(*b)
		out.Balance = &bj
	}
	return out
}

func (d *Deps) list(w http.ResponseWriter, r *http.Request) error {
	scope, err := d.Scope(r.Context())
	if err != nil {
		return err
	}
	qv := r.URL.Query()
	q := scope.Collection(connections.CollAccounts).Query
	if v := qv.Get("consentId"); v != "" {
		if !ids.Valid(ids.Consent, v) {
			return httpapi.InvalidField("consentId", "is not a consent ID")
		}
		q = q.Where("consentId", "==", v)
	}
	if v := qv.Get("bankId"); v != "" {
		q = q.Where("bankId", "==", v)
	}
	if v := qv.Get("currency"); v != "" {
		if len(v) != 3 {
			return httpapi.InvalidField("currency", "must be an ISO 4217 code such as EUR")
		}
		q = q.Where("currency", "==", v)
	}
	q = q.OrderBy(firestore.DocumentID, firestore.Asc)
	fetchAccounts := lists.Query[lists.ByID](q, func(a connections.Account) connections.Account { return a })
	return lists.Serve(w, r, lists.Spec[lists.ByID, AccountJSON]{
		Valid: func(p lists.ByID) bool { return p.Is(ids.Account) },
		Fetch: func(ctx context.Context, after *lists.ByID, n int) ([]AccountJSON, error) {
			accts, err := fetchAccounts(ctx, after, n)
			if err != nil {
				return nil, fmt.Errorf("list accounts: %w", err)
			}
			cxnIDs := make([]string, 0, len(accts))
			for _, a := range accts {
				cxnIDs = append(cxnIDs, a.ConnectionID)
			}
			cxns, err := d.Repo.ConnectionsByID(ctx, scope, cxnIDs)
			if err != nil {
				return nil, err
			}
			now := d.Clock()
			items := make([]AccountJSON, 0, len(accts))
			for _, a := range accts {
				st := connections.ConsentRevoked
				if c, ok := cxns[a.ConnectionID]; ok {
					st = connections.ConsentStatusOf(c, now)
				}
				items = append(items, toJSON(a, st))
			}
			return items, nil
		},
		Position: func(a AccountJSON) lists.ByID { return lists.ByID{ID: a.ID} },
	})
}

func (d *Deps) get(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	scope, err := d.Scope(ctx)
	if err != nil {
		return err
	}
	now := d.Clock()
	a, c, err := d.Repo.ReadableAccount(ctx, scope, r.PathValue("accountId"), now)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, toJSON(a, connections.ConsentStatusOf(c, now)))
	return nil
}

// BalancesJSON is the answer of GET /v1/accounts/{accountId}/balances.
type BalancesJSON struct {
	AccountID string        `json:"accountId"`
	Balances  []BalanceJSON `json:"balances"`
	AsOf      *time.Time    `json:"asOf"`
}

func (d *Deps) balances(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	scope, err := d.Scope(ctx)
	if err != nil {
		return err
	}
	a, _, err := d.Repo.ReadableAccount(ctx, scope, r.PathValue("accountId"), d.Clock())
	if err != nil {
		return err
	}
	out := BalancesJSON{AccountID: a.ID, Balances: []BalanceJSON{}, AsOf: a.BalancesAt}
	for _, b := range a.Balances {
		out.Balances = append(out.Balances, balanceJSON(b))
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}
