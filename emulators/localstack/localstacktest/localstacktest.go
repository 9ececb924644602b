// Package localstacktest starts the whole local stack (every function as its own process
// behind the gateway, as make dev runs it) for a test, on the emulators that withemulators
// starts. Only tests import it.
package localstacktest

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"tokapi.io/tok/emulators/localstack"
	"tokapi.io/tok/shared/manifest"
	"tokapi.io/tok/shared/testing/testenv"
)

// Start builds the functions binary (once for the tests that run the stack at the same time),
// starts the stack on a fresh project with its logs in a temporary directory, and stops it
// when the test ends.
func Start(t testing.TB) *localstack.Stack {
	t.Helper()
	project := testenv.Project(t)
	m, root, err := manifest.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	binary := functionsBinary(ctx, t, root, m)
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st, err := localstack.Start(ctx, m, localstack.Options{
		Root: root, Project: project, Listener: ln, LogDir: t.TempDir(), Binary: binary,
		FirestoreHost: os.Getenv("FIRESTORE_EMULATOR_HOST"), PubSubHost: os.Getenv("PUBSUB_EMULATOR_HOST"),
		KMSAddr: testenv.KMSEndpoint(t),
	})
	if err != nil {
		_ = ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(st.Stop)
	// Cleanups run last first: a function that ended on its own before the stop fails the
	// test with its log, which goes with the temporary directory.
	t.Cleanup(func() {
		select {
		case err := <-st.Exited:
			t.Errorf("the stack lost a function: %v", err)
		default:
		}
	})
	return st
}

// built is the functions binary, shared by the tests of this test binary that use it at the
// same time and removed when the last of them ends.
var built struct {
	sync.Mutex
	dir   string
	users int
}

func functionsBinary(ctx context.Context, t testing.TB, root string, m *manifest.Manifest) string {
	t.Helper()
	built.Lock()
	defer built.Unlock()
	if built.users == 0 {
		dir, err := os.MkdirTemp("", "localstacktest-")
		if err != nil {
			t.Fatal(err)
		}
		if err := localstack.Build(ctx, root, m, filepath.Join(dir, "tokfunctions")); err != nil {
			_ = os.RemoveAll(dir)
			t.Fatal(err)
		}
		built.dir = dir
	}
	built.users++
	t.Cleanup(func() {
		built.Lock()
		defer built.Unlock()
		if built.users--; built.users == 0 {
			_ = os.RemoveAll(built.dir)
		}
	})
	return filepath.Join(built.dir, "tokfunctions")
}
