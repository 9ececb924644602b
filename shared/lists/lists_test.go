package lists

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/httpapi"
	"tokapi.io/tok/shared/ids"
	"tokapi.io/tok/shared/tenant"
	"tokapi.io/tok/shared/testing/testenv"
)

var (
	key     = httpapi.DeriveCursorKey([]byte("test pepper"))
	tenantA = tenant.Tenant{Env: tenant.Live, OrgID: "org_a"}
	tenantB = tenant.Tenant{Env: tenant.Live, OrgID: "org_b"}
)

func request(target string, t tenant.Tenant) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	return r.WithContext(httpapi.WithCursorKey(tenant.With(r.Context(), t), key))
}

type item struct {
	ID string `json:"id"`
}

func itemID(it item) string { return it.ID }

// serve answers r from items held in memory and decodes the page; fetched counts the fetches.
func serve(t *testing.T, r *http.Request, items []item, fetched *int) (httpapi.List[item], error) {
	t.Helper()
	fetch := InMemory(items, itemID)
	w := httptest.NewRecorder()
	err := Serve(w, r, Spec[string, item]{
		Valid: func(p string) bool { return p != "forbidden" },
		Fetch: func(ctx context.Context, after *string, n int) ([]item, error) {
			*fetched++
			return fetch(ctx, after, n)
		},
		Position: itemID,
	})
	if err != nil {
		return httpapi.List[item]{}, err
	}
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	var page httpapi.List[item]
	if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	return page, nil
}

func fieldOf(t *testing.T, err error) string {
	t.Helper()
	var apiErr *httpapi.Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || len(apiErr.Details) != 1 {
		t.Fatalf("want a 400 naming one field, got %v", err)
	}
	return apiErr.Details[0].Field
}

func TestServeWalksPagesWithSignedCursors(t *testing.T) {
	var items []item
	for i := range 5 {
		items = append(items, item{ID: fmt.Sprintf("it_%d", i)})
	}
	var seen []string
	target := "/v1/things?kind=a&limit=2"
	fetches := 0
	for pages := 1; ; pages++ {
		page, err := serve(t, request(target, tenantA), items, &fetches)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Data {
			seen = append(seen, it.ID)
		}
		if !page.HasMore {
			if page.NextCursor != nil || pages != 3 {
				t.Fatalf("last page: cursor %v after %d pages", page.NextCursor, pages)
			}
			break
		}
		if len(page.Data) != 2 || page.NextCursor == nil {
			t.Fatalf("page %d: %+v", pages, page)
		}
		target = "/v1/things?kind=a&limit=2&cursor=" + url.QueryEscape(*page.NextCursor)
	}
	if fmt.Sprint(seen) != "[it_0 it_1 it_2 it_3 it_4]" || fetches != 3 {
		t.Fatalf("walk saw %v in %d fetches", seen, fetches)
	}
}

func TestServeRejectsBeforeFetching(t *testing.T) {
	items := []item{{"it_0"}, {"it_1"}, {"it_2"}}
	fetches := 0
	first, err := serve(t, request("/v1/things?kind=a&limit=1", tenantA), items, &fetches)
	if err != nil || first.NextCursor == nil {
		t.Fatalf("first page: %v %+v", err, first)
	}
	cursor := url.QueryEscape(*first.NextCursor)
	forbidden, err := httpapi.EncodeCursor(request("/v1/things?kind=a", tenantA), "forbidden")
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*http.Request{
		"limit zero":           request("/v1/things?limit=0", tenantA),
		"limit too large":      request("/v1/things?limit=501", tenantA),
		"another tenant":       request("/v1/things?kind=a&cursor="+cursor, tenantB),
		"other filters":        request("/v1/things?kind=b&cursor="+cursor, tenantA),
		"another list":         request("/v1/others?kind=a&cursor="+cursor, tenantA),
		"not a cursor":         request("/v1/things?kind=a&cursor=abc", tenantA),
		"position not allowed": request("/v1/things?kind=a&cursor="+url.QueryEscape(forbidden), tenantA),
	} {
		fetches = 0
		_, err := serve(t, r, items, &fetches)
		want := "cursor"
		if r.URL.Query().Get("cursor") == "" {
			want = "limit"
		}
		if got := fieldOf(t, err); got != want || fetches != 0 {
			t.Errorf("%s: field %q, %d fetches", name, got, fetches)
		}
	}
}

func TestInMemoryItemGone(t *testing.T) {
	fetches := 0
	first, err := serve(t, request("/v1/things?limit=1", tenantA), []item{{"it_0"}, {"it_1"}}, &fetches)
	if err != nil {
		t.Fatal(err)
	}
	// it_0, where the cursor stands, was deleted before the next page was asked for.
	_, err = serve(t, request("/v1/things?limit=1&cursor="+url.QueryEscape(*first.NextCursor), tenantA), []item{{"it_1"}}, &fetches)
	if fieldOf(t, err) != "cursor" {
		t.Fatalf("gone item: %v", err)
	}
}

func TestParseFirstPageAndDefaultLimit(t *testing.T) {
	limit, after, err := Parse[ByID](request("/v1/things", tenantA), nil)
	if err != nil || after != nil || limit != httpapi.DefaultLimit {
		t.Fatalf("Parse: %d %v %v", limit, after, err)
	}
}

type doc struct {
	Kind      string    `firestore:"kind"`
	CreatedAt time.Time `firestore:"createdAt"`
	ID        string    `firestore:"id"`
}

// Query walks a Firestore query newest first in pages on the emulator, resuming exactly
// after each page's last document, also when several share a creation time.
func TestQueryResumesAfterPosition(t *testing.T) {
	fs := testenv.Firestore(t, testenv.Project(t))
	col := fs.Collection("things")
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var want []string
	for i := range 7 {
		id := ids.New(ids.Event)
		created := base.Add(time.Duration(i/2) * time.Second) // pairs share a second
		if _, err := col.Doc(id).Set(t.Context(), doc{Kind: "a", CreatedAt: created, ID: id}); err != nil {
			t.Fatal(err)
		}
		if _, err := col.Doc(ids.New(ids.Event)).Set(t.Context(), doc{Kind: "b", CreatedAt: created}); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	q := col.Where("kind", "==", "a").OrderBy("createdAt", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc)
	fetch := Query[CreatedID](q, func(d doc) doc { return d })
	var got []doc
	var after *CreatedID
	for {
		page, err := fetch(t.Context(), after, 3)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if len(page) < 3 {
			break
		}
		last := page[len(page)-1]
		after = &CreatedID{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	if len(got) != len(want) {
		t.Fatalf("walk returned %d documents, want %d", len(got), len(want))
	}
	for i := 1; i < len(got); i++ {
		prev, cur := got[i-1], got[i]
		if cur.Kind != "a" || cur.CreatedAt.After(prev.CreatedAt) || (cur.CreatedAt.Equal(prev.CreatedAt) && cur.ID >= prev.ID) {
			t.Fatalf("out of order or filtered wrongly at %d: %+v after %+v", i, cur, prev)
		}
	}
	seen := map[string]bool{}
	for _, d := range got {
		seen[d.ID] = true
	}
	for _, id := range want {
		if !seen[id] {
			t.Fatalf("walk missed %s", id)
		}
	}
}

func TestPositionsCheckTheirKind(t *testing.T) {
	ev := ids.New(ids.Event)
	if !(CreatedID{CreatedAt: time.Now(), ID: ev}).Is(ids.Event) ||
		(CreatedID{ID: ev}).Is(ids.Event) ||
		(CreatedID{CreatedAt: time.Now(), ID: ev}).Is(ids.Payment) ||
		!(ByID{ID: ev}).Is(ids.Event) || (ByID{ID: "evt"}).Is(ids.Event) {
		t.Fatal("Is accepts a position of another kind or without its time")
	}
}
