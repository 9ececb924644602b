package bankcatalog

// LoadBanks is Load for a catalogue of the tests' own.
func LoadBanks(banks []Bank, sandboxBankURL string) (*Catalogue, error) {
	return loadBanks(banks, sandboxBankURL)
}
