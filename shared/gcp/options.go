// Package gcp creates the official Google Cloud clients once per instance, on first use,
// pointed at the local emulators when their endpoints are configured.
package gcp

import (
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// EmulatorOptions returns the client options that point an official gRPC client at a local
// emulator (plaintext, no credentials). With an empty endpoint it returns nil, so the client
// uses the real service and Application Default Credentials.
func EmulatorOptions(endpoint string) []option.ClientOption {
	if endpoint == "" {
		return nil
	}
	return []option.ClientOption{
		option.WithEndpoint(endpoint),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}
