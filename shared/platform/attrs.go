package platform

import (
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"
)

func logAttrs(e event.Event) []slog.Attr {
	return []slog.Attr{slog.String("eventId", e.ID()), slog.String("eventType", e.Type())}
}
