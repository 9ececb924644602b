package connections

import (
	"fmt"
	"sync"

	"tokapi.io/tok/shared/bank"
	"tokapi.io/tok/shared/bank/berlingroup"
	"tokapi.io/tok/shared/bankcatalog"
)

// Connectors builds the bank.Connector of each catalogue bank once and caches it. Client
// IDs, secrets and QWACs are read through Secrets (Secret Manager) on the first bank call.
type Connectors struct {
	Catalogue *bankcatalog.Catalogue
	Secrets   berlingroup.Secrets
	// Configure adjusts each connector's configuration (tests: transports, clocks).
	Configure func(*berlingroup.Config)

	mu    sync.Mutex
	cache map[string]bank.Connector
	// Override replaces the connector of a bank (tests).
	Override map[string]bank.Connector
}

// NewConnectors returns the factory for catalogue, reading secrets through secrets.
func NewConnectors(catalogue *bankcatalog.Catalogue, secrets berlingroup.Secrets) *Connectors {
	return &Connectors{Catalogue: catalogue, Secrets: secrets}
}

// ErrUnknownBank reports a bank the catalogue does not hold in the environment, or one
// without a configured connector.
var ErrUnknownBank = fmt.Errorf("connections: unknown or unconfigured bank")

// Bank returns the catalogue entry of a bank in env.
func (c *Connectors) Bank(env, bankID string) (bankcatalog.Bank, error) {
	b, ok := c.Catalogue.Get(env, bankID)
	if !ok || !b.Configured {
		return bankcatalog.Bank{}, fmt.Errorf("bank %q in %s: %w", bankID, env, ErrUnknownBank)
	}
	return b, nil
}

// For returns the connector of a bank in env.
func (c *Connectors) For(env, bankID string) (bank.Connector, error) {
	b, err := c.Bank(env, bankID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if conn, ok := c.Override[b.ID]; ok {
		return conn, nil
	}
	key := env + "/" + b.ID
	if conn, ok := c.cache[key]; ok {
		return conn, nil
	}
	if b.Standard != bankcatalog.StandardBerlinGroup {
		return nil, fmt.Errorf("bank %s speaks %s, for which Tok has no connector: %w", b.ID, b.Standard, ErrUnknownBank)
	}
	cfg := berlingroup.Config{
		BankID: b.ID, BaseURL: b.Connector.BaseURL, AuthorizeURL: b.Connector.AuthorizeURL, TokenURL: b.Connector.TokenURL,
		ClientIDSecret: b.Connector.ClientIDSecret, ClientSecretSecret: b.Connector.ClientSecretSecret, QWACSecret: b.Connector.QWACSecret,
		PaymentProducts: b.PaymentProducts, FrequencyPerDay: b.Limits.FrequencyPerDay, MaxConsentDays: b.Limits.MaxConsentDays,
	}
	if c.Configure != nil {
		c.Configure(&cfg)
	}
	conn, err := berlingroup.New(cfg, c.Secrets)
	if err != nil {
		return nil, fmt.Errorf("connector for %s: %w", b.ID, err)
	}
	if c.cache == nil {
		c.cache = map[string]bank.Connector{}
	}
	c.cache[key] = conn
	return conn, nil
}
