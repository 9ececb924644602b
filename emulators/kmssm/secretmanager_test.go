package kmssm_test

import (
	"context"
	"hash/crc32"
	"testing"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
)

func crc(b []byte) int64 { return int64(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))) }

func TestSecrets(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, startEmulator(t), secretmanager.NewClient)
	auto := &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}}

	sec, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{
		Parent: "projects/p1", SecretId: "api-key-pepper", Secret: &secretmanagerpb.Secret{Replication: auto},
	})
	if err != nil {
		t.Fatal(err)
	}
	if sec.GetName() != "projects/p1/secrets/api-key-pepper" {
		t.Fatalf("secret name %q", sec.GetName())
	}
	_, err = c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{
		Parent: "projects/p1", SecretId: "api-key-pepper", Secret: &secretmanagerpb.Secret{Replication: auto},
	})
	wantCode(t, err, codes.AlreadyExists)
	_, err = c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/p1", SecretId: "norepl", Secret: &secretmanagerpb.Secret{}})
	wantCode(t, err, codes.InvalidArgument)
	if _, err := c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: sec.GetName()}); err != nil {
		t.Fatal(err)
	}

	add := func(data string) *secretmanagerpb.SecretVersion {
		t.Helper()
		sum := crc([]byte(data))
		v, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
			Parent: sec.GetName(), Payload: &secretmanagerpb.SecretPayload{Data: []byte(data), DataCrc32C: &sum},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !v.GetClientSpecifiedPayloadChecksum() {
			t.Fatal("client_specified_payload_checksum not set")
		}
		return v
	}
	access := func(name string) (string, error) {
		r, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name})
		if err != nil {
			return "", err
		}
		if r.GetPayload().DataCrc32C == nil || r.GetPayload().GetDataCrc32C() != crc(r.GetPayload().GetData()) {
			t.Fatalf("access %s: bad data_crc32c", name)
		}
		return string(r.GetPayload().GetData()), nil
	}

	v1, v2 := add("one"), add("two")
	if v1.GetName() != sec.GetName()+"/versions/1" || v2.GetName() != sec.GetName()+"/versions/2" {
		t.Fatalf("version names %q %q", v1.GetName(), v2.GetName())
	}
	latest := sec.GetName() + "/versions/latest"
	if got, err := access(latest); err != nil || got != "two" {
		t.Fatalf("latest = %q, %v", got, err)
	}
	if got, err := access(v1.GetName()); err != nil || got != "one" {
		t.Fatalf("v1 = %q, %v", got, err)
	}

	if _, err := c.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: v2.GetName()}); err != nil {
		t.Fatal(err)
	}
	_, err = access(v2.GetName())
	wantCode(t, err, codes.FailedPrecondition)
	if got, err := access(latest); err != nil || got != "one" {
		t.Fatalf("latest with newest disabled = %q, %v; want the newest enabled", got, err)
	}
	gv, err := c.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: v2.GetName()})
	if err != nil || gv.GetState() != secretmanagerpb.SecretVersion_DISABLED {
		t.Fatalf("GetSecretVersion = %v, %v", gv, err)
	}
	if _, err := c.EnableSecretVersion(ctx, &secretmanagerpb.EnableSecretVersionRequest{Name: v2.GetName()}); err != nil {
		t.Fatal(err)
	}
	if got, err := access(latest); err != nil || got != "two" {
		t.Fatalf("latest after enable = %q, %v", got, err)
	}

	var listed []string
	for _, v := range drain(t, c.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: sec.GetName(), PageSize: 1}).Next) {
		listed = append(listed, v.GetName())
	}
	if len(listed) != 2 || listed[0] != v2.GetName() || listed[1] != v1.GetName() {
		t.Fatalf("listed %v, want newest first", listed)
	}

	if _, err := c.DestroySecretVersion(ctx, &secretmanagerpb.DestroySecretVersionRequest{Name: v2.GetName()}); err != nil {
		t.Fatal(err)
	}
	_, err = access(v2.GetName())
	wantCode(t, err, codes.FailedPrecondition)
	_, err = c.EnableSecretVersion(ctx, &secretmanagerpb.EnableSecretVersionRequest{Name: v2.GetName()})
	wantCode(t, err, codes.FailedPrecondition)
	if got, err := access(latest); err != nil || got != "one" {
		t.Fatalf("latest after destroy = %q, %v", got, err)
	}

	bad := int64(1)
	_, err = c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
		Parent: sec.GetName(), Payload: &secretmanagerpb.SecretPayload{Data: []byte("x"), DataCrc32C: &bad},
	})
	wantCode(t, err, codes.InvalidArgument)

	_, err = access("projects/p1/secrets/missing/versions/latest")
	wantCode(t, err, codes.NotFound)
	_, err = access(sec.GetName() + "/versions/9")
	wantCode(t, err, codes.NotFound)
	_, err = c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: "projects/p1/secrets/missing"})
	wantCode(t, err, codes.NotFound)
	_, err = c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
		Parent: "projects/p1/secrets/missing", Payload: &secretmanagerpb.SecretPayload{Data: []byte("x")},
	})
	wantCode(t, err, codes.NotFound)
}
