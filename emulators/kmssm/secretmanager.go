package kmssm

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// maxSecretData is Secret Manager's limit on a version's payload.
const maxSecretData = 64 * 1024

type smService struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer
	now func() time.Time

	mu      sync.Mutex
	secrets map[string]*secret
}

type secret struct {
	pb       *secretmanagerpb.Secret
	versions []*secretVersion // versions[i] is version i+1
}

type secretVersion struct {
	pb   *secretmanagerpb.SecretVersion
	data []byte
}

// secret returns the secret by full name. The caller holds s.mu.
func (s *smService) secret(name string) (*secret, error) {
	return byName(s.secrets, name, "Secret [%s] not found or has no versions.")
}

// version resolves "projects/P/secrets/S/versions/N" or ".../versions/latest". The caller holds s.mu.
func (s *smService) version(name string) (*secretVersion, error) {
	secretName, id, ok := strings.Cut(name, "/versions/")
	if !ok {
		return nil, status.Errorf(codes.InvalidArgument, "invalid secret version name %q", name)
	}
	sec, err := s.secret(secretName)
	if err != nil {
		return nil, err
	}
	if id == "latest" {
		// Tok relies on "latest" meaning the newest ENABLED version, so disabling a bad
		// rotation falls back to the previous value.
		for i := len(sec.versions) - 1; i >= 0; i-- {
			if sec.versions[i].pb.GetState() == secretmanagerpb.SecretVersion_ENABLED {
				return sec.versions[i], nil
			}
		}
		return nil, status.Errorf(codes.NotFound, "Secret [%s] has no enabled versions.", secretName)
	}
	n, err := versionNumber(id, name, "secret version")
	if err != nil {
		return nil, err
	}
	if n > len(sec.versions) {
		return nil, status.Errorf(codes.NotFound, "Secret Version [%s] not found.", name)
	}
	return sec.versions[n-1], nil
}

func (s *smService) CreateSecret(_ context.Context, req *secretmanagerpb.CreateSecretRequest) (*secretmanagerpb.Secret, error) {
	p := strings.Split(req.GetParent(), "/")
	if len(p) != 2 || p[0] != "projects" || p[1] == "" {
		return nil, status.Errorf(codes.InvalidArgument, "invalid parent %q: want projects/*", req.GetParent())
	}
	if !secretIDPattern.MatchString(req.GetSecretId()) {
		return nil, status.Errorf(codes.InvalidArgument, "invalid secret_id %q", req.GetSecretId())
	}
	// Real Secret Manager rejects a global secret without a replication policy.
	if req.GetSecret().GetReplication() == nil {
		return nil, status.Error(codes.InvalidArgument, "secret.replication is required")
	}
	name := req.GetParent() + "/secrets/" + req.GetSecretId()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.secrets[name]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Secret [%s] already exists.", name)
	}
	pb := &secretmanagerpb.Secret{
		Name:        name,
		Replication: req.GetSecret().GetReplication(),
		CreateTime:  timestamppb.New(s.now()),
		Labels:      req.GetSecret().GetLabels(),
		Etag:        `"1"`,
	}
	s.secrets[name] = &secret{pb: pb}
	return proto.CloneOf(pb), nil
}

func (s *smService) GetSecret(_ context.Context, req *secretmanagerpb.GetSecretRequest) (*secretmanagerpb.Secret, error) {
	return lookup(&s.mu, s.secret, req.GetName(), func(sec *secret) *secretmanagerpb.Secret { return sec.pb })
}

func (s *smService) AddSecretVersion(_ context.Context, req *secretmanagerpb.AddSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	payload := req.GetPayload()
	if len(payload.GetData()) > maxSecretData {
		return nil, status.Errorf(codes.InvalidArgument, "payload is limited to %d bytes", maxSecretData)
	}
	if payload.DataCrc32C != nil && payload.GetDataCrc32C() != crc32c(payload.GetData()) {
		return nil, status.Error(codes.InvalidArgument, "Checksum mismatch: data_crc32c does not match the payload data.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.secret(req.GetParent())
	if err != nil {
		return nil, err
	}
	v := &secretVersion{
		pb: &secretmanagerpb.SecretVersion{
			Name:                           fmt.Sprintf("%s/versions/%d", sec.pb.GetName(), len(sec.versions)+1),
			CreateTime:                     timestamppb.New(s.now()),
			State:                          secretmanagerpb.SecretVersion_ENABLED,
			Etag:                           `"1"`,
			ClientSpecifiedPayloadChecksum: payload.DataCrc32C != nil,
		},
		data: append([]byte(nil), payload.GetData()...),
	}
	sec.versions = append(sec.versions, v)
	return proto.CloneOf(v.pb), nil
}

func (s *smService) GetSecretVersion(_ context.Context, req *secretmanagerpb.GetSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return lookup(&s.mu, s.version, req.GetName(), func(v *secretVersion) *secretmanagerpb.SecretVersion { return v.pb })
}

func (s *smService) AccessSecretVersion(_ context.Context, req *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.version(req.GetName())
	if err != nil {
		return nil, err
	}
	if st := v.pb.GetState(); st != secretmanagerpb.SecretVersion_ENABLED {
		return nil, status.Errorf(codes.FailedPrecondition, "Secret Version [%s] is in %s state.", v.pb.GetName(), st)
	}
	data := append([]byte(nil), v.data...)
	crc := crc32c(data)
	return &secretmanagerpb.AccessSecretVersionResponse{
		Name:    v.pb.GetName(),
		Payload: &secretmanagerpb.SecretPayload{Data: data, DataCrc32C: &crc},
	}, nil
}

func (s *smService) ListSecretVersions(_ context.Context, req *secretmanagerpb.ListSecretVersionsRequest) (*secretmanagerpb.ListSecretVersionsResponse, error) {
	if req.GetFilter() != "" {
		return nil, status.Error(codes.InvalidArgument, "emulator does not support filter")
	}
	page, total, next, err := versionsPage(&s.mu, s.secret, req.GetParent(), req.GetPageToken(), req.GetPageSize(),
		func(sec *secret) []*secretmanagerpb.SecretVersion {
			// Real Secret Manager lists the newest version first.
			out := make([]*secretmanagerpb.SecretVersion, len(sec.versions))
			for i, v := range sec.versions {
				out[len(out)-1-i] = v.pb
			}
			return out
		})
	if err != nil {
		return nil, err
	}
	return &secretmanagerpb.ListSecretVersionsResponse{Versions: page, TotalSize: total, NextPageToken: next}, nil
}

// setState moves a version to state; a destroyed version can never change again.
func (s *smService) setState(name string, state secretmanagerpb.SecretVersion_State) (*secretmanagerpb.SecretVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.version(name)
	if err != nil {
		return nil, err
	}
	if v.pb.GetState() == secretmanagerpb.SecretVersion_DESTROYED {
		return nil, status.Errorf(codes.FailedPrecondition, "Secret Version [%s] is destroyed.", v.pb.GetName())
	}
	v.pb.State = state
	if state == secretmanagerpb.SecretVersion_DESTROYED {
		clear(v.data)
		v.data = nil
		v.pb.DestroyTime = timestamppb.New(s.now())
	}
	return proto.CloneOf(v.pb), nil
}

func (s *smService) DisableSecretVersion(_ context.Context, req *secretmanagerpb.DisableSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return s.setState(req.GetName(), secretmanagerpb.SecretVersion_DISABLED)
}

func (s *smService) EnableSecretVersion(_ context.Context, req *secretmanagerpb.EnableSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return s.setState(req.GetName(), secretmanagerpb.SecretVersion_ENABLED)
}

func (s *smService) DestroySecretVersion(_ context.Context, req *secretmanagerpb.DestroySecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return s.setState(req.GetName(), secretmanagerpb.SecretVersion_DESTROYED)
}
