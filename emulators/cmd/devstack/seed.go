package main

import (
	"context"
	"os"

	"tokapi.io/tok/emulators/localstack"
	"tokapi.io/tok/shared/orgs"
)

// seedDemo creates the demo organisation on the pro tier and returns its admin keys as
// dev.env lines.
func seedDemo(ctx context.Context, st *localstack.Stack, firestoreHost string) ([]string, error) {
	if err := os.Setenv("FIRESTORE_EMULATOR_HOST", firestoreHost); err != nil {
		return nil, err
	}
	org, keys, err := st.CreateOrg(ctx, "Demo Organisation", orgs.TierPro, []string{"https://app.example.com"})
	if err != nil {
		return nil, err
	}
	return []string{
		"TOK_ORG_ID=" + org.ID,
		"TOK_LIVE_KEY=" + keys.LiveKey,
		"TOK_SANDBOX_KEY=" + keys.SandboxKey,
	}, nil
}
