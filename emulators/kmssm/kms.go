package kmssm

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// maxKMSData is Cloud KMS's limit on plaintext and additional authenticated data.
const maxKMSData = 64 * 1024

// ciphertextHeader is the version number prefix of every ciphertext: like real KMS, a ciphertext
// says which key version made it, so Decrypt needs only the key name and survives rotation.
const ciphertextHeader = 4

type kmsService struct {
	kmspb.UnimplementedKeyManagementServiceServer
	now func() time.Time

	mu    sync.Mutex
	rings map[string]*kmspb.KeyRing
	keys  map[string]*cryptoKey
}

type cryptoKey struct {
	pb       *kmspb.CryptoKey // without Primary, which is derived from primary
	versions []*keyVersion    // versions[i] is version i+1
	primary  int              // 0 when the key has no primary
}

type keyVersion struct {
	pb  *kmspb.CryptoKeyVersion
	aes cipher.AEAD
}

func (k *cryptoKey) proto() *kmspb.CryptoKey {
	out := proto.CloneOf(k.pb)
	if k.primary > 0 {
		out.Primary = proto.CloneOf(k.versions[k.primary-1].pb)
	}
	return out
}

func (k *cryptoKey) addVersion(now time.Time) (*keyVersion, error) {
	material := make([]byte, 32)
	if _, err := rand.Read(material); err != nil {
		return nil, status.Errorf(codes.Internal, "generate key material: %v", err)
	}
	block, err := aes.NewCipher(material)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "aes: %v", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "gcm: %v", err)
	}
	n := len(k.versions) + 1
	v := &keyVersion{
		pb: &kmspb.CryptoKeyVersion{
			Name:            fmt.Sprintf("%s/cryptoKeyVersions/%d", k.pb.GetName(), n),
			State:           kmspb.CryptoKeyVersion_ENABLED,
			ProtectionLevel: kmspb.ProtectionLevel_SOFTWARE,
			Algorithm:       kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION,
			CreateTime:      timestamppb.New(now),
			GenerateTime:    timestamppb.New(now),
		},
		aes: gcm,
	}
	k.versions = append(k.versions, v)
	return v, nil
}

// version returns version n of the key, NotFound if it does not exist.
func (k *cryptoKey) version(n int) (*keyVersion, error) {
	if n < 1 || n > len(k.versions) {
		return nil, status.Errorf(codes.NotFound, "%s/cryptoKeyVersions/%d not found", k.pb.GetName(), n)
	}
	return k.versions[n-1], nil
}

// usable fails with FailedPrecondition unless the version may encrypt and decrypt.
func (v *keyVersion) usable() error {
	if st := v.pb.GetState(); st != kmspb.CryptoKeyVersion_ENABLED {
		return status.Errorf(codes.FailedPrecondition, "%s is not enabled, current state is: %s", v.pb.GetName(), st)
	}
	return nil
}

// splitVersionName splits ".../cryptoKeys/K/cryptoKeyVersions/N" into the key name and N.
func splitVersionName(name string) (string, int, error) {
	key, num, ok := strings.Cut(name, "/cryptoKeyVersions/")
	if !ok {
		return "", 0, status.Errorf(codes.InvalidArgument, "invalid crypto key version name %q", name)
	}
	n, err := versionNumber(num, name, "crypto key version")
	return key, n, err
}

// parseRingParent checks "projects/P/locations/L".
func parseRingParent(parent string) error {
	p := strings.Split(parent, "/")
	if len(p) != 4 || p[0] != "projects" || p[2] != "locations" || p[1] == "" || p[3] == "" {
		return status.Errorf(codes.InvalidArgument, "invalid parent %q: want projects/*/locations/*", parent)
	}
	return nil
}

// key returns the crypto key by full name. The caller holds s.mu.
func (s *kmsService) key(name string) (*cryptoKey, error) {
	return byName(s.keys, name, "%s not found")
}

// version resolves ".../cryptoKeys/K/cryptoKeyVersions/N". The caller holds s.mu.
func (s *kmsService) version(name string) (*keyVersion, error) {
	keyName, n, err := splitVersionName(name)
	if err != nil {
		return nil, err
	}
	k, err := s.key(keyName)
	if err != nil {
		return nil, err
	}
	return k.version(n)
}

func (s *kmsService) CreateKeyRing(_ context.Context, req *kmspb.CreateKeyRingRequest) (*kmspb.KeyRing, error) {
	if err := parseRingParent(req.GetParent()); err != nil {
		return nil, err
	}
	if !idPattern.MatchString(req.GetKeyRingId()) {
		return nil, status.Errorf(codes.InvalidArgument, "invalid key_ring_id %q", req.GetKeyRingId())
	}
	name := req.GetParent() + "/keyRings/" + req.GetKeyRingId()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rings[name]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "%s already exists", name)
	}
	ring := &kmspb.KeyRing{Name: name, CreateTime: timestamppb.New(s.now())}
	s.rings[name] = ring
	return proto.CloneOf(ring), nil
}

func (s *kmsService) GetKeyRing(_ context.Context, req *kmspb.GetKeyRingRequest) (*kmspb.KeyRing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ring, err := byName(s.rings, req.GetName(), "%s not found")
	if err != nil {
		return nil, err
	}
	return proto.CloneOf(ring), nil
}

func (s *kmsService) CreateCryptoKey(_ context.Context, req *kmspb.CreateCryptoKeyRequest) (*kmspb.CryptoKey, error) {
	in := req.GetCryptoKey()
	if !idPattern.MatchString(req.GetCryptoKeyId()) {
		return nil, status.Errorf(codes.InvalidArgument, "invalid crypto_key_id %q", req.GetCryptoKeyId())
	}
	if in.GetPurpose() != kmspb.CryptoKey_ENCRYPT_DECRYPT {
		return nil, status.Errorf(codes.InvalidArgument, "emulator supports only purpose ENCRYPT_DECRYPT, got %s", in.GetPurpose())
	}
	if alg := in.GetVersionTemplate().GetAlgorithm(); alg != kmspb.CryptoKeyVersion_CRYPTO_KEY_VERSION_ALGORITHM_UNSPECIFIED &&
		alg != kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION {
		return nil, status.Errorf(codes.InvalidArgument, "emulator supports only GOOGLE_SYMMETRIC_ENCRYPTION, got %s", alg)
	}
	// Real KMS requires both rotation fields together and a period of at least one day.
	if (in.GetRotationPeriod() == nil) != (in.GetNextRotationTime() == nil) {
		return nil, status.Error(codes.InvalidArgument, "rotation_period and next_rotation_time must be set together")
	}
	if p := in.GetRotationPeriod(); p != nil && p.AsDuration() < 24*time.Hour {
		return nil, status.Errorf(codes.InvalidArgument, "rotation_period %s is shorter than one day", p.AsDuration())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rings[req.GetParent()]; !ok {
		return nil, status.Errorf(codes.NotFound, "%s not found", req.GetParent())
	}
	name := req.GetParent() + "/cryptoKeys/" + req.GetCryptoKeyId()
	if _, ok := s.keys[name]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "%s already exists", name)
	}
	now := s.now()
	k := &cryptoKey{pb: &kmspb.CryptoKey{
		Name:             name,
		Purpose:          kmspb.CryptoKey_ENCRYPT_DECRYPT,
		CreateTime:       timestamppb.New(now),
		NextRotationTime: in.GetNextRotationTime(),
		Labels:           in.GetLabels(),
		VersionTemplate: &kmspb.CryptoKeyVersionTemplate{
			ProtectionLevel: kmspb.ProtectionLevel_SOFTWARE,
			Algorithm:       kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION,
		},
	}}
	if p := in.GetRotationPeriod(); p != nil {
		k.pb.RotationSchedule = &kmspb.CryptoKey_RotationPeriod{RotationPeriod: p}
	}
	if !req.GetSkipInitialVersionCreation() {
		if _, err := k.addVersion(now); err != nil {
			return nil, err
		}
		k.primary = 1
	}
	s.keys[name] = k
	return k.proto(), nil
}

func (s *kmsService) GetCryptoKey(_ context.Context, req *kmspb.GetCryptoKeyRequest) (*kmspb.CryptoKey, error) {
	return lookup(&s.mu, s.key, req.GetName(), (*cryptoKey).proto)
}

func (s *kmsService) CreateCryptoKeyVersion(_ context.Context, req *kmspb.CreateCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.key(req.GetParent())
	if err != nil {
		return nil, err
	}
	// As in real KMS, a new version does not become primary until UpdateCryptoKeyPrimaryVersion.
	v, err := k.addVersion(s.now())
	if err != nil {
		return nil, err
	}
	return proto.CloneOf(v.pb), nil
}

func (s *kmsService) GetCryptoKeyVersion(_ context.Context, req *kmspb.GetCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	return lookup(&s.mu, s.version, req.GetName(), func(v *keyVersion) *kmspb.CryptoKeyVersion { return v.pb })
}

func (s *kmsService) ListCryptoKeyVersions(_ context.Context, req *kmspb.ListCryptoKeyVersionsRequest) (*kmspb.ListCryptoKeyVersionsResponse, error) {
	if req.GetFilter() != "" || req.GetOrderBy() != "" {
		return nil, status.Error(codes.InvalidArgument, "emulator does not support filter or order_by")
	}
	page, total, next, err := versionsPage(&s.mu, s.key, req.GetParent(), req.GetPageToken(), req.GetPageSize(),
		func(k *cryptoKey) []*kmspb.CryptoKeyVersion {
			out := make([]*kmspb.CryptoKeyVersion, len(k.versions))
			for i, v := range k.versions {
				out[i] = v.pb
			}
			return out
		})
	if err != nil {
		return nil, err
	}
	return &kmspb.ListCryptoKeyVersionsResponse{CryptoKeyVersions: page, TotalSize: total, NextPageToken: next}, nil
}

func (s *kmsService) UpdateCryptoKeyPrimaryVersion(_ context.Context, req *kmspb.UpdateCryptoKeyPrimaryVersionRequest) (*kmspb.CryptoKey, error) {
	n, err := strconv.Atoi(req.GetCryptoKeyVersionId())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid crypto_key_version_id %q", req.GetCryptoKeyVersionId())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.key(req.GetName())
	if err != nil {
		return nil, err
	}
	v, err := k.version(n)
	if err != nil {
		return nil, err
	}
	if err := v.usable(); err != nil {
		return nil, err
	}
	k.primary = n
	return k.proto(), nil
}

// changeableVersion resolves a version that is ENABLED or DISABLED, the only states a
// version leaves by an update or a destruction. The caller holds s.mu.
func (s *kmsService) changeableVersion(name string) (*keyVersion, error) {
	v, err := s.version(name)
	if err != nil {
		return nil, err
	}
	if cur := v.pb.GetState(); cur != kmspb.CryptoKeyVersion_ENABLED && cur != kmspb.CryptoKeyVersion_DISABLED {
		return nil, status.Errorf(codes.FailedPrecondition, "%s is %s and cannot change state", v.pb.GetName(), cur)
	}
	return v, nil
}

// UpdateCryptoKeyVersion changes only the state, between ENABLED and DISABLED, as real KMS allows.
func (s *kmsService) UpdateCryptoKeyVersion(_ context.Context, req *kmspb.UpdateCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) != 1 || paths[0] != "state" {
		return nil, status.Errorf(codes.InvalidArgument, "emulator supports update_mask [state] only, got %v", paths)
	}
	in := req.GetCryptoKeyVersion()
	if st := in.GetState(); st != kmspb.CryptoKeyVersion_ENABLED && st != kmspb.CryptoKeyVersion_DISABLED {
		return nil, status.Errorf(codes.InvalidArgument, "state can only be set to ENABLED or DISABLED, got %s", st)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.changeableVersion(in.GetName())
	if err != nil {
		return nil, err
	}
	v.pb.State = in.GetState()
	return proto.CloneOf(v.pb), nil
}

// DestroyCryptoKeyVersion schedules destruction; the version can no longer be used, as in real KMS.
func (s *kmsService) DestroyCryptoKeyVersion(_ context.Context, req *kmspb.DestroyCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.changeableVersion(req.GetName())
	if err != nil {
		return nil, err
	}
	now := s.now()
	v.pb.State = kmspb.CryptoKeyVersion_DESTROY_SCHEDULED
	v.pb.DestroyTime = timestamppb.New(now.Add(30 * 24 * time.Hour))
	return proto.CloneOf(v.pb), nil
}

// checkCRC verifies an optional request checksum, returning whether one was given.
func checkCRC(field string, data []byte, want *wrapperspb.Int64Value) (bool, error) {
	if want == nil {
		return false, nil
	}
	if crc32c(data) != want.GetValue() {
		return false, status.Errorf(codes.InvalidArgument, "the checksum in field %s did not match the data in field %s",
			field+"_crc32c", field)
	}
	return true, nil
}

func (s *kmsService) Encrypt(_ context.Context, req *kmspb.EncryptRequest) (*kmspb.EncryptResponse, error) {
	if len(req.GetPlaintext()) > maxKMSData || len(req.GetAdditionalAuthenticatedData()) > maxKMSData {
		return nil, status.Errorf(codes.InvalidArgument, "plaintext and additional_authenticated_data are limited to %d bytes", maxKMSData)
	}
	verifiedPT, err := checkCRC("plaintext", req.GetPlaintext(), req.GetPlaintextCrc32C())
	if err != nil {
		return nil, err
	}
	verifiedAAD, err := checkCRC("additional_authenticated_data", req.GetAdditionalAuthenticatedData(),
		req.GetAdditionalAuthenticatedDataCrc32C())
	if err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	keyName, n := req.GetName(), 0
	if strings.Contains(keyName, "/cryptoKeyVersions/") {
		if keyName, n, err = splitVersionName(keyName); err != nil {
			return nil, err
		}
	}
	k, err := s.key(keyName)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		if k.primary == 0 {
			return nil, status.Errorf(codes.FailedPrecondition, "%s has no primary version", keyName)
		}
		n = k.primary
	}
	v, err := k.version(n)
	if err != nil {
		return nil, err
	}
	if err := v.usable(); err != nil {
		return nil, err
	}

	nonce := make([]byte, v.aes.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, status.Errorf(codes.Internal, "nonce: %v", err)
	}
	out := make([]byte, ciphertextHeader, ciphertextHeader+len(nonce)+len(req.GetPlaintext())+v.aes.Overhead())
	binary.BigEndian.PutUint32(out, uint32(n)) // #nosec G115 -- n is a positive version count
	ad := gcmAD(out, req.GetAdditionalAuthenticatedData())
	out = v.aes.Seal(append(out, nonce...), nonce, req.GetPlaintext(), ad)
	return &kmspb.EncryptResponse{
		Name:                    v.pb.GetName(),
		Ciphertext:              out,
		CiphertextCrc32C:        wrapperspb.Int64(crc32c(out)),
		VerifiedPlaintextCrc32C: verifiedPT,
		VerifiedAdditionalAuthenticatedDataCrc32C: verifiedAAD,
		ProtectionLevel: v.pb.GetProtectionLevel(),
	}, nil
}

func (s *kmsService) Decrypt(_ context.Context, req *kmspb.DecryptRequest) (*kmspb.DecryptResponse, error) {
	if _, err := checkCRC("ciphertext", req.GetCiphertext(), req.GetCiphertextCrc32C()); err != nil {
		return nil, err
	}
	if _, err := checkCRC("additional_authenticated_data", req.GetAdditionalAuthenticatedData(),
		req.GetAdditionalAuthenticatedDataCrc32C()); err != nil {
		return nil, err
	}
	if strings.Contains(req.GetName(), "/cryptoKeyVersions/") {
		return nil, status.Errorf(codes.InvalidArgument, "Decrypt takes a crypto key name, not a version: %q", req.GetName())
	}
	ct := req.GetCiphertext()
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.key(req.GetName())
	if err != nil {
		return nil, err
	}
	errCorrupt := status.Error(codes.InvalidArgument, "Decryption failed: the ciphertext is invalid.")
	if len(ct) < ciphertextHeader {
		return nil, errCorrupt
	}
	n := binary.BigEndian.Uint32(ct)
	if n < 1 || int64(n) > int64(len(k.versions)) {
		return nil, errCorrupt
	}
	v := k.versions[n-1]
	if err := v.usable(); err != nil {
		return nil, err
	}
	nonceSize := v.aes.NonceSize()
	if len(ct) < ciphertextHeader+nonceSize+v.aes.Overhead() {
		return nil, errCorrupt
	}
	ad := gcmAD(ct[:ciphertextHeader], req.GetAdditionalAuthenticatedData())
	pt, err := v.aes.Open(nil, ct[ciphertextHeader:ciphertextHeader+nonceSize], ct[ciphertextHeader+nonceSize:], ad)
	if err != nil {
		return nil, errCorrupt
	}
	return &kmspb.DecryptResponse{
		Plaintext:       pt,
		PlaintextCrc32C: wrapperspb.Int64(crc32c(pt)),
		UsedPrimary:     int(n) == k.primary,
		ProtectionLevel: v.pb.GetProtectionLevel(),
	}, nil
}

// gcmAD binds the version header to the caller's associated data, so a ciphertext cannot be
// relabelled with another version number.
func gcmAD(header, aad []byte) []byte {
	ad := make([]byte, 0, len(header)+len(aad))
	return append(append(ad, header...), aad...)
}
