package payments

import "tokapi.io/tok/shared/transactions"

func listIndex(fields ...transactions.IndexField) *transactions.Index {
	return &transactions.Index{CollectionGroup: Collection, QueryScope: "COLLECTION",
		Fields: append(fields, transactions.IndexField{FieldPath: "createdAt", Order: "DESCENDING"}, transactions.IndexField{FieldPath: "__name__", Order: "DESCENDING"})}
}

func sweepIndex(eq, order string) *transactions.Index {
	return &transactions.Index{CollectionGroup: Collection, QueryScope: "COLLECTION_GROUP",
		Fields: []transactions.IndexField{{FieldPath: eq, Order: "ASCENDING"}, {FieldPath: order, Order: "ASCENDING"}}}
}

// Queries lists every Firestore query of this package with the composite index it needs
// (checked against infra/firestore-indexes.yaml with the transactions queries).
var Queries = []transactions.Query{
	// GET /v1/payments: newest first, createdAt range, optional status and accountId.
	{Name: "payments.list"},
	{Name: "payments.list.status", Index: listIndex(transactions.IndexField{FieldPath: "status", Order: "ASCENDING"})},
	{Name: "payments.list.account", Index: listIndex(transactions.IndexField{FieldPath: "accountId", Order: "ASCENDING"})},
	{Name: "payments.list.status.account", Index: listIndex(transactions.IndexField{FieldPath: "status", Order: "ASCENDING"}, transactions.IndexField{FieldPath: "accountId", Order: "ASCENDING"})},
	// The sweep, across every tenant.
	{Name: "payments.sweep.expired", Index: sweepIndex("status", "authorizeBy")},
	{Name: "payments.sweep.due", Index: sweepIndex("pollActive", "nextPollAt")},
	{Name: "payments.sweep.outbox", Index: sweepIndex("outboxPending", "updatedAt")},
}
