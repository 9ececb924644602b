package events

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"tokapi.io/tok/shared/tenant"
)

// pushed wraps a Pub/Sub message as Eventarc delivers it.
func pushed(t *testing.T, data []byte, attrs map[string]string) event.Event {
	t.Helper()
	e := event.New()
	e.SetID("1")
	e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	e.SetSource("//pubsub.googleapis.com/projects/p/topics/tok-events")
	body, _ := json.Marshal(map[string]any{"message": map[string]any{"data": data, "attributes": attrs, "messageId": "m1"}})
	if err := e.SetData("application/json", body); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDomain(t *testing.T) {
	ev, err := New("consent.authorized", map[string]string{"consentId": "con_1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(ev)
	attrs := map[string]string{AttrType: ev.Type, AttrEnv: tenant.Sandbox, AttrOrg: "org_A"}

	var got []Event
	var gotTenant tenant.Tenant
	boom := errors.New("store down")
	fail := false
	h := Domain(func(_ context.Context, tn tenant.Tenant, e Event) error {
		if fail {
			return boom
		}
		got, gotTenant = append(got, e), tn
		return nil
	})
	if err := h(context.Background(), pushed(t, body, attrs)); err != nil || len(got) != 1 || got[0].ID != ev.ID ||
		gotTenant != (tenant.Tenant{Env: tenant.Sandbox, OrgID: "org_A"}) || string(got[0].Data) != `{"consentId":"con_1"}` {
		t.Fatalf("valid event: %v %+v %+v", err, got, gotTenant)
	}
	// Messages that can never be handled are acknowledged without calling the handler.
	for name, e := range map[string]event.Event{
		"no tenant":    pushed(t, body, map[string]string{AttrType: ev.Type}),
		"bad env":      pushed(t, body, map[string]string{AttrEnv: "prod", AttrOrg: "org_A"}),
		"not an event": pushed(t, []byte(`{"hello":1}`), attrs),
		"not JSON":     pushed(t, []byte(`garbage`), attrs),
	} {
		if err := h(context.Background(), e); err != nil || len(got) != 1 {
			t.Errorf("%s: err %v, handled %d", name, err, len(got))
		}
	}
	// The handler's own failure is returned, so Pub/Sub redelivers.
	fail = true
	if err := h(context.Background(), pushed(t, body, attrs)); !errors.Is(err, boom) {
		t.Fatalf("handler error not returned: %v", err)
	}
}

func TestLogEntry(t *testing.T) {
	ev, err := New("consent.authorized", map[string]string{"consentId": "con_1"}, time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	l := ev.Logged()
	if l.ID != ev.ID || l.Data != `{"consentId":"con_1"}` || !l.ExpireAt.Equal(ev.CreatedAt.Add(LogRetention)) {
		t.Fatalf("logged %+v", l)
	}
	if back := l.Event(); back.ID != ev.ID || back.Type != ev.Type || !back.CreatedAt.Equal(ev.CreatedAt) || string(back.Data) != string(ev.Data) {
		t.Fatalf("read back %+v, want %+v", back, ev)
	}
	// An entry whose data is not JSON still reads as an event, with empty data.
	l.Data = "not json"
	if got := string(l.Event().Data); got != "{}" {
		t.Fatalf("data %q, want {}", got)
	}
}
