package manifest

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultManifestLoads(t *testing.T) {
	m, _, err := LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Functions) == 0 {
		t.Fatal("no functions")
	}
}

const sample = `
runtime: go126
topics: [{name: t}]
functions:
  - {name: banks, entryPoint: Banks, kind: http, routes: ["/v1/banks", "/v1/banks/*"]}
  - {name: accounts, entryPoint: Accounts, kind: http, routes: ["/v1/accounts/*"]}
  - {name: spec, entryPoint: Spec, kind: http, routes: ["/v1/openapi.yaml"]}
  - {name: worker, entryPoint: Worker, kind: event, trigger: t}
`

func TestRoute(t *testing.T) {
	m, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"/v1/banks":        "banks",
		"/v1/banks/erste":  "banks",
		"/v1/banks/a/b":    "banks",
		"/v1/accounts/acc": "accounts",
		"/v1/bankss":       "",
		"/v1/accounts":     "",
		"/v1/openapi.yaml": "spec",
		"/v1/openapi.json": "",
		"/":                "",
	}
	for path, want := range cases {
		f, ok := m.Route(path)
		if (want == "") == ok || f.Name != want {
			t.Errorf("Route(%q) = %q, %v; want %q", path, f.Name, ok, want)
		}
	}
}

func TestDefaultHTTP(t *testing.T) {
	m, err := Parse([]byte(sample + "  - {name: aaa, entryPoint: Aaa, kind: http, public: true, routes: [\"/aaa\"]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := m.DefaultHTTP(); !ok || f.Name != "accounts" {
		t.Errorf("DefaultHTTP() = %q, %v; want accounts, the first authenticated HTTP function", f.Name, ok)
	}
}

func TestParseRejects(t *testing.T) {
	cases := map[string]string{
		"unknown field":    "runtime: go126\nfunctions: [{name: a1, entryPoint: A, kind: http, routes: [/v1/a], colour: red}]",
		"bad kind":         "runtime: go126\nfunctions: [{name: a1, entryPoint: A, kind: cron}]",
		"missing topic":    "runtime: go126\nfunctions: [{name: a1, entryPoint: A, kind: event, trigger: nope}]",
		"duplicate route":  "runtime: go126\nfunctions: [{name: a1, entryPoint: A, kind: http, routes: [/v1/a]}, {name: b1, entryPoint: B, kind: http, routes: [/v1/a]}]",
		"duplicate entry":  "runtime: go126\nfunctions: [{name: a1, entryPoint: A, kind: http, routes: [/v1/a]}, {name: b1, entryPoint: A, kind: http, routes: [/v1/b]}]",
		"bad name":         "runtime: go126\nfunctions: [{name: A-1, entryPoint: A, kind: http, routes: [/v1/a]}]",
		"http no routes":   "runtime: go126\nfunctions: [{name: a1, entryPoint: A, kind: http}]",
		"not a go runtime": "runtime: python312\nfunctions: []",
		"odd schedule":     "runtime: go126\ntopics: [{name: t, schedule: \"0 3 * * 1\"}]\nfunctions: []",
		"dot segment":      "runtime: go126\nfunctions: [{name: a1, entryPoint: A, kind: http, routes: [/v1/../a]}]",
		"upper case":       "runtime: go126\nfunctions: [{name: a1, entryPoint: A, kind: http, routes: [/v1/A]}]",
	}
	for name, src := range cases {
		if _, err := Parse([]byte(src)); err == nil || !strings.Contains(err.Error(), "manifest") {
			t.Errorf("%s: accepted or unclear error: %v", name, err)
		}
	}
}

func TestTopicInterval(t *testing.T) {
	for schedule, want := range map[string]time.Duration{"* * * * *": time.Minute, "*/10 * * * *": 10 * time.Minute, "*/15 * * * *": 15 * time.Minute} {
		if got, ok := (Topic{Schedule: schedule}).Interval(); !ok || got != want {
			t.Errorf("%q: %v %v", schedule, got, ok)
		}
	}
	for _, bad := range []string{"", "0 * * * *", "*/0 * * * *", "*/5 * * * 1"} {
		if _, ok := (Topic{Schedule: bad}).Interval(); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}
