package rpccount_test

import (
	"os"
	"testing"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/testing/rpccount"
	"tokapi.io/tok/shared/testing/testenv"
)

// TestCountsFirestoreCalls: a client pointed at the proxy reaches the emulator, and each of
// its calls is counted under its method.
func TestCountsFirestoreCalls(t *testing.T) {
	project := testenv.Project(t)
	p := rpccount.New(t, os.Getenv("FIRESTORE_EMULATOR_HOST"))
	t.Setenv("FIRESTORE_EMULATOR_HOST", p.Addr)
	fs, err := firestore.NewClient(t.Context(), project)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fs.Close() }()
	doc := fs.Collection("probe").Doc("x")
	if _, err := doc.Set(t.Context(), map[string]any{"n": 1}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		snap, err := doc.Get(t.Context())
		if err != nil || snap.Data()["n"] != int64(1) {
			t.Fatalf("read through the proxy: %v %v", snap, err)
		}
	}
	if got := p.Counts(); got["Commit"] != 1 || got["BatchGetDocuments"] != 2 || len(got) != 2 {
		t.Fatalf("counts %v, want one Commit and two BatchGetDocuments", got)
	}
	if n := p.Total("Commit", "BatchGetDocuments", "RunQuery"); n != 3 {
		t.Fatalf("Total = %d", n)
	}
	p.Reset()
	if n := p.Total("BatchGetDocuments"); n != 0 {
		t.Fatalf("after Reset: %d", n)
	}
}
