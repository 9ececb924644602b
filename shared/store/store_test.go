package store_test

import (
	"errors"
	"testing"

	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/store"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/testenv"
)

var errGone = errors.New("gone")

type thing struct {
	Name string `firestore:"name"`
}

// TestGetID: a document of the kind reads back; a missing one and an ID of another kind (or
// none) are notFound, named in the error; a document that does not decode is an error of
// its own.
func TestGetID(t *testing.T) {
	fs := testenv.Firestore(t, testenv.Project(t))
	ctx := t.Context()
	col := store.For(fs, tenant.Tenant{Env: tenant.Sandbox, OrgID: ids.New(ids.Organisation)}).Collection("things")
	id, absent, refund := ids.New(ids.Payment), ids.New(ids.Payment), ids.New(ids.Refund)
	if _, err := col.Doc(id).Set(ctx, thing{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if got, err := store.GetID[thing](ctx, col, ids.Payment, id, "thing", errGone); err != nil || got.Name != "a" {
		t.Fatalf("stored: %+v, %v", got, err)
	}
	// An ID of the kind is read; any other is refused before, quoted as given.
	for _, missing := range []struct {
		id   string
		want string
	}{
		{absent, "thing " + absent + ": gone"},
		{refund, `thing "` + refund + `": gone`},
		{"../" + id, `thing "../` + id + `": gone`},
		{"", `thing "": gone`},
	} {
		if _, err := store.GetID[thing](ctx, col, ids.Payment, missing.id, "thing", errGone); !errors.Is(err, errGone) || err.Error() != missing.want {
			t.Errorf("%q: %v, want %s", missing.id, err, missing.want)
		}
	}
	bad := ids.New(ids.Payment)
	if _, err := col.Doc(bad).Set(ctx, map[string]any{"name": 7}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.GetID[thing](ctx, col, ids.Payment, bad, "thing", errGone); err == nil || errors.Is(err, errGone) {
		t.Errorf("undecodable: %v", err)
	}
}
