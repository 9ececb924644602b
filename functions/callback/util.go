package callback

import (
	"context"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tokapi.io/tok/shared/connections"
	"tokapi.io/tok/shared/logging"
)

func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }

func slogWith(ctx context.Context, c connections.Consent) context.Context {
	return logging.With(ctx, slog.String("consentId", c.ID), slog.String("bankId", c.BankID), slog.String("orgId", c.OrgID))
}
