package transactions

import (
	"context"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
)

// AccountCheck answers nil when the tenant's account exists and its consent allows reads,
// NOT_FOUND when there is no such account in the tenant, and CONSENT_REVOKED or
// CONSENT_EXPIRED (403) when its consent does not allow reads any more.
type AccountCheck func(ctx context.Context, scope store.Scope, accountID string) error

// API serves the transaction and standing-order endpoints of an account.
type API struct {
	Firestore func(ctx context.Context) (*firestore.Client, error)
	// Check is the accounts package's consent check (DefaultCheck until it is wired).
	Check AccountCheck
}

// Register adds the endpoints to rt.
func (a *API) Register(rt *httpapi.Router) {
	rt.Handle("GET /v1/accounts/{accountId}/transactions", a.list)
	rt.Handle("GET /v1/accounts/{accountId}/transactions/changes", a.changes)
	rt.Handle("GET /v1/accounts/{accountId}/transactions/{transactionId}", a.get)
	rt.Handle("GET /v1/accounts/{accountId}/standing-orders", a.listStandingOrders)
	rt.Handle("GET /v1/accounts/{accountId}/standing-orders/{standingOrderId}", a.getStandingOrder)
}

// View is a transaction on the wire.
type View struct {
	ID             string    `json:"id"`
	AccountID      string    `json:"accountId"`
	ExternalID     string    `json:"externalId"`
	Status         string    `json:"status"`
	BookingDate    *string   `json:"bookingDate"`
	ValueDate      *string   `json:"valueDate"`
	Amount         string    `json:"amount"`
	Currency       string    `json:"currency"`
	Direction      string    `json:"direction"`
	CreditorName   *string   `json:"creditorName"`
	CreditorIBAN   *string   `json:"creditorIban"`
	DebtorName     *string   `json:"debtorName"`
	DebtorIBAN     *string   `json:"debtorIban"`
	RemittanceInfo *string   `json:"remittanceInfo"`
	EndToEndID     *string   `json:"endToEndId"`
	Source         string    `json:"source"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ToView renders a stored transaction.
func ToView(d *Doc) View {
	v := View{ID: d.ID, AccountID: d.AccountID, ExternalID: d.ExternalID, Status: d.Status,
		BookingDate: opt(d.BookingDate), ValueDate: opt(d.ValueDate), Amount: d.Amount, Currency: d.Currency,
		Direction: d.Direction, CreditorName: opt(d.CreditorName), CreditorIBAN: opt(d.CreditorIBAN),
		DebtorName: opt(d.DebtorName), DebtorIBAN: opt(d.DebtorIBAN), RemittanceInfo: opt(d.RemittanceInfo),
		EndToEndID: opt(d.EndToEndID), Source: Source, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()}
	if d.Status == StatusPending {
		v.BookingDate = nil
	}
	return v
}

// account resolves the request's tenant scope and checked account.
func (a *API) account(r *http.Request) (*firestore.DocumentRef, store.Scope, error) {
	t, err := tenant.From(r.Context())
	if err != nil {
		return nil, store.Scope{}, err
	}
	id := r.PathValue("accountId")
	if !ids.Valid(ids.Account, id) {
		return nil, store.Scope{}, httpapi.NotFound("Account " + id)
	}
	fs, err := a.Firestore(r.Context())
	if err != nil {
		return nil, store.Scope{}, err
	}
	scope := store.For(fs, t)
	return scope.Collection(AccountsCollection).Doc(id), scope, nil
}

func (a *API) check(ctx context.Context, scope store.Scope, accountID string) error {
	if a.Check == nil {
		return DefaultCheck(ctx, scope, accountID)
	}
	return a.Check(ctx, scope, accountID)
}

// listCursor resumes a list walk: the snapshot (rows created after it are left out, so a
// sync writing during the walk neither shifts nor adds rows), the last row's date and ID,
// and the filters it was made for.
type listCursor struct {
	AsOf   int64  `json:"s"`
	Date   string `json:"d"`
	ID     string `json:"i"`
	Filter string `json:"f"`
}

// statusesOf maps the status parameter to stored statuses.
func statusesOf(r *http.Request) ([]string, error) {
	switch s := r.URL.Query().Get("status"); s {
	case "", "all":
		return []string{StatusBooked, StatusPending}, nil
	case StatusBooked, StatusPending:
		return []string{s}, nil
	default:
		return nil, httpapi.InvalidField("status", "must be booked, pending or all")
	}
}

func dateParam(r *http.Request, name string) (string, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return "", nil
	}
	if _, err := time.Parse(time.DateOnly, v); err != nil {
		return "", httpapi.InvalidField(name, "must be a date (YYYY-MM-DD)")
	}
	return v, nil
}

func (a *API) list(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	acc, scope, err := a.account(r)
	if err != nil {
		return err
	}
	limit, err := httpapi.ParseLimit(r)
	if err != nil {
		return err
	}
	statuses, err := statusesOf(r)
	if err != nil {
		return err
	}
	from, err := dateParam(r, "dateFrom")
	if err != nil {
		return err
	}
	to, err := dateParam(r, "dateTo")
	if err != nil {
		return err
	}
	if from != "" && to != "" && to < from {
		return httpapi.InvalidField("dateTo", "must not be before dateFrom")
	}
	filter := strings.Join(statuses, ",") + "|" + from + "|" + to
	var cur listCursor
	resumed, err := httpapi.DecodeCursor(r, &cur)
	if err != nil {
		return err
	}
	if resumed && (cur.Filter != filter || !ids.Valid(ids.Transaction, cur.ID) || cur.Date == "" || cur.AsOf < 0) {
		return httpapi.InvalidField("cursor", "is not a cursor from a previous page of this list")
	}

	col := acc.Collection(TransactionsCollection)
	q := ListQuery(col, statuses, from, to)
	if resumed {
		q = q.StartAfter(cur.Date, cur.ID)
	}
	// The account check, the snapshot and the first batch run concurrently.
	var (
		first []*firestore.DocumentSnapshot
		asOf  = cur.AsOf
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.check(gctx, scope, acc.ID) })
	if !resumed {
		g.Go(func() error {
			st, err := readState(gctx, acc)
			asOf = st.SeqCommitted
			return err
		})
	}
	g.Go(func() error {
		var err error
		first, err = q.Limit(limit + 1).Documents(gctx).GetAll()
		return err
	})
	if err := g.Wait(); err != nil {
		return err
	}
	out := make([]*Doc, 0, limit+1)
	batch, want := first, limit+1
	for {
		var last *Doc
		for _, s := range batch {
			var d Doc
			if err := s.DataTo(&d); err != nil {
				return err
			}
			last = &d
			if d.CreatedSeq > asOf { // created after the walk began
				continue
			}
			if len(out) < limit+1 {
				out = append(out, &d)
			}
		}
		if len(out) >= limit+1 || len(batch) < want || last == nil {
			break
		}
		want = limit + 1 - len(out) + 16
		batch, err = q.StartAfter(last.Date, last.ID).Limit(want).Documents(ctx).GetAll()
		if err != nil {
			return err
		}
	}
	views := make([]View, len(out))
	for i, d := range out {
		views[i] = ToView(d)
	}
	l, err := httpapi.NewList(views, limit, func(v View) (string, error) {
		d := out[limit-1] // NewList asks only when there is a next page
		return httpapi.EncodeCursor(listCursor{AsOf: asOf, Date: d.Date, ID: v.ID, Filter: filter})
	})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, l)
	return nil
}

func readState(ctx context.Context, acc *firestore.DocumentRef) (State, error) {
	var st State
	snap, err := acc.Collection(SyncCollection).Doc(StateDoc).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	return st, snap.DataTo(&st)
}

func (a *API) get(w http.ResponseWriter, r *http.Request) error {
	return getOne(a, w, r, "transactionId", ids.Transaction, "Transaction", TransactionsCollection, ToView)
}

// getOne answers with the view of one document of the account's collection, named by the
// path value param, which must be an ID of kind; what says what the document is in a 404.
func getOne[D, V any](a *API, w http.ResponseWriter, r *http.Request, param, kind, what, collection string, view func(*D) V) error {
	acc, scope, err := a.account(r)
	if err != nil {
		return err
	}
	id := r.PathValue(param)
	if !ids.Valid(kind, id) {
		return httpapi.NotFound(what + " " + id)
	}
	if err := a.check(r.Context(), scope, acc.ID); err != nil {
		return err
	}
	snap, err := acc.Collection(collection).Doc(id).Get(r.Context())
	if status.Code(err) == codes.NotFound {
		return httpapi.NotFound(what + " " + id)
	}
	if err != nil {
		return err
	}
	var d D
	if err := snap.DataTo(&d); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, view(&d))
	return nil
}

// Change is one entry of the changes feed.
type Change struct {
	Type        string `json:"type"` // added, modified, removed
	Transaction View   `json:"transaction"`
}

type changesCursor struct {
	Seq int64 `json:"c"`
}

// ChangesPage is the changes feed's answer: nextCursor is always set, so a client stores
// it and asks again later.
type ChangesPage struct {
	Data       []Change `json:"data"`
	HasMore    bool     `json:"hasMore"`
	NextCursor string   `json:"nextCursor"`
}

// ChangeType classifies a change relative to the cursor it is read after.
func ChangeType(d *Doc, after int64) string {
	switch {
	case d.Status == StatusRemoved:
		return "removed"
	case d.CreatedSeq > after:
		return "added"
	default:
		return "modified"
	}
}

func (a *API) changes(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	acc, scope, err := a.account(r)
	if err != nil {
		return err
	}
	limit, err := httpapi.ParseLimit(r)
	if err != nil {
		return err
	}
	var cur changesCursor
	if _, err := httpapi.DecodeCursor(r, &cur); err != nil {
		return err
	}
	if cur.Seq < 0 {
		return httpapi.InvalidField("cursor", "is not a cursor from a previous page of this list")
	}
	var st State
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.check(gctx, scope, acc.ID) })
	g.Go(func() error { var err error; st, err = readState(gctx, acc); return err })
	if err := g.Wait(); err != nil {
		return err
	}
	if cur.Seq > st.SeqCommitted {
		return httpapi.InvalidField("cursor", "is not a cursor from a previous page of this list")
	}
	snaps, err := ChangesQuery(acc.Collection(TransactionsCollection), cur.Seq, st.SeqCommitted).Limit(limit + 1).Documents(ctx).GetAll()
	if err != nil {
		return err
	}
	page := ChangesPage{Data: []Change{}}
	next := cur.Seq
	for i, s := range snaps {
		if i == limit {
			page.HasMore = true
			break
		}
		var d Doc
		if err := s.DataTo(&d); err != nil {
			return err
		}
		page.Data = append(page.Data, Change{Type: ChangeType(&d, cur.Seq), Transaction: ToView(&d)})
		next = d.ChangeSeq
	}
	if !page.HasMore {
		next = st.SeqCommitted // nothing more up to the snapshot: resume after it
	}
	if page.NextCursor, err = httpapi.EncodeCursor(changesCursor{Seq: next}); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, page)
	return nil
}

// StandingOrderView is a standing order on the wire.
type StandingOrderView struct {
	ID             string    `json:"id"`
	AccountID      string    `json:"accountId"`
	ExternalID     string    `json:"externalId"`
	Amount         string    `json:"amount"`
	Currency       string    `json:"currency"`
	CreditorName   *string   `json:"creditorName"`
	CreditorIBAN   *string   `json:"creditorIban"`
	RemittanceInfo *string   `json:"remittanceInfo"`
	Frequency      string    `json:"frequency"`
	DayOfExecution *string   `json:"dayOfExecution"`
	StartDate      *string   `json:"startDate"`
	EndDate        *string   `json:"endDate"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

func soView(d *StandingOrderDoc) StandingOrderView {
	return StandingOrderView{ID: d.ID, AccountID: d.AccountID, ExternalID: d.ExternalID, Amount: d.Amount,
		Currency: d.Currency, CreditorName: opt(d.CreditorName), CreditorIBAN: opt(d.CreditorIBAN),
		RemittanceInfo: opt(d.RemittanceInfo), Frequency: d.Frequency, DayOfExecution: opt(d.DayOfExecution),
		StartDate: opt(d.StartDate), EndDate: opt(d.EndDate), CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()}
}

type soCursor struct {
	ID string `json:"i"`
}

func (a *API) listStandingOrders(w http.ResponseWriter, r *http.Request) error {
	acc, scope, err := a.account(r)
	if err != nil {
		return err
	}
	limit, err := httpapi.ParseLimit(r)
	if err != nil {
		return err
	}
	var cur soCursor
	resumed, err := httpapi.DecodeCursor(r, &cur)
	if err != nil {
		return err
	}
	if resumed && !ids.Valid(ids.StandingOrder, cur.ID) {
		return httpapi.InvalidField("cursor", "is not a cursor from a previous page of this list")
	}
	if err := a.check(r.Context(), scope, acc.ID); err != nil {
		return err
	}
	q := acc.Collection(StandingOrdersCollection).OrderBy(firestore.DocumentID, firestore.Asc)
	if resumed {
		q = q.StartAfter(cur.ID)
	}
	snaps, err := q.Limit(limit + 1).Documents(r.Context()).GetAll()
	if err != nil {
		return err
	}
	views := make([]StandingOrderView, 0, len(snaps))
	for _, s := range snaps {
		var d StandingOrderDoc
		if err := s.DataTo(&d); err != nil {
			return err
		}
		views = append(views, soView(&d))
	}
	l, err := httpapi.NewList(views, limit, func(v StandingOrderView) (string, error) {
		return httpapi.EncodeCursor(soCursor{ID: v.ID})
	})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, l)
	return nil
}

func (a *API) getStandingOrder(w http.ResponseWriter, r *http.Request) error {
	return getOne(a, w, r, "standingOrderId", ids.StandingOrder, "Standing order", StandingOrdersCollection, soView)
}

// Connection statuses the default check understands (issue 5's connection record).
const (
	ConnectionRevoked = "REVOKED"
	ConnectionExpired = "EXPIRED"
)

// DefaultCheck is the consent check used until the accounts package provides its own: the
// account must exist in the tenant, and its connection must be neither revoked nor past
// validUntil.
func DefaultCheck(ctx context.Context, scope store.Scope, accountID string) error {
	snap, err := scope.Collection(AccountsCollection).Doc(accountID).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return httpapi.NotFound("Account " + accountID)
	}
	if err != nil {
		return err
	}
	cxn, _ := snap.Data()["connectionId"].(string)
	if cxn == "" {
		return nil
	}
	c, err := scope.Collection("connections").Doc(cxn).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	st, _ := c.Data()["status"].(string)
	until, _ := c.Data()["validUntil"].(time.Time)
	switch {
	case strings.EqualFold(st, ConnectionRevoked):
		return &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodeConsentRevoked, Message: "The consent of this account was revoked; ask the customer to connect the bank again."}
	case strings.EqualFold(st, ConnectionExpired) || (!until.IsZero() && time.Now().After(until)):
		return &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodeConsentExpired, Message: "The consent of this account expired; renew it."}
	}
	return nil
}
