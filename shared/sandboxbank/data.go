package sandboxbank

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"tokapi.io/tok/shared/money"
)

// Personas of the sandbox bank. Every bank (sandbox-<cc>) has all of them.
const (
	PersonaDemo     = "demo"
	PersonaBusiness = "business"
	PersonaDown     = "down"
	PersonaSlow     = "slow"
	PersonaDeny     = "deny"
	PersonaRevoke   = "revoke"
	PersonaExpire   = "expire"
	PersonaBroke    = "broke"
)

// OneTimeCode is the SCA one-time code of every persona.
const OneTimeCode = "123456"

// RevokeAfter is the number of data accesses after which the bank revokes a revoke
// persona's consent, or reports an expire persona's expired.
const RevokeAfter = 3

// HistoryDays is how far back transactions go.
const HistoryDays = 400

type persona struct {
	ID, Password, Owner string
}

var personas = map[string]persona{
	PersonaDemo:     {PersonaDemo, "demo", "Marko Petrović"},
	PersonaBusiness: {PersonaBusiness, "business", "Balkan Trade d.o.o."},
	PersonaDown:     {PersonaDown, "down", "Dragan Dolić"},
	PersonaSlow:     {PersonaSlow, "slow", "Sanja Sporić"},
	PersonaDeny:     {PersonaDeny, "deny", "Nikola Nećić"},
	PersonaRevoke:   {PersonaRevoke, "revoke", "Ivana Opozić"},
	PersonaExpire:   {PersonaExpire, "expire", "Emil Istekić"},
	PersonaBroke:    {PersonaBroke, "broke", "Branko Bez-Dinara"},
}

// bankInfo describes one sandbox bank, derived from its ID sandbox-<cc>.
type bankInfo struct {
	ID, Country, Currency, Name, BIC string
}

var countries = map[string]struct{ currency, name string }{
	"rs": {"RSD", "Serbia"}, "hr": {"EUR", "Croatia"}, "ba": {"BAM", "Bosnia and Herzegovina"},
	"mk": {"MKD", "North Macedonia"}, "me": {"EUR", "Montenegro"}, "al": {"ALL", "Albania"},
	"si": {"EUR", "Slovenia"}, "bg": {"BGN", "Bulgaria"}, "ro": {"RON", "Romania"}, "xk": {"EUR", "Kosovo"},
}

// bankByID returns the sandbox bank for an ID such as sandbox-rs.
func bankByID(id string) (bankInfo, bool) {
	cc, ok := strings.CutPrefix(id, "sandbox-")
	c, known := countries[cc]
	if !ok || !known {
		return bankInfo{}, false
	}
	CC := strings.ToUpper(cc)
	return bankInfo{ID: id, Country: CC, Currency: c.currency, Name: "Tok Sandbox Bank " + c.name,
		BIC: "TOKS" + CC + "20"}, true
}

// BankIDs lists the sandbox banks this server serves.
func BankIDs() []string {
	return []string{"sandbox-rs", "sandbox-hr", "sandbox-ba", "sandbox-mk", "sandbox-me", "sandbox-al",
		"sandbox-si", "sandbox-bg", "sandbox-ro", "sandbox-xk"}
}

// account is one generated account of a persona at a bank.
type account struct {
	ResourceID, IBAN, Currency, Name, Product, Owner, Usage string
	Profile                                                 string // personal, fx, business
	seed                                                    uint64
}

// units converts EUR-like magnitudes to a currency (rough exchange rates, for realism).
var units = map[string]float64{"EUR": 1, "USD": 1.1, "RSD": 117, "BAM": 1.96, "MKD": 61.5, "ALL": 100, "BGN": 1.96, "RON": 5}

func hash64(parts ...string) uint64 {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return binary.BigEndian.Uint64(sum[:8])
}

func hashHex(n int, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return strings.ToUpper(hex.EncodeToString(sum[:]))[:n]
}

// digits returns n deterministic decimal digits.
func digits(n int, parts ...string) string {
	r := rand.New(rand.NewPCG(hash64(parts...), 7))
	var b strings.Builder
	for range n {
		b.WriteByte(byte('0' + r.IntN(10)))
	}
	return b.String()
}

// bbanLength is the BBAN length per country (money's IBAN registry).
var bbanLength = map[string]int{"RS": 18, "HR": 17, "BA": 16, "MK": 15, "ME": 18, "AL": 24, "SI": 15,
	"BG": 18, "RO": 20, "XK": 16, "DE": 18, "AT": 16}

// makeIBAN builds a valid IBAN of the country from a deterministic seed.
func makeIBAN(country string, parts ...string) string {
	n := bbanLength[country]
	var bban string
	switch country {
	case "BG", "RO":
		bban = "TOKB" + digits(n-4, parts...)
	default:
		bban = digits(n, parts...)
	}
	iban, err := money.NewIBAN(country, bban)
	if err != nil {
		panic(fmt.Sprintf("sandboxbank: IBAN for %s: %v", country, err))
	}
	return iban
}

var accountCache sync.Map // bankID/persona -> []account

// accountsOf returns the persona's accounts at the bank.
func accountsOf(b bankInfo, p string) []account {
	key := b.ID + "/" + p
	if v, ok := accountCache.Load(key); ok {
		return v.([]account)
	}
	owner := personas[p].Owner
	fx := "EUR"
	if b.Currency == "EUR" {
		fx = "USD"
	}
	mk := func(i int, cur, name, product, profile, usage string) account {
		return account{
			ResourceID: "acc-" + strings.ToLower(hashHex(16, b.ID, p, fmt.Sprint(i))),
			IBAN:       makeIBAN(b.Country, b.ID, p, fmt.Sprint(i)),
			Currency:   cur, Name: name, Product: product, Owner: owner, Usage: usage, Profile: profile,
			seed: hash64(b.ID, p, fmt.Sprint(i)),
		}
	}
	var list []account
	switch p {
	case PersonaDemo:
		list = []account{
			mk(0, b.Currency, "Tekući račun", "Current account", "personal", "PRIV"),
			mk(1, fx, "Devizni račun", "Foreign currency account", "fx", "PRIV"),
		}
	case PersonaBusiness:
		list = []account{
			mk(0, b.Currency, "Poslovni račun", "Business current account", "business", "ORGA"),
			mk(1, fx, "Devizni poslovni račun", "Business FX account", "business", "ORGA"),
			mk(2, b.Currency, "Račun za plate", "Payroll account", "business", "ORGA"),
		}
	default:
		list = []account{mk(0, b.Currency, "Tekući račun", "Current account", "personal", "PRIV")}
	}
	accountCache.Store(key, list)
	return list
}

// findAccount finds a persona's account by resource ID.
func findAccount(b bankInfo, p, id string) (account, bool) {
	for _, a := range accountsOf(b, p) {
		if a.ResourceID == id {
			return a, true
		}
	}
	return account{}, false
}

// ownerOfIBAN finds which persona holds an IBAN at the bank.
func ownerOfIBAN(b bankInfo, iban string) (string, account, bool) {
	for p := range personas {
		for _, a := range accountsOf(b, p) {
			if a.IBAN == iban {
				return p, a, true
			}
		}
	}
	return "", account{}, false
}

// txn is one generated transaction. Amount is signed (negative: outbound).
type txn struct {
	ID             string // booked or pending ID, depending on the clock
	EntryReference string
	Pending        bool
	Date           time.Time // transaction date (value date)
	BookingDate    time.Time // for booked entries
	Amount         decimal.Decimal
	Currency       string
	Counterparty   string
	CounterIBAN    string
	Remittance     string
	EndToEndID     string
}

type counterparty struct{ name, country string }

var (
	employers  = []counterparty{{"Nordeus d.o.o.", "RS"}, {"Infobip d.o.o.", "HR"}, {"Seven Bridges d.o.o.", "RS"}, {"Microblink d.o.o.", "HR"}}
	merchants  = []string{"MAXI 142 BEOGRAD", "IDEA MARKET", "LIDL", "KONZUM", "DM DROGERIE", "GIGATRON", "WOLT", "GLOVO", "NIS PETROL", "OMV", "CINEPLEXX", "ZARA", "MERCATOR", "BINGO", "TEHNOMANIJA"}
	utilities  = []counterparty{{"EPS Snabdevanje d.o.o.", ""}, {"JKP Infostan tehnologije", ""}, {"Telekom Srbija a.d.", ""}, {"A1 Hrvatska d.o.o.", ""}}
	suppliers  = []counterparty{{"Hemofarm a.d.", ""}, {"Podravka d.d.", ""}, {"Atlantic Grupa d.d.", ""}, {"Krka d.d.", ""}, {"Bosnalijek d.d.", ""}, {"Alkaloid AD Skopje", ""}, {"Plodine d.d.", ""}, {"Comtrade d.o.o.", ""}}
	customers  = []counterparty{{"Delhaize Srbija d.o.o.", ""}, {"Mercator-S d.o.o.", ""}, {"Tropic Centar d.o.o.", ""}, {"Univerexport d.o.o.", ""}, {"Fortenova grupa d.d.", ""}, {"Spar Hrvatska d.o.o.", ""}, {"Vero d.o.o.", ""}, {"Kaufland Bulgaria EOOD", ""}}
	foreigners = []counterparty{{"Freelancer Client GmbH", "DE"}, {"Oma und Opa Petrović", "AT"}, {"Booking.com B.V.", "DE"}}
)

var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func dayNumber(t time.Time) int { return int(t.UTC().Sub(epoch).Hours() / 24) }
func dayOf(n int) time.Time     { return epoch.AddDate(0, 0, n) }
func truncDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// money in the account currency from a EUR-like magnitude, with 2 decimals.
func amt(a account, eur float64) decimal.Decimal {
	return decimal.NewFromFloat(eur * units[a.Currency]).Round(2)
}

// dayTxns generates the account's transactions dated on day n, as the bank sees them on
// today (which decides pending versus booked).
func dayTxns(b bankInfo, a account, n int, today int) []txn {
	if n > today || n < today-HistoryDays {
		return nil
	}
	r := rand.New(rand.NewPCG(a.seed, uint64(n)))
	date := dayOf(n)
	var out []txn
	add := func(eur float64, cp counterparty, iban, rem string, lag int) {
		seq := len(out)
		base := fmt.Sprintf("%s/%d/%d", a.ResourceID, n, seq)
		t := txn{
			EntryReference: "ER" + hashHex(14, "entry", base),
			Date:           date,
			Amount:         amt(a, eur),
			Currency:       a.Currency,
			Counterparty:   cp.name,
			CounterIBAN:    iban,
			Remittance:     rem,
			EndToEndID:     "E2E" + hashHex(12, "e2e", base),
		}
		if n+lag > today {
			t.Pending = true
			t.ID = "PND" + hashHex(17, "pending", base)
		} else {
			t.BookingDate = dayOf(n + lag)
			// A pending entry gets a new ID when it books, as real banks do; the
			// entryReference stays the same.
			t.ID = "BKD" + hashHex(17, "booked", base)
		}
		out = append(out, t)
	}
	ibanOf := func(cp counterparty) string {
		c := cp.country
		if c == "" {
			c = b.Country
		}
		return makeIBAN(c, "cp", cp.name)
	}
	mon := fmt.Sprintf("%02d/%d", int(date.Month()), date.Year())
	invoice := func() string { return fmt.Sprintf("Racun %d-%04d", date.Year(), 1+r.IntN(9999)) }
	switch a.Profile {
	case "personal":
		switch date.Day() {
		case 1:
			add(-450, counterparty{"Jelena Stanić", ""}, ibanOf(counterparty{"Jelena Stanić", ""}), "Zakup stana "+mon, 0)
		case 5:
			add(-100, counterparty{personas[PersonaDemo].Owner, ""}, ibanOf(counterparty{"savings " + a.ResourceID, ""}), "Stednja "+mon, 0)
		case 10:
			e := employers[int(a.seed%uint64(len(employers)))]
			add(2000+float64(r.IntN(200)), e, ibanOf(e), "Zarada za "+mon, 0)
		case 15, 18, 20:
			u := utilities[(date.Day()/3)%len(utilities)]
			add(-(25 + float64(r.IntN(9000))/100), u, ibanOf(u), invoice(), 0)
		}
		for range r.IntN(3) {
			m := merchants[r.IntN(len(merchants))]
			add(-(3 + float64(r.IntN(4000))/100), counterparty{m, ""}, "", "Kartica *4821 "+m, 2)
		}
		if r.IntN(25) == 0 {
			s := suppliers[r.IntN(len(suppliers))]
			add(-(40 + float64(r.IntN(30000))/100), s, ibanOf(s), invoice(), 1)
		}
	case "fx":
		if date.Day() == 12 {
			f := foreigners[int(a.seed%uint64(len(foreigners)))]
			add(300+float64(r.IntN(500)), f, ibanOf(f), "Invoice "+mon, 0)
		}
		if r.IntN(9) == 0 {
			m := merchants[r.IntN(len(merchants))]
			add(-(5 + float64(r.IntN(12000))/100), counterparty{m, ""}, "", "Card *7730 "+m, 3)
		}
	case "business":
		if wd := date.Weekday(); wd == time.Saturday || wd == time.Sunday {
			if r.IntN(2) == 0 {
				m := merchants[r.IntN(len(merchants))]
				add(-(10 + float64(r.IntN(20000))/100), counterparty{m, ""}, "", "Kartica *9001 "+m, 2)
			}
			break
		}
		for range 8 + r.IntN(9) {
			if r.IntN(5) < 3 {
				c := customers[r.IntN(len(customers))]
				add(100+float64(r.IntN(900000))/100, c, ibanOf(c), "Uplata po "+strings.ToLower(invoice()[:1])+invoice()[1:], 0)
			} else {
				s := suppliers[r.IntN(len(suppliers))]
				add(-(50 + float64(r.IntN(500000))/100), s, ibanOf(s), invoice(), 1)
			}
		}
		if date.Day() == 28 {
			add(-(1500 + float64(r.IntN(1000))), counterparty{"Poreska uprava", ""}, ibanOf(counterparty{"Poreska uprava", ""}), "PDV "+mon, 0)
		}
	}
	return out
}

// standingOrders of an account (only personal current accounts have them).
type standingOrder struct {
	ID           string
	Amount       decimal.Decimal
	Creditor     string
	CreditorIBAN string
	Remittance   string
	Day          int
	Start        time.Time
}

func standingOrdersOf(b bankInfo, a account) []standingOrder {
	if a.Profile != "personal" {
		return nil
	}
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	return []standingOrder{
		{ID: "SO" + hashHex(10, a.ResourceID, "rent"), Amount: amt(a, 450), Creditor: "Jelena Stanić",
			CreditorIBAN: makeIBAN(b.Country, "cp", "Jelena Stanić"), Remittance: "Zakup stana", Day: 1, Start: start},
		{ID: "SO" + hashHex(10, a.ResourceID, "save"), Amount: amt(a, 100), Creditor: personas[PersonaDemo].Owner,
			CreditorIBAN: makeIBAN(b.Country, "cp", "savings "+a.ResourceID), Remittance: "Stednja", Day: 5, Start: start},
	}
}

// balances of an account on today: the booked balance and the available one (booked plus
// pending). The broke persona's account is almost empty.
func balancesOf(b bankInfo, p string, a account, now time.Time) (booked, available decimal.Decimal) {
	today := dayNumber(now)
	booked = amt(a, 1500)
	var pending decimal.Decimal
	for n := today - HistoryDays; n <= today; n++ {
		for _, t := range dayTxns(b, a, n, today) {
			if t.Pending {
				pending = pending.Add(t.Amount)
			} else {
				booked = booked.Add(t.Amount)
			}
		}
	}
	if p == PersonaBroke {
		booked, pending = amt(a, 3.5), decimal.Zero
	}
	return booked, booked.Add(pending)
}
