package localstack_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"tokapi.io/tok/emulators/localstack"
	"tokapi.io/tok/shared/manifest"
	"tokapi.io/tok/shared/testing/apitest"
)

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// routeKey names an operation by method and path with its parameters unnamed: the spec says
// /consents/{consentId} where the router says /v1/consents/{id}.
func routeKey(method, path string) string {
	return method + " " + pathParam.ReplaceAllString(path, "{}")
}

// servedRoutesAreTheSpec compares, both ways, the routes the functions' routers really serve
// (each handler built by the functions binary as on its first request) with the spec's
// operations, and checks that the load balancer's routes in the manifest send each served
// path to the function serving it. Functions outside /v1 (the sandbox bank) are no part of
// the API: they must be public and own no /v1 route.
func servedRoutesAreTheSpec(ctx context.Context, t *testing.T, st *localstack.Stack) {
	m, _, err := manifest.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	routes, err := st.Routes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := apitest.Spec(t)
	spec := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			spec[routeKey(method, "/v1"+path)] = true
		}
	}
	served := map[string]string{}
	for _, f := range m.Functions {
		if f.Kind != manifest.KindHTTP {
			continue
		}
		if !slices.ContainsFunc(f.Routes, func(r string) bool { return strings.HasPrefix(r, "/v1/") }) {
			if !f.Public {
				t.Errorf("%s serves no /v1 route, so it is outside the API, but is not public", f.Name)
			}
			continue
		}
		patterns, registered := routes[f.EntryPoint]
		if !registered {
			t.Errorf("%s: entry point %s is not registered with platform.HTTP", f.Name, f.EntryPoint)
			continue
		}
		if patterns == nil {
			t.Errorf("%s: its handler does not list its routes (serve them with an httpapi.Router)", f.Name)
			continue
		}
		for _, p := range patterns {
			method, path, ok := strings.Cut(p, " ")
			if !ok || !strings.HasPrefix(path, "/v1/") {
				t.Errorf("%s: pattern %q is not METHOD /v1/...", f.Name, p)
				continue
			}
			key := routeKey(method, path)
			if other, dup := served[key]; dup {
				t.Errorf("%s is served by both %s and %s", key, other, f.Name)
			}
			served[key] = f.Name
			if owner, ok := m.Route(pathParam.ReplaceAllString(path, "x1")); !ok || owner.Name != f.Name {
				t.Errorf("%s: %s serves %s, but the manifest routes that path to %q", f.Name, f.Name, p, owner.Name)
			}
		}
	}
	var notServed, notInSpec []string
	for k := range spec {
		if served[k] == "" {
			notServed = append(notServed, k)
		}
	}
	for k, f := range served {
		if !spec[k] {
			notInSpec = append(notInSpec, k+" ("+f+")")
		}
	}
	slices.Sort(notServed)
	slices.Sort(notInSpec)
	if len(notServed) > 0 {
		t.Errorf("operations in api/openapi.yaml that no function serves:\n  %s", strings.Join(notServed, "\n  "))
	}
	if len(notInSpec) > 0 {
		t.Errorf("routes served that api/openapi.yaml does not declare:\n  %s", strings.Join(notInSpec, "\n  "))
	}
	if len(served) < 30 {
		t.Errorf("only %d routes served: the route table is incomplete", len(served))
	}
}
