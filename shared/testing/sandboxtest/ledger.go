package sandboxtest

import (
	"context"
	"testing"

	"cloud.google.com/go/firestore"
	"github.com/shopspring/decimal"
)

// MandateLedger reads the sandbox bank's own record of a VRP mandate's payments in its
// Firestore database bankFS: how many it took (not rejected) and their sum.
func MandateLedger(ctx context.Context, t testing.TB, bankFS *firestore.Client, bankID, mandateID string) (int, decimal.Decimal) {
	t.Helper()
	snap, err := bankFS.Collection("sandboxbank").Doc(bankID).Collection("mandates").Doc(mandateID).Get(ctx)
	if err != nil {
		t.Fatalf("mandate %q at the bank: %v", mandateID, err)
	}
	var m struct {
		Payments []struct {
			Amount string `firestore:"amount"`
			Status string `firestore:"status"`
		} `firestore:"payments"`
	}
	if err := snap.DataTo(&m); err != nil {
		t.Fatal(err)
	}
	n, sum := 0, decimal.Zero
	for _, p := range m.Payments {
		if p.Status != "RJCT" {
			n++
			sum = sum.Add(decimal.RequireFromString(p.Amount))
		}
	}
	return n, sum
}
