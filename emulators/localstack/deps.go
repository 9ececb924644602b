package localstack

// The generated functions main imports funcframework; importing it here too keeps it in
// go.mod and go.sum through `go mod tidy`, which never sees the generated file.
import _ "github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
