// Package secretstest is an in-memory secret store for tests. Only tests import it.
package secretstest

import (
	"context"
	"io"
)

// Map holds secrets by ID. Get fails (with io.EOF) for an ID it does not hold.
type Map map[string]string

// Get returns the secret id.
func (m Map) Get(_ context.Context, id string) ([]byte, error) {
	v, ok := m[id]
	if !ok {
		return nil, io.EOF
	}
	return []byte(v), nil
}
