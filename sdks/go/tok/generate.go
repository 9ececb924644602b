package tok

// types.gen.go holds the API's types, generated from api/openapi.yaml; TestTypesMatchSpec
// fails when it is not what this command makes of the current spec.
//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2 -config oapi-codegen.yaml ../../../api/openapi.yaml
