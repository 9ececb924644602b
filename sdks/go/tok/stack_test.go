package tok_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gopkg.in/yaml.v3"

	"tokapi.io/tok/sdks/go/tok"
	"tokapi.io/tok/sdks/sdktest"
)

// TestAgainstStack runs the SDK against the local stack (every function behind the gateway)
// with a connected sandbox bank; faults come from sdktest's proxy in front of it.
func TestAgainstStack(t *testing.T) {
	env := sdktest.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	client := newClient(t, env.APIURL, env.APIKey)
	// Through the fault proxy, with short backoffs so retries are quick.
	faulty := newClient(t, env.FaultURL, env.APIKey, tok.WithBackoff(20*time.Millisecond, 200*time.Millisecond))

	t.Run("quickstart calls", func(t *testing.T) {
		var meta tok.Response
		accounts, err := client.Accounts.List(ctx, nil, tok.CaptureResponse(&meta))
		if err != nil || len(accounts.Data) < 2 {
			t.Fatalf("accounts: %v %v", accounts, err)
		}
		if meta.RateLimit.Limit != 300 || meta.RateLimit.Reset.IsZero() || !strings.HasPrefix(meta.RequestID, "req_") ||
			accounts.Response.RateLimit.Limit != 300 {
			t.Errorf("response metadata %+v, page's %+v", meta, accounts.Response)
		}
		txns, err := client.Transactions.List(ctx, env.AccountID, &tok.ListTransactionsParams{
			DateFrom: tok.Ptr("2026-01-01"), DateTo: tok.Ptr("2026-03-01"),
		})
		if err != nil || len(txns.Data) == 0 {
			t.Fatalf("transactions: %v %v", txns, err)
		}
		for _, tx := range txns.Data {
			if tx.BookingDate != nil && (*tx.BookingDate < "2026-01-01" || *tx.BookingDate > "2026-03-01") {
				t.Errorf("date filter let %s through", *tx.BookingDate)
			}
		}
		one, err := client.Transactions.Get(ctx, env.AccountID, txns.Data[0].ID)
		if err != nil || one.ID != txns.Data[0].ID || one.Amount != txns.Data[0].Amount {
			t.Errorf("get transaction: %+v %v", one, err)
		}
		acc, err := client.Accounts.Get(ctx, env.AccountID)
		if err != nil || acc.Currency != "RSD" {
			t.Errorf("get account: %+v %v", acc, err)
		}
		bal, err := client.Accounts.Balances(ctx, env.AccountID)
		if err != nil || len(bal.Balances) == 0 || bal.Balances[0].Currency != "RSD" {
			t.Errorf("balances: %+v %v", bal, err)
		}
		banks, err := client.Banks.List(ctx, &tok.ListBanksParams{Country: tok.Ptr("RS")})
		if err != nil || len(banks.Data) == 0 || banks.Data[0].Country != "RS" {
			t.Errorf("banks: %+v %v", banks, err)
		}
		sos, err := client.StandingOrders.List(ctx, env.AccountID, nil)
		if err != nil {
			t.Errorf("standing orders: %v", err)
		} else if len(sos.Data) > 0 {
			if so, err := client.StandingOrders.Get(ctx, env.AccountID, sos.Data[0].ID); err != nil || so.ID != sos.Data[0].ID {
				t.Errorf("standing order: %+v %v", so, err)
			}
		}
		changes, err := client.Transactions.Changes(ctx, env.AccountID, &tok.ListTransactionChangesParams{Limit: tok.Ptr(5)})
		if err != nil || len(changes.Data) != 5 || changes.Data[0].Type != tok.TransactionChangesDataTypeAdded || changes.NextCursor == nil {
			t.Errorf("changes: %+v %v", changes, err)
		}
		events, err := client.Events.List(ctx, &tok.ListEventsParams{Type: tok.Ptr(tok.EventTypeTransactionsCreated)})
		if err != nil || len(events.Data) == 0 {
			t.Fatalf("events: %+v %v", events, err)
		}
		// Events are typed by their discriminator: each type has its own struct.
		created, err := events.Data[0].AsTransactionsCreatedEvent()
		if typ, _ := events.Data[0].Discriminator(); err != nil || typ != string(tok.EventTypeTransactionsCreated) || len(created.Data.TransactionIds) == 0 {
			t.Errorf("events: %q %+v %v", typ, created, err)
		} else if ev, err := client.Events.Get(ctx, created.ID); err != nil {
			t.Errorf("event: %v", err)
		} else if got, err := ev.AsTransactionsCreatedEvent(); err != nil || got.ID != created.ID {
			t.Errorf("event: %+v %v", got, err)
		}
	})

	t.Run("the seed's payment, read, listed and cancelled", func(t *testing.T) {
		p, err := client.Payments.Create(ctx, tok.CreatePaymentRequest{
			CreditorIban: "RS35105008123123123173", CreditorName: tok.Ptr("Bilko d.o.o."), Amount: "1500.00", Currency: "RSD",
			RemittanceInfo: tok.Ptr("Invoice INV-2026-042"), AccountID: tok.Ptr(env.AccountID), CallbackURL: env.CallbackURL,
		})
		if err != nil {
			t.Fatal(err)
		}
		amount, err := tok.ParseAmount(p.Amount)
		if p.Status != tok.PaymentStatusAWAITINGAUTHORIZATION || err != nil || !amount.Equal(decimal.RequireFromString("1500")) {
			t.Fatalf("created %+v (amount %v)", p, err)
		}
		if got, err := client.Payments.Get(ctx, p.ID); err != nil || got.ID != p.ID {
			t.Fatalf("get: %+v %v", got, err)
		}
		found := false
		for q, err := range client.Payments.All(ctx, &tok.ListPaymentsParams{AccountID: tok.Ptr(env.AccountID)}) {
			if err != nil {
				t.Fatal(err)
			}
			found = found || q.ID == p.ID
		}
		if !found {
			t.Fatal("the payment is not listed")
		}
		if c, err := client.Payments.Cancel(ctx, p.ID); err != nil || c.Status != tok.PaymentStatusCANCELLED {
			t.Fatalf("cancel: %+v %v", c, err)
		}
		_, err = client.Payments.Cancel(ctx, p.ID)
		expectCode(t, err, tok.ErrConflict, 409)
	})

	t.Run("the organisation is read; a sandbox key cannot change its settings", func(t *testing.T) {
		o, err := client.Organisation.Get(ctx)
		if err != nil || o.Tier != tok.OrganisationTierPro || o.Environment != tok.OrganisationEnvironmentSandbox || o.CallbackURL != nil {
			t.Fatalf("get: %+v %v", o, err)
		}
		_, err = client.Organisation.Update(ctx, tok.UpdateOrganisationRequest{DisplayName: tok.Ptr("Bilko"), BrandColor: tok.Ptr("#1a2b3c")})
		expectCode(t, err, tok.ErrForbidden, 403)
		if o, err := client.Organisation.Get(ctx); err != nil || o.DisplayName != nil || o.BrandColor != nil {
			t.Fatalf("after the refused update: %+v %v", o, err)
		}
	})

	t.Run("a sandbox control fires an event of any type", func(t *testing.T) {
		e, err := client.Sandbox.FireWebhook(ctx, tok.SandboxFireRequest{Type: tok.EventTypeSyncFailed})
		if err != nil {
			t.Fatal(err)
		}
		if f, err := e.AsSyncFailedEvent(); err != nil || f.Type != tok.SyncFailedEventTypeSyncFailed || f.Data.ConnectionID == "" {
			t.Fatalf("fired %+v: %v", f, err)
		}
	})

	t.Run("pagination follows nextCursor across pages", func(t *testing.T) {
		env.Faults.Reset()
		var ids []string
		seen := map[string]bool{}
		total := decimal.Zero
		for tx, err := range faulty.Transactions.All(ctx, env.AccountID, &tok.ListTransactionsParams{Limit: tok.Ptr(50), Status: tok.Ptr(tok.ListTransactionsParamsStatusBooked)}) {
			if err != nil {
				t.Fatal(err)
			}
			if seen[tx.ID] {
				t.Fatalf("%s twice", tx.ID)
			}
			if tx.Status != tok.TransactionStatusBooked {
				t.Fatalf("status filter let %s through", tx.Status)
			}
			seen[tx.ID] = true
			ids = append(ids, tx.ID)
			amount, err := tok.ParseAmount(tx.Amount)
			if err != nil || tok.FormatAmount(amount) != tx.Amount {
				t.Fatalf("amount %q: %v", tx.Amount, err)
			}
			total = total.Add(amount)
		}
		pages := 0
		for _, e := range env.Faults.Log() {
			// A 429 waited out (the organisation's bucket is shared with the other suites) is no page.
			if strings.HasSuffix(e.Path, "/transactions") && e.Status != http.StatusTooManyRequests {
				pages++
			}
		}
		// The same walk in one big page gives the same rows in the same order.
		one, err := client.Transactions.List(ctx, env.AccountID, &tok.ListTransactionsParams{Limit: tok.Ptr(500), Status: tok.Ptr(tok.ListTransactionsParamsStatusBooked)})
		if err != nil {
			t.Fatal(err)
		}
		if pages < 3 || len(ids) != len(one.Data) || pages != (len(ids)+49)/50 {
			t.Fatalf("%d rows in %d pages; one page of 500 has %d", len(ids), pages, len(one.Data))
		}
		for i, tx := range one.Data {
			if ids[i] != tx.ID {
				t.Fatalf("row %d: %s walking, %s in one page", i, ids[i], tx.ID)
			}
		}
		t.Logf("%d booked transactions in %d pages, total %s", len(ids), pages, total)
	})

	t.Run("a 502 and a dropped connection are retried", func(t *testing.T) {
		env.Faults.Reset()
		env.Faults.Arm(sdktest.Fault{Method: "GET", Path: "/v1/accounts", Times: 2, Status: 502, Body: "<html>bad gateway</html>"})
		var meta tok.Response
		accounts, err := faulty.Accounts.List(ctx, nil, tok.CaptureResponse(&meta))
		log := env.Faults.Log()
		if err != nil || len(accounts.Data) == 0 || meta.Attempts != len(log) {
			t.Fatalf("after two 502s: %d attempts, proxy saw %s, %v", meta.Attempts, statuses(log), err)
		}
		if got := statuses(withoutLimits(log)); got != "502 502 200" {
			t.Fatalf("proxy saw %s", statuses(log))
		}
		// A fresh connection per request, so net/http's own retry of a reused one stays out.
		env.Faults.Reset()
		env.Faults.Arm(sdktest.Fault{Method: "GET", Path: "/v1/accounts", Times: 1, Drop: true})
		fresh := newClient(t, env.FaultURL, env.APIKey, tok.WithBackoff(20*time.Millisecond, 200*time.Millisecond),
			tok.WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}))
		_, err = fresh.Accounts.List(ctx, nil, tok.CaptureResponse(&meta))
		log = env.Faults.Log()
		if err != nil || meta.Attempts != len(log) {
			t.Fatalf("after a dropped connection: %d attempts, proxy saw %s, %v", meta.Attempts, statuses(log), err)
		}
		if got := statuses(withoutLimits(log)); got != "0 200" {
			t.Fatalf("proxy saw %s", statuses(log))
		}
	})

	t.Run("retries give up with the last error", func(t *testing.T) {
		env.Faults.Reset()
		env.Faults.Arm(sdktest.Fault{Path: "/v1/accounts", Times: 10, Status: 503, Body: envelope("SERVICE_UNAVAILABLE", "down")})
		c := newClient(t, env.FaultURL, env.APIKey, tok.WithMaxRetries(2), tok.WithBackoff(time.Millisecond, 10*time.Millisecond))
		_, err := c.Accounts.List(ctx, nil)
		var apiErr *tok.APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 || !errors.Is(err, tok.ErrServiceUnavailable) {
			t.Fatalf("got %v", err)
		}
		if got := statuses(env.Faults.Log()); got != "503 503 503" {
			t.Fatalf("proxy saw %s", got)
		}
	})

	t.Run("a POST without an Idempotency-Key is not retried", func(t *testing.T) {
		env.Faults.Reset()
		env.Faults.Arm(sdktest.Fault{Method: "POST", Path: "/v1/webhooks/", Status: 502})
		_, err := faulty.Webhooks.Test(ctx, "whk_00000000000000000000000000")
		var apiErr *tok.APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 502 {
			t.Fatalf("got %v", err)
		}
		if got := statuses(env.Faults.Log()); got != "502" {
			t.Fatalf("proxy saw %s", got)
		}
	})

	t.Run("a creating POST whose answer is lost is retried with the same key", func(t *testing.T) {
		env.Faults.Reset()
		// Tok creates the consent; the proxy loses the answer.
		env.Faults.Arm(sdktest.Fault{Method: "POST", Path: "/v1/consents", Status: 502, Forward: true})
		callback := env.CallbackURL + "?run=" + strconv.FormatInt(time.Now().UnixNano(), 10)
		var meta tok.Response
		c, err := faulty.Consents.Create(ctx, tok.CreateConsentRequest{BankID: tok.Ptr("sandbox-rs"), CallbackURL: callback}, tok.CaptureResponse(&meta))
		if err != nil {
			t.Fatal(err)
		}
		log := env.Faults.Log()
		if statuses(withoutLimits(log)) != "502 201" || log[0].IdempotencyKey == "" || !meta.Replayed {
			t.Fatalf("proxy saw %+v; replayed %v", log, meta.Replayed)
		}
		for _, e := range log {
			if e.IdempotencyKey != log[0].IdempotencyKey {
				t.Fatalf("a retry with another key: %+v", log)
			}
		}
		if _, err := uuid.Parse(log[0].IdempotencyKey); err != nil {
			t.Errorf("generated key %q is not a UUID", log[0].IdempotencyKey)
		}
		n := 0
		for con, err := range client.Consents.All(ctx, &tok.ListConsentsParams{BankID: tok.Ptr("sandbox-rs")}) {
			if err != nil {
				t.Fatal(err)
			}
			if con.CallbackURL == callback {
				n++
				if con.ID != c.ID {
					t.Errorf("consent %s, the SDK returned %s", con.ID, c.ID)
				}
			}
		}
		if n != 1 {
			t.Fatalf("%d consents created by one call", n)
		}
		// The same key with another body is refused.
		_, err = client.Consents.Create(ctx, tok.CreateConsentRequest{BankID: tok.Ptr("sandbox-hr"), CallbackURL: callback},
			tok.WithIdempotencyKey(log[0].IdempotencyKey))
		if !errors.Is(err, tok.ErrIdempotencyKeyReused) {
			t.Fatalf("reused key: %v", err)
		}
	})

	t.Run("errors of the stack", func(t *testing.T) {
		bad := newClient(t, env.APIURL, "tok_sandbox_"+strings.Repeat("0", 40))
		_, err := bad.Accounts.List(ctx, nil)
		expectCode(t, err, tok.ErrInvalidAPIKey, 401)
		_, err = client.Accounts.Get(ctx, "acc_00000000000000000000000000")
		expectCode(t, err, tok.ErrNotFound, 404)
		_, err = newClient(t, env.APIURL, env.FreeAPIKey).Accounts.Get(ctx, env.RevokedAccountID)
		expectCode(t, err, tok.ErrConsentRevoked, 403)
		_, err = client.Transactions.List(ctx, env.AccountID, &tok.ListTransactionsParams{DateFrom: tok.Ptr("yesterday")})
		apiErr := expectCode(t, err, tok.ErrValidation, 400)
		if apiErr != nil && (len(apiErr.Details) == 0 || apiErr.Details[0].Field == "") {
			t.Errorf("validation error without details: %+v", apiErr)
		}
		ro := newClient(t, env.APIURL, env.ReadOnlyAPIKey)
		_, err = ro.Webhooks.Create(ctx, tok.CreateWebhookRequest{URL: "http://127.0.0.1:9/hooks", Events: []string{"*"}})
		expectCode(t, err, tok.ErrForbidden, 403)
	})

	t.Run("every error code maps to its error", func(t *testing.T) {
		c := newClient(t, env.FaultURL, env.APIKey, tok.WithMaxRetries(0))
		type mapped struct {
			err    error
			status int
		}
		sentinels := map[tok.ErrorCode]mapped{
			"INVALID_API_KEY": {tok.ErrInvalidAPIKey, 401}, "FORBIDDEN": {tok.ErrForbidden, 403},
			"CONSENT_EXPIRED": {tok.ErrConsentExpired, 403}, "CONSENT_REVOKED": {tok.ErrConsentRevoked, 403},
			"NOT_FOUND": {tok.ErrNotFound, 404}, "METHOD_NOT_ALLOWED": {tok.ErrMethodNotAllowed, 405},
			"CONFLICT": {tok.ErrConflict, 409}, "PAYLOAD_TOO_LARGE": {tok.ErrPayloadTooLarge, 413},
			"UNSUPPORTED_MEDIA_TYPE": {tok.ErrUnsupportedMediaType, 415}, "IDEMPOTENCY_KEY_REUSED": {tok.ErrIdempotencyKeyReused, 422},
			"VALIDATION_ERROR": {tok.ErrValidation, 400}, "RATE_LIMITED": {tok.ErrRateLimited, 429},
			"INTERNAL_ERROR": {tok.ErrInternal, 500}, "BANK_API_ERROR": {tok.ErrBankAPI, 502},
			"SERVICE_UNAVAILABLE": {tok.ErrServiceUnavailable, 503},
			"INSUFFICIENT_FUNDS":  {tok.ErrInsufficientFunds, 422}, "REQUEST_TIMEOUT": {tok.ErrRequestTimeout, 408},
			"ACCESS_EXCEEDED":        {tok.ErrAccessExceeded, 429},
			"LIMIT_EXCEEDED":         {tok.ErrLimitExceeded, 422},
			"REFUND_EXCEEDS_PAYMENT": {tok.ErrRefundExceedsPayment, 422},
		}
		for _, code := range specErrorCodes(t) {
			want, ok := sentinels[code]
			if !ok {
				t.Errorf("the spec's error code %s has no tok.Err… value", code)
				continue
			}
			env.Faults.Arm(sdktest.Fault{Path: "/v1/accounts/", Status: want.status, Body: envelope(string(code), "injected "+string(code)),
				Headers: map[string]string{"Retry-After": "7", "X-Request-Id": "req_01HXYZ0000000000000000000A"}})
			_, err := c.Accounts.Get(ctx, env.AccountID)
			apiErr := expectCode(t, err, want.err, want.status)
			if apiErr != nil && (apiErr.Message != "injected "+string(code) || apiErr.RequestID != "req_01HXYZ0000000000000000000A" ||
				len(apiErr.Details) != 1 || apiErr.Details[0].Field != "f" || apiErr.RetryAfter != 7*time.Second) {
				t.Errorf("%s: %+v", code, apiErr)
			}
			for other, o := range sentinels {
				if other != code && errors.Is(err, o.err) {
					t.Errorf("%s also matches %s", code, other)
				}
			}
		}
	})

	t.Run("a 429 is retried after Retry-After", func(t *testing.T) {
		// The Free tier's burst is 10: without retries, the 11th quick call is refused.
		env.Faults.Reset()
		once := newClient(t, env.FaultURL, env.FreeAPIKey, tok.WithMaxRetries(0))
		var rateErr *tok.APIError
		for i := 0; i < 30 && rateErr == nil; i++ {
			if _, err := once.Banks.List(ctx, nil); err != nil {
				rateErr = expectCode(t, err, tok.ErrRateLimited, 429)
			}
		}
		if rateErr == nil || rateErr.RetryAfter <= 0 || rateErr.Response.RateLimit.Limit != 60 {
			t.Fatalf("no RATE_LIMITED with a delay after 30 calls: %+v", rateErr)
		}
		// With retries, every call gets through, each 429 waited out before the next try.
		env.Faults.Reset()
		retrying := newClient(t, env.FaultURL, env.FreeAPIKey)
		for range 5 {
			if _, err := retrying.Banks.List(ctx, nil); err != nil {
				t.Fatal(err)
			}
		}
		log := env.Faults.Log()
		waited := 0
		for i, e := range log {
			if e.Status != 429 {
				continue
			}
			ra, err := strconv.Atoi(e.RetryAfter)
			if err != nil || i+1 >= len(log) {
				t.Fatalf("429 with Retry-After %q as the last request", e.RetryAfter)
			}
			if gap := log[i+1].At - e.At; gap < int64(ra)*1000 {
				t.Fatalf("retried %d ms after a 429 with Retry-After %d", gap, ra)
			}
			waited++
		}
		if waited == 0 || statuses(log[len(log)-1:]) != "200" {
			t.Fatalf("no 429 was retried: %s", statuses(log))
		}
		t.Logf("%d 429s waited out: %s", waited, statuses(log))
	})

	t.Run("webhook signatures made by Tok", func(t *testing.T) {
		b, err := os.ReadFile(env.WebhookFixtures)
		if err != nil {
			t.Fatal(err)
		}
		// The fixtures' timestamps are relative to when they were written.
		info, err := os.Stat(env.WebhookFixtures)
		if err != nil {
			t.Fatal(err)
		}
		var fixtures []sdktest.WebhookFixture
		if err := json.Unmarshal(b, &fixtures); err != nil {
			t.Fatal(err)
		}
		for _, f := range fixtures {
			h := http.Header{}
			for k, v := range f.Headers {
				h.Set(k, v)
			}
			err := tok.VerifyWebhookAt([]byte(f.Payload), h, f.Secret, info.ModTime())
			if (err == nil) != f.Valid {
				t.Errorf("%s: valid %v, got %v", f.Name, f.Valid, err)
			}
		}
		if len(fixtures) < 8 {
			t.Fatalf("%d fixtures", len(fixtures))
		}
	})

	t.Run("every operation has a method", func(t *testing.T) { testCoverage(ctx, t, env) })
	t.Run("VRP: limits, what is left, revocation", func(t *testing.T) { testVRP(ctx, t, env, client) })
	t.Run("hosted pages when no bank is given", func(t *testing.T) { testHosted(ctx, t, env, client) })

	t.Run("the quickstart example", func(t *testing.T) {
		cmd := exec.CommandContext(ctx, "go", "run", "../examples/quickstart")
		cmd.Env = append(env.Vars(), "TOK_API_KEY="+env.APIKey, "TOK_API_URL="+env.APIURL)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !strings.Contains(string(out), "account acc_") || !strings.Contains(string(out), "transaction txn_") {
			t.Fatalf("output:\n%s", out)
		}
	})
}

func newClient(t *testing.T, baseURL, key string, opts ...tok.Option) *tok.Client {
	t.Helper()
	c, err := tok.NewClient(append([]tok.Option{tok.WithAPIKey(key), tok.WithBaseURL(baseURL)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// expectCode checks err is an *tok.APIError matching want with the HTTP status.
func expectCode(t *testing.T, err, want error, status int) *tok.APIError {
	t.Helper()
	var apiErr *tok.APIError
	if !errors.As(err, &apiErr) || !errors.Is(err, want) || apiErr.StatusCode != status {
		t.Errorf("want %v with HTTP %d, got %v", want.(*tok.APIError).Code, status, err)
		return nil
	}
	return apiErr
}

func envelope(code, message string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": message,
		"requestId": "req_01HXYZ0000000000000000000A", "details": []map[string]string{{"field": "f", "message": "m"}}}})
	return string(b)
}

// withoutLimits leaves out the stack's 429s. A request that reaches Tok may find the burst
// spent by the subtests before it, the sooner the faster the machine; the SDK waits that out
// like any 429 (a subtest of its own checks how), and the other answers are what a subtest
// checks.
func withoutLimits(log []sdktest.LogEntry) []sdktest.LogEntry {
	var kept []sdktest.LogEntry
	for _, e := range log {
		if e.Status != http.StatusTooManyRequests {
			kept = append(kept, e)
		}
	}
	return kept
}

func statuses(log []sdktest.LogEntry) string {
	s := make([]string, len(log))
	for i, e := range log {
		s[i] = strconv.Itoa(e.Status)
	}
	return strings.Join(s, " ")
}

// specErrorCodes reads the error codes of the spec's Error schema.
func specErrorCodes(t *testing.T) []tok.ErrorCode {
	t.Helper()
	b, err := os.ReadFile("../../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Components struct {
			Schemas struct {
				Error struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct {
									Enum []tok.ErrorCode `yaml:"enum"`
								} `yaml:"code"`
							} `yaml:"properties"`
						} `yaml:"error"`
					} `yaml:"properties"`
				} `yaml:"Error"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	codes := spec.Components.Schemas.Error.Properties.Error.Properties.Code.Enum
	if len(codes) < 15 {
		t.Fatalf("spec has %d error codes", len(codes))
	}
	return codes
}
