package testenv_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/testing/testenv"
)

func TestProjectsAreIsolated(t *testing.T) {
	p1, p2 := testenv.Project(t), testenv.Project(t)
	if p1 == p2 {
		t.Fatalf("two Projects are both %q", p1)
	}
	for _, p := range []string{p1, p2} {
		if len(p) > 30 || p[0] < 'a' || p[0] > 'z' || strings.ToLower(p) != p {
			t.Errorf("Project() = %q: want lower case, at most 30 chars, starting with a letter", p)
		}
	}
	c1, c2 := testenv.Firestore(t, p1), testenv.Firestore(t, p2)
	if _, err := c1.Doc("things/a").Set(t.Context(), map[string]any{"owner": p1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Doc("things/a").Get(t.Context()); status.Code(err) != codes.NotFound {
		t.Errorf("project %s reads project %s's document: err = %v, want NotFound", p2, p1, err)
	}
	snap, err := c1.Doc("things/a").Get(t.Context())
	if err != nil || snap.Data()["owner"] != p1 {
		t.Errorf("own document: %v, %v", snap.Data(), err)
	}
}

func TestPubSubPublishReceive(t *testing.T) {
	project := testenv.Project(t)
	c := testenv.PubSub(t, project)
	topic, err := c.TopicAdminClient.CreateTopic(t.Context(), &pubsubpb.Topic{Name: "projects/" + project + "/topics/events"})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := c.SubscriptionAdminClient.CreateSubscription(t.Context(), &pubsubpb.Subscription{
		Name:  "projects/" + project + "/subscriptions/events-test",
		Topic: topic.GetName(),
	})
	if err != nil {
		t.Fatal(err)
	}
	pub := c.Publisher(topic.GetName())
	defer pub.Stop()
	if _, err := pub.Publish(t.Context(), &pubsub.Message{Data: []byte("hello")}).Get(t.Context()); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var got string
	err = c.Subscriber(sub.GetName()).Receive(ctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		got = string(m.Data)
		cancel()
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if got != "hello" {
		t.Errorf("received %q, want %q", got, "hello")
	}
}

func TestKMSKey(t *testing.T) {
	project := testenv.Project(t)
	k1, k2 := testenv.KMSKey(t, project), testenv.KMSKey(t, project)
	prefix := "projects/" + project + "/locations/global/keyRings/"
	if !strings.HasPrefix(k1, prefix) || k1 == k2 {
		t.Errorf("KMSKey = %q, %q: want two distinct keys under %s", k1, k2, prefix)
	}
}

// fatalTB records Fatalf instead of ending the test, to check that Require fails.
type fatalTB struct {
	testing.TB
	msg string
}

type fatal struct{}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(fatal{}) // like t.Fatalf, stop the caller
}

func TestRequireFailsWithoutEmulators(t *testing.T) {
	t.Setenv("PUBSUB_EMULATOR_HOST", "")
	f := &fatalTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != (fatal{}) {
				panic(r)
			}
		}()
		testenv.Require(f)
	}()
	if !strings.Contains(f.msg, "PUBSUB_EMULATOR_HOST") || !strings.Contains(f.msg, "make test") {
		t.Errorf("Require without PUBSUB_EMULATOR_HOST: Fatalf(%q), want a failure naming it and `make test`", f.msg)
	}
}

func TestRequireRecordsTest(t *testing.T) {
	report := filepath.Join(t.TempDir(), "report")
	if err := os.WriteFile(report, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TOK_TEST_REPORT", report)
	testenv.Require(t)
	testenv.Require(t)
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	want := wd + " " + t.Name() + "\n"
	if string(data) != want+want {
		t.Errorf("report = %q, want %q twice", data, want)
	}
}
