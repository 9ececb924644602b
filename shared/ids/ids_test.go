package ids

import (
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"
)

var allPrefixes = []string{Account, APIKey, Consent, Delivery, Event, Member, Organisation, Payment, Refund, RefundBatch, Request, StandingOrder, Transaction, Webhook}

func TestPrefixes(t *testing.T) {
	want := "acc key con dlv evt mem org pay rfd rfb req so txn whk"
	if got := strings.Join(allPrefixes, " "); got != want {
		t.Errorf("prefixes = %q, want %q", got, want)
	}
}

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	firsts := map[byte]bool{}
	for i := 0; i < 2000; i++ {
		id := New(Transaction)
		if !Valid(Transaction, id) {
			t.Fatalf("New gave invalid ID %q", id)
		}
		if seen[id] {
			t.Fatalf("New repeated %q", id)
		}
		seen[id] = true
		firsts[id[len("txn_")]] = true
	}
	// Time-ordered IDs would share their leading characters; random ones spread over all 8
	// possible first characters.
	if len(firsts) != 8 {
		t.Errorf("first characters of 2000 IDs cover %d of 8 values", len(firsts))
	}
}

// TestEncodeMatchesULID checks the encoding against an independent implementation of the
// same 128-bit Crockford layout.
func TestEncodeMatchesULID(t *testing.T) {
	cases := [][16]byte{{}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	for i := 0; i < 100; i++ {
		sum := sha256.Sum256([]byte{byte(i)})
		var b [16]byte
		copy(b[:], sum[:])
		cases = append(cases, b)
	}
	for _, b := range cases {
		if got, want := encode(b), ulid.ULID(b).String(); got != want {
			t.Errorf("encode(%x) = %s, want %s", b, got, want)
		}
	}
	if got := encode([16]byte{}); got != strings.Repeat("0", 26) {
		t.Errorf("encode(zero) = %s", got)
	}
}

func TestDerive(t *testing.T) {
	a := Derive(Transaction, "acc_1", "BANK-TXN-123456")
	if a != Derive(Transaction, "acc_1", "BANK-TXN-123456") {
		t.Fatal("Derive is not deterministic")
	}
	if !Valid(Transaction, a) {
		t.Fatalf("Derive gave invalid ID %q", a)
	}
	distinct := []string{
		a,
		Derive(Transaction, "acc_1", "BANK-TXN-123457"),
		Derive(Transaction, "acc_2", "BANK-TXN-123456"),
		Derive(Transaction, "ab", "c"),
		Derive(Transaction, "a", "bc"),
		Derive(Transaction, "abc"),
		Derive(Transaction, "abc", ""),
		Derive(Transaction),
		Derive(Transaction, ""),
	}
	seen := map[string]int{}
	for i, id := range distinct {
		if j, dup := seen[id]; dup {
			t.Errorf("inputs %d and %d derive the same ID %s", j, i, id)
		}
		seen[id] = i
	}
	if p, q := Derive(Transaction, "x")[4:], Derive(Payment, "x")[4:]; p == q {
		t.Error("different prefixes share an ID body")
	}
}

// TestDeriveIsStable pins the derivation: stored transaction IDs depend on it, and a change
// would duplicate every transaction on the next sync.
func TestDeriveIsStable(t *testing.T) {
	if got, want := Derive(Transaction, "acc_1", "BANK-TXN-123456"), "txn_"+expectedDerive("txn", "acc_1", "BANK-TXN-123456"); got != want {
		t.Errorf("Derive = %s, want %s", got, want)
	}
	if got, want := Derive(Transaction, "acc_1", "BANK-TXN-123456"), "txn_32EEEX4ENBXHRZBHN6VF1Q847E"; got != want {
		t.Errorf("Derive = %s, want the recorded %s", got, want)
	}
}

// expectedDerive restates the documented derivation: SHA-256 over each of prefix and parts
// as an 8-byte big-endian length and its bytes, first 16 bytes, as a ULID-style string.
func expectedDerive(parts ...string) string {
	var msg []byte
	for _, p := range parts {
		n := uint64(len(p))
		msg = append(msg, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		msg = append(msg, p...)
	}
	sum := sha256.Sum256(msg)
	var b [16]byte
	copy(b[:], sum[:])
	return ulid.ULID(b).String()
}

func TestValid(t *testing.T) {
	good := "txn_01HXYZ0123456789ABCDEFGHJK"
	if !Valid(Transaction, good) {
		t.Fatalf("Valid(%q) = false", good)
	}
	for _, tc := range []struct{ prefix, id string }{
		{Transaction, "txn_01hxyz0123456789abcdefghjk"}, // lower case
		{Transaction, "txn_01HXYZ0123456789ABCDEFGHJ"},  // 25 characters
		{Transaction, "txn_01HXYZ0123456789ABCDEFGHJKJ"},
		{Transaction, "txn_01HXYZ0123456789ABCDEFGHJI"}, // I is not Crockford
		{Transaction, "txn_01HXYZ0123456789ABCDEFGHJL"},
		{Transaction, "txn_01HXYZ0123456789ABCDEFGHJO"},
		{Transaction, "txn_01HXYZ0123456789ABCDEFGHJU"},
		{Transaction, "txn_81HXYZ0123456789ABCDEFGHJK"}, // more than 128 bits
		{Transaction, "txn-01HXYZ0123456789ABCDEFGHJK"},
		{Transaction, "01HXYZ0123456789ABCDEFGHJK"},
		{Payment, good},
		{"", "_01HXYZ0123456789ABCDEFGHJK"},
		{Transaction, " txn_01HXYZ0123456789ABCDEFGHJK"},
		{Transaction, "txn_01HXYZ0123456789ABCDEFGH\u00e9"}, // 26 bytes, one of them not ASCII
		{StandingOrder, "so_01HXYZ0123456789ABCDEFGHJ"},
	} {
		if Valid(tc.prefix, tc.id) {
			t.Errorf("Valid(%q, %q) = true", tc.prefix, tc.id)
		}
	}
	if !Valid(StandingOrder, "so_7ZZZZZZZZZZZZZZZZZZZZZZZZZ") {
		t.Error("Valid rejects the largest standing order ID")
	}
}

func FuzzValid(f *testing.F) {
	f.Add("txn", "txn_01HXYZ0123456789ABCDEFGHJK")
	f.Add("so", "so_7ZZZZZZZZZZZZZZZZZZZZZZZZZ")
	f.Add("txn", "txn_81HXYZ0123456789ABCDEFGHJK")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, prefix, id string) {
		if !Valid(prefix, id) {
			return
		}
		body := strings.TrimPrefix(id, prefix+"_")
		if len(body) != 26 || strings.ToUpper(body) != body {
			t.Fatalf("Valid(%q, %q) accepted a malformed body", prefix, id)
		}
		// Every valid ID decodes to 128 bits that encode back to the same text.
		u, err := ulid.ParseStrict(body)
		if err != nil {
			t.Fatalf("Valid(%q, %q) but ULID parse fails: %v", prefix, id, err)
		}
		if encode(u) != body {
			t.Fatalf("Valid(%q, %q) does not round-trip", prefix, id)
		}
	})
}
