// Package gcp creates the official Google Cloud clients once per instance, on first use,
// pointed at the local emulators when their endpoints are configured.
package gcp

import (
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// ClientOptions are the options of every client an instance makes: those of EmulatorOptions
// for endpoint, and no OpenTelemetry instrumentation. Tok exports no traces or metrics, so
// the clients' default stats handler would only feed no-op providers, on every call and,
// first, on an instance's first request.
func ClientOptions(endpoint string) []option.ClientOption {
	return append(EmulatorOptions(endpoint), option.WithTelemetryDisabled())
}

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
