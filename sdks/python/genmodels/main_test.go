package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tokapi.io/tok/shared/testing/gentest"
	"tokapi.io/tok/shared/testing/repotest"
)

// TestModelsMatchSpec fails when sdks/python/src/tokapi/models.py is not what the spec
// generates: a spec change must come with `go run ./sdks/python/genmodels`.
func TestModelsMatchSpec(t *testing.T) {
	want, err := generate(filepath.Join(repotest.Root(t), specPath))
	if err != nil {
		t.Fatal(err)
	}
	gentest.Matches(t, modelsPath, want, "go run ./sdks/python/genmodels")
}

// TestGenerate checks the shapes the generator must get right on a small spec.
func TestGenerate(t *testing.T) {
	spec := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(spec, []byte(`openapi: 3.1.0
components:
  schemas:
    Status: { type: string, enum: [a, b] }
    Error:
      type: object
      properties:
        error:
          type: object
          properties:
            code: { type: string, enum: [X_ONE, X_TWO] }
    Thing:
      type: object
      required: [id, amount, tags, status]
      properties:
        id: { type: string }
        amount: { type: string, pattern: "^[0-9]+\\.[0-9]{4}$" }
        fee: { type: [string, "null"], pattern: "^-?[0-9]+\\.[0-9]{4}$" }
        tags: { type: array, items: { type: string } }
        status: { $ref: "#/components/schemas/Status" }
        parent: { oneOf: [{ $ref: "#/components/schemas/Thing" }, { type: "null" }] }
        parts: { type: array, items: { type: object, properties: { partId: { type: integer } } } }
        meta: { type: object }
    Pick:
      oneOf: [{ $ref: "#/components/schemas/Thing" }]
      discriminator: { propertyName: status, mapping: { a: "#/components/schemas/Thing" } }
    Holder:
      type: object
      properties:
        items: { type: array, items: { $ref: "#/components/schemas/Pick" } }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := generate(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`ERROR_CODES: tuple[str, ...] = ("X_ONE", "X_TWO")`,
		`Status = Literal["a", "b"]`,
		"class Thing(Model):\n    id: str\n    amount: str\n    fee: Optional[str] = None\n    tags: list[str]\n    status: Status\n    parent: Optional[Thing] = None\n    parts: Optional[list[ThingPartsItem]] = None\n    meta: Optional[dict[str, Any]] = None\n",
		"def amount_decimal(self) -> Decimal:",
		"def fee_decimal(self) -> Optional[Decimal]:",
		"class ThingPartsItem(Model):\n    part_id: Optional[int] = None\n",
		`parent=_decode(d.get("parent"), lambda v: Thing.from_dict(v)),`,
		`parts=_decode(d.get("parts"), lambda v: [ThingPartsItem.from_dict(i) for i in v]),`,
		`amount=d["amount"],`,
		"Pick = Union[Thing, UnknownPick]\n",
		"class UnknownPick(Model):",
		"return UnknownPick(status=str(d.get(\"status\")), raw=dict(d))",
		"_PICK_VARIANTS: dict[str, Any] = {\n    \"a\": Thing,\n}",
		"def pick_from_dict(d: Mapping[str, Any]) -> Pick:",
		`items=_decode(d.get("items"), lambda v: [pick_from_dict(i) for i in v]),`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("generated models lack\n%s\n--- in ---\n%s", want, out)
		}
	}
}
