package berlingroup

import (
	"fmt"

	"tokapi.io/tok/shared/bankcatalog"
)

// FromCatalogue builds the connector of a configured catalogue bank; the client ID, secret
// and QWAC are read through secrets on the first call. opts may adjust the config (timeouts,
// logger) before the client is built.
func FromCatalogue(b bankcatalog.Bank, secrets Secrets, opts ...func(*Config)) (*Client, error) {
	if !b.Configured || b.Standard != "berlin-group" {
		return nil, fmt.Errorf("berlingroup: bank %s is not a configured Berlin Group bank", b.ID)
	}
	cfg := Config{
		BankID:             b.ID,
		BaseURL:            b.Connector.BaseURL,
		AuthorizeURL:       b.Connector.AuthorizeURL,
		TokenURL:           b.Connector.TokenURL,
		ClientIDSecret:     b.Connector.ClientIDSecret,
		ClientSecretSecret: b.Connector.ClientSecretSecret,
		QWACSecret:         b.Connector.QWACSecret,
		PaymentProducts:    b.PaymentProducts,
		FrequencyPerDay:    b.Limits.FrequencyPerDay,
		MaxConsentDays:     b.Limits.MaxConsentDays,
		StandingOrders:     b.Environment == bankcatalog.EnvSandbox,
		BulkPayments:       b.Environment == bankcatalog.EnvSandbox,
		VRP:                b.Services.VRP,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return New(cfg, secrets)
}
