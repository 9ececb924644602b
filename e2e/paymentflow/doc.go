// Package paymentflow holds the in-process tests of the payment story across functions:
// payments, consents and callback against the sandbox bank, on the emulators. Function
// packages never import each other, so tests that compose several live under e2e/; the
// package has no code of its own.
package paymentflow
