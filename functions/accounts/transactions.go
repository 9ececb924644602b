package accounts

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
	"tokapi.io/tok/shared/lists"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/transactions"
)

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
	PaymentID      *string   `json:"paymentId"`
	RefundID       *string   `json:"refundId"`
	Source         string    `json:"source"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

// ToView renders a stored transaction.
func ToView(d *transactions.Doc) View {
	v := View{ID: d.ID, AccountID: d.AccountID, ExternalID: d.ExternalID, Status: d.Status,
		BookingDate: httpapi.Optional(d.BookingDate), ValueDate: httpapi.Optional(d.ValueDate), Amount: d.Amount, Currency: d.Currency,
		Direction: d.Direction, CreditorName: httpapi.Optional(d.CreditorName), CreditorIBAN: httpapi.Optional(d.CreditorIBAN),
		DebtorName: httpapi.Optional(d.DebtorName), DebtorIBAN: httpapi.Optional(d.DebtorIBAN), RemittanceInfo: httpapi.Optional(d.RemittanceInfo),
		EndToEndID: httpapi.Optional(d.EndToEndID), PaymentID: httpapi.Optional(d.PaymentID), RefundID: httpapi.Optional(d.RefundID), Source: transactions.Source, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()}
	if d.Status == transactions.StatusPending {
		v.BookingDate = nil
	}
	return v
}

// account resolves the request's tenant scope and checked account.
func (d *Deps) account(r *http.Request) (*firestore.DocumentRef, store.Scope, error) {
	scope, err := d.Scope(r.Context())
	if err != nil {
		return nil, store.Scope{}, err
	}
	id := r.PathValue("accountId")
	if !ids.Valid(ids.Account, id) {
		return nil, store.Scope{}, httpapi.NotFound("Account " + id)
	}
	return scope.Collection(transactions.AccountsCollection).Doc(id), scope, nil
}

// transactionsCursor resumes a walk of the transactions list: the snapshot (rows created after it are left out, so a
// sync writing during the walk neither shifts nor adds rows), the last row's date and ID,
// and the filters it was made for.
type transactionsCursor struct {
	AsOf   int64  `json:"s"`
	Date   string `json:"d"`
	ID     string `json:"i"`
	Filter string `json:"f"`
}

// statusesOf maps the status parameter to stored statuses.
func statusesOf(r *http.Request) ([]string, error) {
	switch s := r.URL.Query().Get("status"); s {
	case "", "all":
		return []string{transactions.StatusBooked, transactions.StatusPending}, nil
	case transactions.StatusBooked, transactions.StatusPending:
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

func (d *Deps) listTransactions(w http.ResponseWriter, r *http.Request) error {
	acc, scope, err := d.account(r)
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
	col := acc.Collection(transactions.TransactionsCollection)
	var (
		asOf  int64
		dates = map[string]string{} // the date of each row of the page, for the next cursor
	)
	return lists.Serve(w, r, lists.Spec[transactionsCursor, View]{
		Valid: func(c transactionsCursor) bool {
			return c.Filter == filter && ids.Valid(ids.Transaction, c.ID) && c.Date != "" && c.AsOf >= 0
		},
		Fetch: func(ctx context.Context, after *transactionsCursor, n int) ([]View, error) {
			q := transactions.ListQuery(col, statuses, from, to)
			if after != nil {
				q, asOf = q.StartAfter(after.Date, after.ID), after.AsOf
			}
			rows, err := d.walkTransactions(ctx, scope, acc, q, after == nil, &asOf, n)
			if err != nil {
				return nil, err
			}
			views := make([]View, len(rows))
			for i, doc := range rows {
				views[i] = ToView(doc)
				dates[doc.ID] = doc.Date
			}
			return views, nil
		},
		Position: func(v View) transactionsCursor {
			return transactionsCursor{AsOf: asOf, Date: dates[v.ID], ID: v.ID, Filter: filter}
		},
	})
}

// walkTransactions returns up to n rows of q created up to the snapshot asOf, which it
// reads first when the walk begins. The account check, the snapshot and the first batch
// run concurrently.
func (d *Deps) walkTransactions(ctx context.Context, scope store.Scope, acc *firestore.DocumentRef, q firestore.Query, begins bool, asOf *int64, n int) ([]*transactions.Doc, error) {
	var first []*firestore.DocumentSnapshot
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return d.check(gctx, scope, acc.ID) })
	if begins {
		g.Go(func() error {
			st, err := transactions.ReadState(gctx, transactions.StateRef(acc))
			*asOf = st.SeqCommitted
			return err
		})
	}
	g.Go(func() error {
		var err error
		first, err = q.Limit(n).Documents(gctx).GetAll()
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make([]*transactions.Doc, 0, n)
	batch, want := first, n
	for {
		var last *transactions.Doc
		for _, s := range batch {
			var doc transactions.Doc
			if err := s.DataTo(&doc); err != nil {
				return nil, err
			}
			last = &doc
			if doc.CreatedSeq > *asOf { // created after the walk began
				continue
			}
			if len(out) < n {
				out = append(out, &doc)
			}
		}
		if len(out) >= n || len(batch) < want || last == nil {
			return out, nil
		}
		want = n - len(out) + 16
		var err error
		batch, err = q.StartAfter(last.Date, last.ID).Limit(want).Documents(ctx).GetAll()
		if err != nil {
			return nil, err
		}
	}
}

func (d *Deps) getTransaction(w http.ResponseWriter, r *http.Request) error {
	return getOne(d, w, r, "transactionId", ids.Transaction, "Transaction", transactions.TransactionsCollection, ToView)
}

// getOne answers with the view of one document of the account's collection, named by the
// path value param, which must be an ID of kind; what says what the document is in a 404.
func getOne[D, V any](deps *Deps, w http.ResponseWriter, r *http.Request, param, kind, what, collection string, view func(*D) V) error {
	acc, scope, err := deps.account(r)
	if err != nil {
		return err
	}
	id := r.PathValue(param)
	if !ids.Valid(kind, id) {
		return httpapi.NotFound(what + " " + id)
	}
	if err := deps.check(r.Context(), scope, acc.ID); err != nil {
		return err
	}
	snap, err := acc.Collection(collection).Doc(id).Get(r.Context())
	if status.Code(err) == codes.NotFound {
		return httpapi.NotFound(what + " " + id)
	}
	if err != nil {
		return err
	}
	var doc D
	if err := snap.DataTo(&doc); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, view(&doc))
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

func (d *Deps) transactionChanges(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	acc, scope, err := d.account(r)
	if err != nil {
		return err
	}
	// The feed's page always has a next cursor, so only the limit and cursor come from lists.
	limit, after, err := lists.Parse(r, func(c changesCursor) bool { return c.Seq >= 0 })
	if err != nil {
		return err
	}
	var cur changesCursor
	if after != nil {
		cur = *after
	}
	var st transactions.State
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return d.check(gctx, scope, acc.ID) })
	g.Go(func() error {
		var err error
		st, err = transactions.ReadState(gctx, transactions.StateRef(acc))
		return err
	})
	if err := g.Wait(); err != nil {
		return err
	}
	if cur.Seq > st.SeqCommitted {
		return lists.BadCursor()
	}
	snaps, err := transactions.ChangesQuery(acc.Collection(transactions.TransactionsCollection), cur.Seq, st.SeqCommitted).Limit(limit + 1).Documents(ctx).GetAll()
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
		var doc transactions.Doc
		if err := s.DataTo(&doc); err != nil {
			return err
		}
		page.Data = append(page.Data, Change{Type: transactions.ChangeType(&doc, cur.Seq), Transaction: ToView(&doc)})
		next = doc.ChangeSeq
	}
	if !page.HasMore {
		next = st.SeqCommitted // nothing more up to the snapshot: resume after it
	}
	if page.NextCursor, err = httpapi.EncodeCursor(r, changesCursor{Seq: next}); err != nil {
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

func soView(d *transactions.StandingOrderDoc) StandingOrderView {
	return StandingOrderView{ID: d.ID, AccountID: d.AccountID, ExternalID: d.ExternalID, Amount: d.Amount,
		Currency: d.Currency, CreditorName: httpapi.Optional(d.CreditorName), CreditorIBAN: httpapi.Optional(d.CreditorIBAN),
		RemittanceInfo: httpapi.Optional(d.RemittanceInfo), Frequency: d.Frequency, DayOfExecution: httpapi.Optional(d.DayOfExecution),
		StartDate: httpapi.Optional(d.StartDate), EndDate: httpapi.Optional(d.EndDate), CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()}
}

func (d *Deps) listStandingOrders(w http.ResponseWriter, r *http.Request) error {
	acc, scope, err := d.account(r)
	if err != nil {
		return err
	}
	fetch := lists.Query[lists.ByID](acc.Collection(transactions.StandingOrdersCollection).OrderBy(firestore.DocumentID, firestore.Asc),
		func(doc transactions.StandingOrderDoc) StandingOrderView { return soView(&doc) })
	return lists.Serve(w, r, lists.Spec[lists.ByID, StandingOrderView]{
		Valid: func(p lists.ByID) bool { return p.Is(ids.StandingOrder) },
		Fetch: func(ctx context.Context, after *lists.ByID, n int) ([]StandingOrderView, error) {
			if err := d.check(ctx, scope, acc.ID); err != nil {
				return nil, err
			}
			return fetch(ctx, after, n)
		},
		Position: func(v StandingOrderView) lists.ByID { return lists.ByID{ID: v.ID} },
	})
}

func (d *Deps) getStandingOrder(w http.ResponseWriter, r *http.Request) error {
	return getOne(d, w, r, "standingOrderId", ids.StandingOrder, "Standing order", transactions.StandingOrdersCollection, soView)
}

// check is the one consent check of every /v1/accounts/{accountId}/... route.
func (d *Deps) check(ctx context.Context, scope store.Scope, accountID string) error {
	_, _, err := d.Repo.ReadableAccount(ctx, scope, accountID, d.Clock())
	return err
}
