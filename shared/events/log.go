package events

import (
	"encoding/json"
	"time"
)

// LogCollection is the tenant collection of the event log: functions/eventlog records every
// domain event in it, functions/events serves them.
const LogCollection = "events"

// LogRetention is how long the log keeps an event. A Firestore TTL policy on ExpireAt
// deletes older entries; until it does, readers show none older.
const LogRetention = 30 * 24 * time.Hour

// LogEntry is an event log entry as stored.
type LogEntry struct {
	ID        string    `firestore:"id"`
	Type      string    `firestore:"type"`
	CreatedAt time.Time `firestore:"createdAt"`
	Data      string    `firestore:"data"`
	ExpireAt  time.Time `firestore:"expireAt"`
}

// Logged is e as the log stores it.
func (e Event) Logged() LogEntry {
	return LogEntry{ID: e.ID, Type: e.Type, CreatedAt: e.CreatedAt, Data: string(e.Data), ExpireAt: e.CreatedAt.Add(LogRetention)}
}

// Event is the logged event; data that is not JSON reads as {}.
func (l LogEntry) Event() Event {
	data := json.RawMessage(l.Data)
	if !json.Valid(data) {
		data = json.RawMessage("{}")
	}
	return Event{ID: l.ID, Type: l.Type, CreatedAt: l.CreatedAt, Data: data}
}
