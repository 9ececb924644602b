// Package kotlin_test compiles the Kotlin SDK with Debian's kotlinc, then runs its JUnit
// tests and its quickstart example against the local stack that sdks/sdktest prepares.
package kotlin_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tokapi.io/tok/sdks/sdktest"
)

// The Debian packages' jars (kotlin, libgoogle-gson-java, junit4), installed by make test's setup.
var (
	libs    = []string{"/usr/share/java/gson.jar"}
	testLib = []string{"/usr/share/java/junit4.jar", "/usr/share/java/hamcrest-core.jar"}
	stdlib  = "/usr/share/java/kotlin-stdlib.jar"
)

func TestKotlinSDK(t *testing.T) {
	for _, f := range append(append([]string{stdlib}, libs...), testLib...) {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%v: run make test (scripts/setup/setup.sh installs kotlin, libgoogle-gson-java, junit4)", err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	classes := t.TempDir()
	// Compile while the stack starts: both take tens of seconds.
	compiled := make(chan error, 1)
	go func() { compiled <- compile(ctx, classes) }()
	env := sdktest.Start(t)
	if err := <-compiled; err != nil {
		t.Fatal(err)
	}
	cp := strings.Join(append(append([]string{classes, stdlib}, libs...), testLib...), string(os.PathListSeparator))

	out, err := java(ctx, env.Vars(), cp, "org.junit.runner.JUnitCore", "io.tokapi.sdk.TokClientTest")
	t.Logf("JUnit:\n%s", out)
	if err != nil {
		t.Fatalf("JUnit: %v", err)
	}

	out, err = java(ctx, append(env.Vars(), "TOK_API_KEY="+env.APIKey, "TOK_API_URL="+env.APIURL), cp, "io.tokapi.sdk.examples.QuickstartKt")
	if err != nil || !strings.Contains(out, "account acc_") || !strings.Contains(out, "transaction txn_") {
		t.Fatalf("quickstart example: %v\n%s", err, out)
	}
}

// compile builds the SDK, its tests and its examples with one kotlinc run.
func compile(ctx context.Context, classes string) error {
	start := time.Now()
	cmd := exec.CommandContext(ctx, "kotlinc", "-nowarn", "-cp", strings.Join(append(libs, testLib...), string(os.PathListSeparator)),
		"-d", classes, filepath.Join("src", "main", "kotlin"), filepath.Join("src", "test", "kotlin"), "examples")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("kotlinc: %w\n%s", err, out)
	}
	fmt.Printf("kotlinc: SDK, tests and examples compiled in %s\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

func java(ctx context.Context, env []string, cp string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "java", append([]string{"-cp", cp}, args...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}
