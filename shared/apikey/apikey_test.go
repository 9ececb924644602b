package apikey

import (
	"strings"
	"testing"

	"tokapi.io/tok/shared/tenant"
)

func TestNewParsesAndIsRandom(t *testing.T) {
	seen := map[string]bool{}
	for _, env := range []string{tenant.Live, tenant.Sandbox} {
		for range 200 {
			k, err := New(env)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(k)
			if err != nil || got != env {
				t.Fatalf("Parse(%q) = %q, %v; want %q", k, got, err, env)
			}
			if seen[k] {
				t.Fatalf("duplicate key %q", k)
			}
			seen[k] = true
		}
	}
}

func TestFromHeader(t *testing.T) {
	live, _ := New(tenant.Live)
	sandbox, _ := New(tenant.Sandbox)
	ok := []struct{ header, env string }{
		{"ApiKey " + live, tenant.Live},
		{"apikey " + sandbox, tenant.Sandbox},
		{"APIKEY  " + live, tenant.Live},
	}
	for _, c := range ok {
		if _, env, err := FromHeader(c.header); err != nil || env != c.env {
			t.Errorf("FromHeader(%q) = %q, %v", c.header, env, err)
		}
	}
	bad := []string{"", "ApiKey", "ApiKey ", "Bearer " + live, live, "ApiKey " + strings.ToUpper(live),
		"ApiKey " + live + "x", "ApiKey " + live[:len(live)-1], "ApiKey tok_test_" + live[9:], "ApiKey " + live + " ",
		"ApiKey " + strings.Replace(live, live[len(live)-1:], "u", 1)}
	for _, h := range bad {
		if _, _, err := FromHeader(h); err == nil {
			t.Errorf("FromHeader(%q) accepted a bad header", h)
		}
	}
}

func TestHashIsKeyedAndMaskHidesKey(t *testing.T) {
	k, _ := New(tenant.Live)
	if Hash([]byte("a"), k) == Hash([]byte("b"), k) {
		t.Fatal("hash ignores the pepper")
	}
	if !Equal(Hash([]byte("a"), k), Hash([]byte("a"), k)) {
		t.Fatal("hash is not deterministic")
	}
	m := Mask(k)
	if !strings.HasPrefix(m, LivePrefix) || !strings.HasSuffix(m, k[len(k)-4:]) || strings.Contains(m, k[9:30]) {
		t.Fatalf("Mask(%q) = %q", k, m)
	}
}

func FuzzFromHeader(f *testing.F) {
	live, _ := New(tenant.Live)
	f.Add("ApiKey " + live)
	f.Add("Bearer x")
	f.Add("ApiKey tok_sandbox_")
	f.Fuzz(func(t *testing.T, header string) {
		key, env, err := FromHeader(header)
		if err != nil {
			return
		}
		// Whatever is accepted is a well-formed key of the environment it names.
		if got, err := Parse(key); err != nil || got != env {
			t.Fatalf("accepted %q but Parse(%q) = %q, %v", header, key, got, err)
		}
		if !strings.Contains(header, key) {
			t.Fatalf("key %q not taken from header %q", key, header)
		}
	})
}

func FuzzParse(f *testing.F) {
	k, _ := New(tenant.Sandbox)
	f.Add(k)
	f.Add("tok_live_")
	f.Fuzz(func(t *testing.T, key string) {
		env, err := Parse(key)
		if err != nil {
			return
		}
		prefix, _ := prefixFor(env)
		if len(key) != len(prefix)+secretLen || !strings.HasPrefix(key, prefix) {
			t.Fatalf("accepted %q", key)
		}
	})
}
