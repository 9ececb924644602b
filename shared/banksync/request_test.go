package banksync

import (
	"testing"

	"tokapi.io/tok/shared/events"
)

func TestDecodeRequestChecksTheTenantAttributes(t *testing.T) {
	body := []byte(`{"env":"sandbox","orgId":"org_01hzy0000000000000000000aa","connectionId":"cxn_1","attended":true}`)
	attrs := map[string]string{events.AttrEnv: "sandbox", events.AttrOrg: "org_01hzy0000000000000000000aa"}
	req, err := DecodeRequest(events.PubSubMessage{Data: body, Attributes: attrs})
	if err != nil || !req.Attended || req.ConnectionID != "cxn_1" || req.Tenant().OrgID != "org_01hzy0000000000000000000aa" {
		t.Fatalf("valid request: %+v %v", req, err)
	}
	for name, m := range map[string]events.PubSubMessage{
		"no attributes":  {Data: body},
		"other org":      {Data: body, Attributes: map[string]string{events.AttrEnv: "sandbox", events.AttrOrg: "org_01hzy0000000000000000000bb"}},
		"other env":      {Data: body, Attributes: map[string]string{events.AttrEnv: "live", events.AttrOrg: "org_01hzy0000000000000000000aa"}},
		"no connection":  {Data: []byte(`{"env":"sandbox","orgId":"org_01hzy0000000000000000000aa"}`), Attributes: attrs},
		"not JSON":       {Data: []byte(`sync please`), Attributes: attrs},
		"invalid tenant": {Data: []byte(`{"env":"prod","orgId":"x","connectionId":"cxn_1"}`), Attributes: map[string]string{events.AttrEnv: "prod", events.AttrOrg: "x"}},
	} {
		if _, err := DecodeRequest(m); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
