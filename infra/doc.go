// Package infra holds Tok's Terraform (the .tf files here and in modules/) and, in its tests,
// the static checks that keep it in step with functions/manifest.yaml and go.mod: the google
// provider cannot be downloaded in every environment, so `terraform validate` cannot be the
// only guard. The package has no Go code besides the tests.
package infra
