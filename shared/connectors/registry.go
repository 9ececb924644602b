// Package connectors is the registry of bank connectors: it builds the bank.Connector of
// each catalogue bank once, with its credentials from Secret Manager, and it is the one
// place where the failures of bank calls become API errors (APIError).
package connectors

import (
	"fmt"
	"sync"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/bank/berlingroup"
	"tokapi.io/tok/shared/bankcatalog"
)

// Registry builds the bank.Connector of each catalogue bank once and caches it. Client
// IDs, secrets and QWACs are read through Secrets (Secret Manager) on the first bank call.
type Registry struct {
	Catalogue *bankcatalog.Catalogue
	Secrets   berlingroup.Secrets
	// Configure adjusts each connector's configuration (tests: transports, clocks).
	Configure func(*berlingroup.Config)

	mu    sync.Mutex
	cache map[string]bank.Connector
}

// New returns the registry of catalogue, reading secrets through secrets.
func New(catalogue *bankcatalog.Catalogue, secrets berlingroup.Secrets) *Registry {
	return &Registry{Catalogue: catalogue, Secrets: secrets}
}

// ErrUnknownBank reports a bank the catalogue does not hold in the environment, or one
// without a configured connector.
var ErrUnknownBank = fmt.Errorf("connectors: unknown or unconfigured bank")

// Bank returns the catalogue entry of a bank in env.
func (r *Registry) Bank(env, bankID string) (bankcatalog.Bank, error) {
	b, ok := r.Catalogue.Get(env, bankID)
	if !ok || !b.Configured {
		return bankcatalog.Bank{}, fmt.Errorf("bank %q in %s: %w", bankID, env, ErrUnknownBank)
	}
	return b, nil
}

// For returns the connector of a bank in env.
func (r *Registry) For(env, bankID string) (bank.Connector, error) {
	b, err := r.Bank(env, bankID)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := env + "/" + b.ID
	if conn, ok := r.cache[key]; ok {
		return conn, nil
	}
	if b.Standard != bankcatalog.StandardBerlinGroup {
		return nil, fmt.Errorf("bank %s speaks %s, for which Tok has no connector: %w", b.ID, b.Standard, ErrUnknownBank)
	}
	var opts []func(*berlingroup.Config)
	if r.Configure != nil {
		opts = append(opts, r.Configure)
	}
	conn, err := berlingroup.FromCatalogue(b, r.Secrets, opts...)
	if err != nil {
		return nil, fmt.Errorf("connector for %s: %w", b.ID, err)
	}
	if r.cache == nil {
		r.cache = map[string]bank.Connector{}
	}
	r.cache[key] = conn
	return conn, nil
}
