package envelope

// Config names the Cloud KMS key that wraps Tok's data keys: of bank tokens, OAuth state and
// webhook signing secrets.
type Config struct {
	// Key is the crypto key's resource name (projects/…/locations/…/keyRings/…/cryptoKeys/…).
	Key string `env:"TOK_KMS_KEY"`
}
