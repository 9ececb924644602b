// Package ids makes Tok's resource IDs: a type prefix, an underscore and 26 Crockford base32
// characters encoding 128 bits ("txn_0F3Z..."). Random IDs are deliberately not time-ordered,
// so high-volume collections do not hotspot in Firestore; derived IDs let a re-sync upsert
// the same document.
package ids

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"strings"
)

// Prefixes of Tok's resource types.
const (
	Account       = "acc"
	APIKey        = "key"
	Consent       = "con"
	Delivery      = "dlv"
	Event         = "evt"
	Member        = "mem"
	Organisation  = "org"
	Payment       = "pay"
	Refund        = "rfd"
	RefundBatch   = "rfb"
	Request       = "req"
	StandingOrder = "so"
	Transaction   = "txn"
	VRPConsent    = "vrc"
	Webhook       = "whk"
)

// alphabet is Crockford's base32: no I, L, O or U, so IDs survive being read aloud or retyped.
const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// bodyLen is the length of the encoded part: 26 characters hold 130 bits, so the first
// character of a 128-bit value is always 0-7 (as in ULIDs).
const bodyLen = 26

// New returns a new random ID with the given prefix.
func New(prefix string) string {
	var b [16]byte
	// crypto/rand.Read never returns an error since Go 1.24: it crashes the program instead.
	_, _ = rand.Read(b[:])
	return prefix + "_" + encode(b)
}

// Derive returns an ID that is a function of prefix and parts, for documents that must keep
// their ID across re-syncs, e.g. Derive(ids.Transaction, accountID, bankTransactionID).
// Each part is hashed with its length, so ("ab", "c") and ("a", "bc") give different IDs;
// the prefix is hashed too, so different types never share an ID body.
func Derive(prefix string, parts ...string) string {
	h := sha256.New()
	for _, p := range append([]string{prefix}, parts...) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	var b [16]byte
	copy(b[:], h.Sum(nil))
	return prefix + "_" + encode(b)
}

// Valid reports whether id is exactly prefix, '_' and 26 upper-case Crockford characters
// encoding 128 bits. It is the check for IDs taken from a request before any lookup.
func Valid(prefix, id string) bool {
	body, ok := strings.CutPrefix(id, prefix+"_")
	if prefix == "" || !ok || len(body) != bodyLen || body[0] > '7' {
		return false
	}
	for i := 0; i < len(body); i++ {
		if strings.IndexByte(alphabet, body[i]) < 0 {
			return false
		}
	}
	return true
}

// encode writes 128 bits as 26 base32 characters, most significant first, with the two
// spare high bits zero.
func encode(b [16]byte) string {
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [bodyLen]byte
	for i := bodyLen - 1; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
