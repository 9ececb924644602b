package testenv_test

import (
	"testing"

	"tokapi.io/tok/shared/testing/testenv"
)

func TestDropFirestoreWhenDone(t *testing.T) {
	project, other := testenv.Project(t), testenv.Project(t)
	fs, kept := testenv.Firestore(t, project), testenv.Firestore(t, other)
	if _, err := kept.Collection("a").Doc("x").Set(t.Context(), map[string]any{"n": 1}); err != nil {
		t.Fatal(err)
	}
	t.Run("seeds and drops", func(t *testing.T) {
		testenv.DropFirestoreWhenDone(t, project)
		if _, err := fs.Collection("a").Doc("x").Collection("b").Doc("y").Set(t.Context(), map[string]any{"n": 1}); err != nil {
			t.Fatal(err)
		}
	})
	left, err := fs.CollectionGroup("b").Documents(t.Context()).GetAll()
	if err != nil || len(left) != 0 {
		t.Errorf("after the drop: %d documents (%v)", len(left), err)
	}
	if snap, err := kept.Collection("a").Doc("x").Get(t.Context()); err != nil || !snap.Exists() {
		t.Errorf("another project's document: %v", err)
	}
}
