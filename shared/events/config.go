package events

// Config names the topic a function publishes its domain events to.
type Config struct {
	// Topic receives domain events for the webhooks and the event log.
	Topic string `env:"TOK_EVENTS_TOPIC, default=tok-events"`
}
