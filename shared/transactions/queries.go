package transactions

import (
	"context"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// IndexField is one field of a composite index.
type IndexField struct {
	FieldPath string
	Order     string // ASCENDING or DESCENDING
}

// Index is a composite index a query needs, as declared in infra/firestore-indexes.yaml.
type Index struct {
	CollectionGroup string
	QueryScope      string // COLLECTION or COLLECTION_GROUP
	Fields          []IndexField
}

// Query names a query the code runs and the composite index it needs (nil: Firestore's
// automatic single-field indexes serve it). The index test checks every entry against
// infra/firestore-indexes.yaml; every query in this package and in banksync is built from
// the fields named here.
type Query struct {
	Name  string
	Index *Index
}

// Queries lists every Firestore query of transactions and banksync.
var Queries = []Query{
	// List: status in/== X, date range, order by date desc then document ID desc (the
	// document ID is implicit in every composite index, in the direction of the last field).
	{Name: "transactions.list", Index: &Index{CollectionGroup: TransactionsCollection, QueryScope: "COLLECTION",
		Fields: []IndexField{{"status", "ASCENDING"}, {"date", "DESCENDING"}, {"__name__", "DESCENDING"}}}},
	// Changes feed: changeSeq range, ordered by changeSeq (single field).
	{Name: "transactions.changes"},
	// Sync: the open pending transactions of an account (status == pending, single field).
	{Name: "transactions.pending"},
	// Sync: transactions matched by heuristics recently (matchedAt >= t, single field).
	{Name: "transactions.matched"},
	// Standing orders: the account's collection ordered by document ID (built in).
	{Name: "standingOrders.list"},
}

// ListQuery builds the list query for statuses and a date range (empty: open).
func ListQuery(col *firestore.CollectionRef, statuses []string, dateFrom, dateTo string) firestore.Query {
	q := col.Query
	if len(statuses) == 1 {
		q = q.Where("status", "==", statuses[0])
	} else {
		q = q.Where("status", "in", statuses)
	}
	if dateFrom != "" {
		q = q.Where("date", ">=", dateFrom)
	}
	if dateTo != "" {
		q = q.Where("date", "<=", dateTo)
	}
	return q.OrderBy("date", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc)
}

// ChangesQuery builds the changes-feed query: changes after `after`, up to `upTo`.
func ChangesQuery(col *firestore.CollectionRef, after, upTo int64) firestore.Query {
	return col.Where("changeSeq", ">", after).Where("changeSeq", "<=", upTo).OrderBy("changeSeq", firestore.Asc)
}

// PendingQuery selects the account's pending transactions.
func PendingQuery(col *firestore.CollectionRef) firestore.Query {
	return col.Where("status", "==", StatusPending)
}

// StateRef is the sync state document of the account document acc.
func StateRef(acc *firestore.DocumentRef) *firestore.DocumentRef {
	return acc.Collection(SyncCollection).Doc(StateDoc)
}

// ReadState reads the sync state document ref; an account never synced has the zero State.
func ReadState(ctx context.Context, ref *firestore.DocumentRef) (State, error) {
	var st State
	snap, err := ref.Get(ctx)
	if status.Code(err) == codes.NotFound {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	return st, snap.DataTo(&st)
}
