package main

import (
	"bytes"
	"os"
	"testing"
)

// TestModelsMatchSpec fails when the Kotlin SDK's Models.kt is not what modelgen makes of
// api/openapi.yaml: the spec and the SDK's types have drifted apart. Fix with
// `go run ./sdks/kotlin/modelgen > sdks/kotlin/src/main/kotlin/io/tokapi/sdk/Models.kt`.
func TestModelsMatchSpec(t *testing.T) {
	spec, err := os.ReadFile("../../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := Generate(&want, spec); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../src/main/kotlin/io/tokapi/sdk/Models.kt")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatal("Models.kt is not what modelgen makes of api/openapi.yaml: run " +
			"`go run ./sdks/kotlin/modelgen > sdks/kotlin/src/main/kotlin/io/tokapi/sdk/Models.kt`")
	}
	for _, class := range []string{"data class Transaction(", "val amount: String,", "data class Account(", "enum class ErrorCode {"} {
		if !bytes.Contains(got, []byte(class)) {
			t.Errorf("Models.kt lacks %q", class)
		}
	}
}
