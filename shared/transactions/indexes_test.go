package transactions_test

import (
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"tokapi.io/tok/shared/payments"
	"tokapi.io/tok/shared/testing/repotest"
	"tokapi.io/tok/shared/transactions"
	"tokapi.io/tok/shared/vrp"
)

// TestEveryQueryHasItsIndex checks each query the sync and the API run (transactions.Queries,
// payments.Queries) against infra/firestore-indexes.yaml, which Terraform deploys.
func TestEveryQueryHasItsIndex(t *testing.T) {
	b := repotest.File(t, "infra/firestore-indexes.yaml")
	var doc struct {
		Indexes []struct {
			CollectionGroup string `yaml:"collectionGroup"`
			QueryScope      string `yaml:"queryScope"`
			Fields          []struct {
				FieldPath string `yaml:"fieldPath"`
				Order     string `yaml:"order"`
			} `yaml:"fields"`
		} `yaml:"indexes"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, q := range append(append(slices.Clone(transactions.Queries), payments.Queries...), vrp.Queries...) {
		if q.Index == nil {
			continue // served by Firestore's automatic single-field indexes
		}
		found := false
		for _, ix := range doc.Indexes {
			scope := ix.QueryScope
			if scope == "" {
				scope = "COLLECTION"
			}
			if ix.CollectionGroup != q.Index.CollectionGroup || scope != q.Index.QueryScope || len(ix.Fields) != len(q.Index.Fields) {
				continue
			}
			same := true
			for i, f := range ix.Fields {
				same = same && f.FieldPath == q.Index.Fields[i].FieldPath && f.Order == q.Index.Fields[i].Order
			}
			found = found || same
		}
		if !found {
			t.Errorf("query %s needs index %+v in infra/firestore-indexes.yaml", q.Name, *q.Index)
		}
	}
}
