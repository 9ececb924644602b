package main

import (
	"bytes"
	"testing"

	"tokapi.io/tok/shared/testing/gentest"
)

// TestModelsMatchSpec fails when the Kotlin SDK's Models.kt is not what modelgen makes of
// api/openapi.yaml: the spec and the SDK's types have drifted apart. Fix with
// `go run ./sdks/kotlin/modelgen > sdks/kotlin/src/main/kotlin/io/tokapi/sdk/Models.kt`.
func TestModelsMatchSpec(t *testing.T) {
	var want bytes.Buffer
	if err := Generate(&want, gentest.Spec(t)); err != nil {
		t.Fatal(err)
	}
	got := gentest.Matches(t, "sdks/kotlin/src/main/kotlin/io/tokapi/sdk/Models.kt", want.Bytes(),
		"go run ./sdks/kotlin/modelgen > sdks/kotlin/src/main/kotlin/io/tokapi/sdk/Models.kt")
	for _, class := range []string{"data class Transaction(", "val amount: String,", "data class Account(", "enum class ErrorCode {"} {
		if !bytes.Contains(got, []byte(class)) {
			t.Errorf("Models.kt lacks %q", class)
		}
	}
}
