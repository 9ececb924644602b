package webhooks

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/testing/testenv"
)

// TestGroupedCommitsFailAlone: commits made at once go together, yet each is atomic and one
// whose document exists fails alone: every other one is written, none of its own writes is.
func TestGroupedCommitsFailAlone(t *testing.T) {
	fs := testenv.Firestore(t, testenv.Project(t))
	col := fs.Collection("probe")
	if _, err := col.Doc("taken").Set(t.Context(), map[string]any{"n": 0}); err != nil {
		t.Fatal(err)
	}
	commits := newCommits(fs)
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			first := col.Doc(fmt.Sprint("a", i))
			if i == 7 {
				first = col.Doc("taken")
			}
			_, errs[i] = commits.do(t.Context(), []write{
				{ref: first, data: map[string]any{"n": i}, create: true},
				{ref: col.Doc(fmt.Sprint("b", i)), data: map[string]any{"n": i}},
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		_, errB := col.Doc(fmt.Sprint("b", i)).Get(t.Context())
		switch {
		case i == 7 && (status.Code(err) != codes.AlreadyExists || status.Code(errB) != codes.NotFound):
			t.Errorf("commit over an existing document: %v, its other write: %v", err, errB)
		case i != 7 && (err != nil || errB != nil):
			t.Errorf("commit %d: %v, its write: %v", i, err, errB)
		}
	}
	// A request whose context ended before its run is not made.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := commits.do(ctx, []write{{ref: col.Doc("late"), data: map[string]any{}, create: true}}); err == nil {
		t.Error("a cancelled request committed")
	}
	if _, err := col.Doc("late").Get(t.Context()); status.Code(err) != codes.NotFound {
		t.Errorf("the cancelled request's document: %v", err)
	}
}

// TestGroupedReadsAnswerEach: reads made at once go together and each gets its own
// documents in its order, a document asked twice included.
func TestGroupedReadsAnswerEach(t *testing.T) {
	fs := testenv.Firestore(t, testenv.Project(t))
	col := fs.Collection("probe")
	for i := range 5 {
		if _, err := col.Doc(fmt.Sprint(i)).Set(t.Context(), map[string]any{"n": i}); err != nil {
			t.Fatal(err)
		}
	}
	reads := newReads(fs)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			a, b := i%5, (i+2)%7 // 5 and 6 do not exist
			snaps, err := reads.do(t.Context(), []*firestore.DocumentRef{col.Doc(fmt.Sprint(a)), col.Doc(fmt.Sprint(b)), col.Doc(fmt.Sprint(a))})
			if err != nil || len(snaps) != 3 {
				t.Errorf("read %d: %d snapshots, %v", i, len(snaps), err)
				return
			}
			for k, want := range []int{a, b, a} {
				got, _ := snaps[k].DataAt("n")
				if exists := want < 5; snaps[k].Exists() != exists || (exists && got != int64(want)) || snaps[k].Ref.ID != fmt.Sprint(want) {
					t.Errorf("read %d, document %d: %s %v", i, k, snaps[k].Ref.ID, got)
				}
			}
		})
	}
	wg.Wait()
}
