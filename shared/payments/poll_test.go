package payments

import (
	"testing"

	"tokapi.io/tok/shared/events"
	"tokapi.io/tok/shared/ids"
)

func TestDecodePollRequest(t *testing.T) {
	org, pay := ids.New(ids.Organisation), ids.New(ids.Payment)
	attrs := map[string]string{events.AttrEnv: "sandbox", events.AttrOrg: org}
	body := []byte(`{"env":"sandbox","orgId":"` + org + `","paymentId":"` + pay + `"}`)
	if req, named, err := DecodePollRequest(events.PubSubMessage{Data: body, Attributes: attrs}); err != nil || !named || req.PaymentID != pay {
		t.Errorf("a poll request: %+v %v %v", req, named, err)
	}
	if _, named, err := DecodePollRequest(events.PubSubMessage{Data: []byte("{}")}); err != nil || named {
		t.Errorf("the scheduler's tick: %v %v", named, err)
	}
	for name, m := range map[string]events.PubSubMessage{
		"attributes of another tenant": {Data: body, Attributes: map[string]string{events.AttrEnv: "live", events.AttrOrg: org}},
		"no attributes":                {Data: body},
		"not a payment ID":             {Data: []byte(`{"env":"sandbox","orgId":"` + org + `","paymentId":"con_1"}`), Attributes: attrs},
		"not JSON":                     {Data: []byte("tick")},
	} {
		if _, _, err := DecodePollRequest(m); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
