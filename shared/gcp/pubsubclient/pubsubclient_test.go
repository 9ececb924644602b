package pubsubclient

import (
	"context"
	"errors"
	"testing"

	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/testing/testenv"
)

func TestAnd(t *testing.T) {
	ctx := context.Background()
	env := platform.NewEnvFrom(platform.Config{GCP: gcp.Config{ProjectID: testenv.Project(t)}})
	made := 0
	dep := func(context.Context, *platform.Env, struct{}) (string, error) { made++; return "service", nil }
	build := platform.With(And(dep), func(p Publishing[string]) Publishing[string] { return p })
	p, err := build(ctx, env)
	if err != nil || p.Dep != "service" || made != 1 {
		t.Fatalf("build: %+v, %v, dependency made %d times", p, err, made)
	}
	// The client handed over is the instance's own, not one more.
	ps, err := Get(ctx, env.Clients)
	if err != nil || p.PubSub != ps {
		t.Fatalf("Pub/Sub client %p, the instance's %p (%v)", p.PubSub, ps, err)
	}

	// A dependency that fails fails the build, and the handler is never made.
	boom := errors.New("no KMS key")
	failing := func(context.Context, *platform.Env, struct{}) (string, error) { return "", boom }
	called := false
	if _, err := platform.With(And(failing), func(Publishing[string]) int { called = true; return 0 })(ctx, env); !errors.Is(err, boom) || called {
		t.Fatalf("failing dependency: %v, handler made %v", err, called)
	}
}
