package localstack

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"tokapi.io/tok/shared/gcp"
	"tokapi.io/tok/shared/orgs"
	"tokapi.io/tok/shared/platform"
)

// CreateOrg creates an organisation with its first, admin key pair in the stack's project,
// as tokctl does. The calling process must have FIRESTORE_EMULATOR_HOST pointing at the
// stack's Firestore emulator.
func (st *Stack) CreateOrg(ctx context.Context, name, tier string, origins []string) (orgs.Org, orgs.NewKeyPair, error) {
	sc, err := secretmanager.NewClient(ctx, gcp.EmulatorOptions(st.kmsAddr)...)
	if err != nil {
		return orgs.Org{}, orgs.NewKeyPair{}, err
	}
	defer func() { _ = sc.Close() }()
	v, err := sc.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{
		Name: "projects/" + st.project + "/secrets/" + platform.PepperSecret + "/versions/latest",
	})
	if err != nil {
		return orgs.Org{}, orgs.NewKeyPair{}, fmt.Errorf("read the API key pepper: %w", err)
	}
	fs, err := firestore.NewClient(ctx, st.project)
	if err != nil {
		return orgs.Org{}, orgs.NewKeyPair{}, err
	}
	defer func() { _ = fs.Close() }()
	return orgs.New(fs, v.GetPayload().GetData()).CreateOrg(ctx, name, tier, origins)
}
