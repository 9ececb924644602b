package payments

import (
	"cloud.google.com/go/firestore"

	"tokapi.io/tok/shared/store"
)

// VRPConsents is the collection of VRP consents under the tenant (shared/vrp). A consent
// counts what its payments hold: UsageField.{counter}.minor per period of each periodic
// limit, and OccurrencesField.
const (
	VRPConsents      = "vrpConsents"
	UsageField       = "usage"
	OccurrencesField = "occurrences"
)

// Reservation is what a VRP payment holds of its consent's limits, taken in the transaction
// that created it: Minor units in each of Counters, and one occurrence. A payment that ends
// REJECTED, FAILED or CANCELLED gives it back in the transaction of that change, once
// (Released); a completed or still unknown payment keeps it.
type Reservation struct {
	Minor    int64    `firestore:"minor"`
	Counters []string `firestore:"counters"`
	Released bool     `firestore:"released"`
}

// releases returns the writes that give p's reservation back, and marks it released, when
// p has just ended without paying; nil otherwise.
func (p *Payment) releases() []firestore.Update {
	r := p.Reservation
	if r == nil || r.Released || p.VRPConsentID == "" || (p.Status != StatusRejected && p.Status != StatusFailed && p.Status != StatusCancelled) {
		return nil
	}
	r.Released = true
	ups := []firestore.Update{{Path: OccurrencesField, Value: firestore.Increment(-1)}}
	for _, c := range r.Counters {
		ups = append(ups, firestore.Update{FieldPath: firestore.FieldPath{UsageField, c, "minor"}, Value: firestore.Increment(-r.Minor)})
	}
	return ups
}

// releaseIn adds the release of p's reservation (if due) to tx.
func releaseIn(tx *firestore.Transaction, scope store.Scope, p *Payment) error {
	if ups := p.releases(); ups != nil {
		return tx.Update(scope.Collection(VRPConsents).Doc(p.VRPConsentID), ups)
	}
	return nil
}
