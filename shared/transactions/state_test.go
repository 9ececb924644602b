package transactions_test

import (
	"testing"

	"tokapi.io/tok/shared/testing/testenv"
	"tokapi.io/tok/shared/transactions"
)

// TestReadState: an account never synced reads as the zero state; a stored state reads
// back; a state document of the wrong shape is an error, not a silent zero.
func TestReadState(t *testing.T) {
	fs := testenv.Firestore(t, testenv.Project(t))
	ctx := t.Context()
	acc := fs.Collection(transactions.AccountsCollection).Doc("acc_1")
	ref := transactions.StateRef(acc)
	if ref.Parent.ID != transactions.SyncCollection || ref.ID != transactions.StateDoc || ref.Parent.Parent.Path != acc.Path {
		t.Fatalf("state of %s at %s", acc.Path, ref.Path)
	}

	st, err := transactions.ReadState(ctx, ref)
	if err != nil || st != (transactions.State{}) {
		t.Fatalf("never synced: %+v, %v", st, err)
	}

	if _, err := ref.Set(ctx, transactions.State{Watermark: "2026-04-19", SeqAllocated: 9, SeqCommitted: 7, PublishedSeq: 5}); err != nil {
		t.Fatal(err)
	}
	st, err = transactions.ReadState(ctx, ref)
	if err != nil || st.Watermark != "2026-04-19" || st.SeqAllocated != 9 || st.SeqCommitted != 7 || st.PublishedSeq != 5 {
		t.Fatalf("stored: %+v, %v", st, err)
	}

	if _, err := ref.Set(ctx, map[string]any{"watermark": 42}); err != nil {
		t.Fatal(err)
	}
	if _, err := transactions.ReadState(ctx, ref); err == nil {
		t.Fatal("a watermark that is a number read without an error")
	}
}
