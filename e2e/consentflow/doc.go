// Package consentflow holds the in-process tests of the consent story across functions:
// consents, callback, accounts and consentexpiry against the sandbox bank, on the
// emulators. Function packages never import each other (the layout test in scripts/stage
// enforces it), so tests that compose several functions live under e2e/; the package has
// no code of its own. functions/consents/e2e_test.go runs the same story through the local
// stack's processes.
package consentflow
