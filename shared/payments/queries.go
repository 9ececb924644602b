package payments

import "tokapi.io/tok/shared/transactions"

func listIndex(fields ...transactions.IndexField) *transactions.Index {
	return listIndexOf(Collection, fields...)
}

func listIndexOf(group string, fields ...transactions.IndexField) *transactions.Index {
	return &transactions.Index{CollectionGroup: group, QueryScope: "COLLECTION",
		Fields: append(fields, transactions.IndexField{FieldPath: "createdAt", Order: "DESCENDING"}, transactions.IndexField{FieldPath: "__name__", Order: "DESCENDING"})}
}

func sweepIndex(group, eq, order string) *transactions.Index {
	return &transactions.Index{CollectionGroup: group, QueryScope: "COLLECTION_GROUP",
		Fields: []transactions.IndexField{{FieldPath: eq, Order: "ASCENDING"}, {FieldPath: order, Order: "ASCENDING"}}}
}

func reconcileIndex(group, iban, flag string) *transactions.Index {
	return &transactions.Index{CollectionGroup: group, QueryScope: "COLLECTION",
		Fields: []transactions.IndexField{{FieldPath: iban, Order: "ASCENDING"}, {FieldPath: flag, Order: "ASCENDING"}}}
}

// Queries lists every Firestore query of this package with the composite index it needs
// (checked against infra/firestore-indexes.yaml with the transactions queries).
var Queries = []transactions.Query{
	// GET /v1/payments: newest first, createdAt range, optional status and accountId.
	{Name: "payments.list"},
	{Name: "payments.list.status", Index: listIndex(transactions.IndexField{FieldPath: "status", Order: "ASCENDING"})},
	{Name: "payments.list.account", Index: listIndex(transactions.IndexField{FieldPath: "accountId", Order: "ASCENDING"})},
	{Name: "payments.list.status.account", Index: listIndex(transactions.IndexField{FieldPath: "status", Order: "ASCENDING"}, transactions.IndexField{FieldPath: "accountId", Order: "ASCENDING"})},
	// GET /v1/vrps (optional status) and GET /v1/vrp-consents/{id}/payments.
	{Name: "payments.list.vrp", Index: listIndex(transactions.IndexField{FieldPath: "vrp", Order: "ASCENDING"})},
	{Name: "payments.list.vrp.status", Index: listIndex(transactions.IndexField{FieldPath: "status", Order: "ASCENDING"}, transactions.IndexField{FieldPath: "vrp", Order: "ASCENDING"})},
	{Name: "payments.list.vrpConsent", Index: listIndex(transactions.IndexField{FieldPath: "vrpConsentId", Order: "ASCENDING"})},
	// GET /v1/refunds and GET /v1/payments/{id}/refunds: newest first, createdAt range,
	// optional status and refundOf (paymentId).
	{Name: "refunds.list"},
	{Name: "refunds.list.status", Index: listIndexOf(RefundsCollection, transactions.IndexField{FieldPath: "status", Order: "ASCENDING"})},
	{Name: "refunds.list.payment", Index: listIndexOf(RefundsCollection, transactions.IndexField{FieldPath: "refundOf", Order: "ASCENDING"})},
	{Name: "refunds.list.status.payment", Index: listIndexOf(RefundsCollection, transactions.IndexField{FieldPath: "status", Order: "ASCENDING"}, transactions.IndexField{FieldPath: "refundOf", Order: "ASCENDING"})},
	// The sweep, across every tenant, of payments and of refunds.
	{Name: "payments.sweep.expired", Index: sweepIndex(Collection, "status", "authorizeBy")},
	{Name: "payments.sweep.due", Index: sweepIndex(Collection, "pollActive", "nextPollAt")},
	{Name: "payments.sweep.outbox", Index: sweepIndex(Collection, "outboxPending", "updatedAt")},
	{Name: "refunds.sweep.expired", Index: sweepIndex(RefundsCollection, "status", "authorizeBy")},
	{Name: "refunds.sweep.due", Index: sweepIndex(RefundsCollection, "pollActive", "nextPollAt")},
	{Name: "refunds.sweep.outbox", Index: sweepIndex(RefundsCollection, "outboxPending", "updatedAt")},
	// Reconciliation after a sync: the payments and refunds still to link on the account,
	// then its transactions by endToEndId, else by date range (single-field indexes).
	{Name: "payments.reconcile.debit", Index: reconcileIndex(Collection, "debtorIban", "reconcileDebit")},
	{Name: "refunds.reconcile.debit", Index: reconcileIndex(RefundsCollection, "debtorIban", "reconcileDebit")},
	{Name: "refunds.reconcile.credit", Index: reconcileIndex(RefundsCollection, "creditorIban", "reconcileCredit")},
	{Name: "transactions.reconcile.endToEndId"},
	{Name: "transactions.reconcile.date"},
}
