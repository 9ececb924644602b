package tok

import (
	"context"
	"iter"
)

// get fetches one object.
func get[T any](ctx context.Context, c *Client, path string, opts []RequestOption) (*T, error) {
	var out T
	if err := c.do(ctx, request{method: "GET", path: path}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// send makes a request with a body (nil for none) and decodes the answer; creates marks a
// POST that creates something, which gets an Idempotency-Key.
func send[T any](ctx context.Context, c *Client, method, path string, body any, creates bool, opts []RequestOption) (*T, error) {
	var out T
	if err := c.do(ctx, request{method: method, path: path, body: body, creates: creates}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// optionalBody is req as a request body, nil (no body) for a nil req.
func optionalBody[T any](req *T) any {
	if req == nil {
		return nil
	}
	return req
}

// BanksService is /v1/banks.
type BanksService struct{ c *Client }

// List returns the banks of the key's environment (one page: the API does not page banks).
func (s *BanksService) List(ctx context.Context, params *ListBanksParams, opts ...RequestOption) (*Page[Bank], error) {
	return list[Bank](ctx, s.c, "/banks", params, "", opts)
}

// Get returns a bank.
func (s *BanksService) Get(ctx context.Context, bankID string, opts ...RequestOption) (*Bank, error) {
	return get[Bank](ctx, s.c, "/banks/"+escape(bankID), opts)
}

// ConsentsService is /v1/consents.
type ConsentsService struct{ c *Client }

// Create starts a consent at a bank; send the customer to its RedirectURL. It carries an
// Idempotency-Key (generated unless WithIdempotencyKey gives one), so it is retried safely.
func (s *ConsentsService) Create(ctx context.Context, req CreateConsentRequest, opts ...RequestOption) (*Consent, error) {
	return send[Consent](ctx, s.c, "POST", "/consents", req, true, opts)
}

// Get returns a consent.
func (s *ConsentsService) Get(ctx context.Context, consentID string, opts ...RequestOption) (*Consent, error) {
	return get[Consent](ctx, s.c, "/consents/"+escape(consentID), opts)
}

// List returns one page of consents, newest first.
func (s *ConsentsService) List(ctx context.Context, params *ListConsentsParams, opts ...RequestOption) (*Page[Consent], error) {
	return list[Consent](ctx, s.c, "/consents", params, "", opts)
}

// All iterates over every consent.
func (s *ConsentsService) All(ctx context.Context, params *ListConsentsParams, opts ...RequestOption) iter.Seq2[Consent, error] {
	return all[Consent](ctx, s.c, "/consents", params, opts)
}

// Revoke revokes a consent at the bank and at Tok.
func (s *ConsentsService) Revoke(ctx context.Context, consentID string, opts ...RequestOption) (*Consent, error) {
	return send[Consent](ctx, s.c, "DELETE", "/consents/"+escape(consentID), nil, false, opts)
}

// Renew starts a new consent on the same bank connection; req may be nil.
func (s *ConsentsService) Renew(ctx context.Context, consentID string, req *RenewConsentRequest, opts ...RequestOption) (*Consent, error) {
	return send[Consent](ctx, s.c, "POST", "/consents/"+escape(consentID)+"/renew", optionalBody(req), true, opts)
}

// Refresh syncs the consent's accounts now (sync.completed follows); without PsuIPAddress it
// takes one of the day's unattended accesses (ErrAccessExceeded when none is left). req may
// be nil. It carries an Idempotency-Key, so a retry never spends a second access.
func (s *ConsentsService) Refresh(ctx context.Context, consentID string, req *RefreshConsentRequest, opts ...RequestOption) (*ConsentRefresh, error) {
	return send[ConsentRefresh](ctx, s.c, "POST", "/consents/"+escape(consentID)+"/refresh", optionalBody(req), true, opts)
}

// AccountsService is /v1/accounts.
type AccountsService struct{ c *Client }

// List returns one page of the organisation's accounts.
func (s *AccountsService) List(ctx context.Context, params *ListAccountsParams, opts ...RequestOption) (*Page[Account], error) {
	return list[Account](ctx, s.c, "/accounts", params, "", opts)
}

// All iterates over every account.
func (s *AccountsService) All(ctx context.Context, params *ListAccountsParams, opts ...RequestOption) iter.Seq2[Account, error] {
	return all[Account](ctx, s.c, "/accounts", params, opts)
}

// Get returns an account.
func (s *AccountsService) Get(ctx context.Context, accountID string, opts ...RequestOption) (*Account, error) {
	return get[Account](ctx, s.c, "/accounts/"+escape(accountID), opts)
}

// Balances returns an account's balances as of its last sync.
func (s *AccountsService) Balances(ctx context.Context, accountID string, opts ...RequestOption) (*AccountBalances, error) {
	return get[AccountBalances](ctx, s.c, "/accounts/"+escape(accountID)+"/balances", opts)
}

// TransactionsService is /v1/accounts/{id}/transactions.
type TransactionsService struct{ c *Client }

// TransactionChange is one entry of the changes feed.
type TransactionChange = struct {
	Transaction Transaction                `json:"transaction"`
	Type        TransactionChangesDataType `json:"type"`
}

func transactionsPath(accountID string) string {
	return "/accounts/" + escape(accountID) + "/transactions"
}

// List returns one page of an account's transactions, newest first (filters: DateFrom,
// DateTo as YYYY-MM-DD, Status).
func (s *TransactionsService) List(ctx context.Context, accountID string, params *ListTransactionsParams, opts ...RequestOption) (*Page[Transaction], error) {
	return list[Transaction](ctx, s.c, transactionsPath(accountID), params, "", opts)
}

// All iterates over every transaction matching params, page after page.
func (s *TransactionsService) All(ctx context.Context, accountID string, params *ListTransactionsParams, opts ...RequestOption) iter.Seq2[Transaction, error] {
	return all[Transaction](ctx, s.c, transactionsPath(accountID), params, opts)
}

// Get returns one transaction.
func (s *TransactionsService) Get(ctx context.Context, accountID, transactionID string, opts ...RequestOption) (*Transaction, error) {
	return get[Transaction](ctx, s.c, transactionsPath(accountID)+"/"+escape(transactionID), opts)
}

// Changes returns one page of the changes feed since params' cursor (all transactions as
// added without one). Keep the last page's NextCursor and ask again later.
func (s *TransactionsService) Changes(ctx context.Context, accountID string, params *ListTransactionChangesParams, opts ...RequestOption) (*Page[TransactionChange], error) {
	return list[TransactionChange](ctx, s.c, transactionsPath(accountID)+"/changes", params, "", opts)
}

// StandingOrdersService is /v1/accounts/{id}/standing-orders.
type StandingOrdersService struct{ c *Client }

func standingOrdersPath(accountID string) string {
	return "/accounts/" + escape(accountID) + "/standing-orders"
}

// List returns one page of an account's standing orders.
func (s *StandingOrdersService) List(ctx context.Context, accountID string, params *ListStandingOrdersParams, opts ...RequestOption) (*Page[StandingOrder], error) {
	return list[StandingOrder](ctx, s.c, standingOrdersPath(accountID), params, "", opts)
}

// All iterates over every standing order of an account.
func (s *StandingOrdersService) All(ctx context.Context, accountID string, params *ListStandingOrdersParams, opts ...RequestOption) iter.Seq2[StandingOrder, error] {
	return all[StandingOrder](ctx, s.c, standingOrdersPath(accountID), params, opts)
}

// Get returns one standing order.
func (s *StandingOrdersService) Get(ctx context.Context, accountID, standingOrderID string, opts ...RequestOption) (*StandingOrder, error) {
	return get[StandingOrder](ctx, s.c, standingOrdersPath(accountID)+"/"+escape(standingOrderID), opts)
}

// WebhooksService is /v1/webhooks.
type WebhooksService struct{ c *Client }

// Create registers an endpoint; the answer's Secret is shown only here.
func (s *WebhooksService) Create(ctx context.Context, req CreateWebhookRequest, opts ...RequestOption) (*WebhookWithSecret, error) {
	return send[WebhookWithSecret](ctx, s.c, "POST", "/webhooks", req, true, opts)
}

// Get returns an endpoint.
func (s *WebhooksService) Get(ctx context.Context, webhookID string, opts ...RequestOption) (*Webhook, error) {
	return get[Webhook](ctx, s.c, "/webhooks/"+escape(webhookID), opts)
}

// List returns the endpoints (at most 10, one page).
func (s *WebhooksService) List(ctx context.Context, params *ListWebhooksParams, opts ...RequestOption) (*Page[Webhook], error) {
	return list[Webhook](ctx, s.c, "/webhooks", params, "", opts)
}

// Update changes an endpoint.
func (s *WebhooksService) Update(ctx context.Context, webhookID string, req UpdateWebhookRequest, opts ...RequestOption) (*Webhook, error) {
	return send[Webhook](ctx, s.c, "PATCH", "/webhooks/"+escape(webhookID), req, false, opts)
}

// Delete deletes an endpoint.
func (s *WebhooksService) Delete(ctx context.Context, webhookID string, opts ...RequestOption) error {
	return s.c.do(ctx, request{method: "DELETE", path: "/webhooks/" + escape(webhookID)}, nil, opts)
}

// RotateSecret gives the endpoint a new secret; the old one keeps signing for 24 hours.
func (s *WebhooksService) RotateSecret(ctx context.Context, webhookID string, opts ...RequestOption) (*WebhookWithSecret, error) {
	return send[WebhookWithSecret](ctx, s.c, "POST", "/webhooks/"+escape(webhookID)+"/rotate-secret", nil, false, opts)
}

// Test sends a webhook.ping event to the endpoint.
func (s *WebhooksService) Test(ctx context.Context, webhookID string, opts ...RequestOption) (*PingEvent, error) {
	return send[PingEvent](ctx, s.c, "POST", "/webhooks/"+escape(webhookID)+"/test", nil, false, opts)
}

// Deliveries returns one page of the endpoint's deliveries, newest first.
func (s *WebhooksService) Deliveries(ctx context.Context, webhookID string, params *ListWebhookDeliveriesParams, opts ...RequestOption) (*Page[WebhookDelivery], error) {
	return list[WebhookDelivery](ctx, s.c, "/webhooks/"+escape(webhookID)+"/deliveries", params, "", opts)
}

// AllDeliveries iterates over every delivery of the endpoint.
func (s *WebhooksService) AllDeliveries(ctx context.Context, webhookID string, params *ListWebhookDeliveriesParams, opts ...RequestOption) iter.Seq2[WebhookDelivery, error] {
	return all[WebhookDelivery](ctx, s.c, "/webhooks/"+escape(webhookID)+"/deliveries", params, opts)
}

// Delivery returns one delivery with every attempt.
func (s *WebhooksService) Delivery(ctx context.Context, webhookID, deliveryID string, opts ...RequestOption) (*WebhookDelivery, error) {
	return get[WebhookDelivery](ctx, s.c, "/webhooks/"+escape(webhookID)+"/deliveries/"+escape(deliveryID), opts)
}

// Redeliver queues one more attempt of a delivery.
func (s *WebhooksService) Redeliver(ctx context.Context, webhookID, deliveryID string, opts ...RequestOption) (*WebhookDelivery, error) {
	return send[WebhookDelivery](ctx, s.c, "POST", "/webhooks/"+escape(webhookID)+"/deliveries/"+escape(deliveryID)+"/redeliver", nil, false, opts)
}

// EventsService is /v1/events.
type EventsService struct{ c *Client }

// List returns one page of the organisation's events of the last 30 days, newest first.
func (s *EventsService) List(ctx context.Context, params *ListEventsParams, opts ...RequestOption) (*Page[Event], error) {
	return list[Event](ctx, s.c, "/events", params, "", opts)
}

// All iterates over every event matching params.
func (s *EventsService) All(ctx context.Context, params *ListEventsParams, opts ...RequestOption) iter.Seq2[Event, error] {
	return all[Event](ctx, s.c, "/events", params, opts)
}

// Get returns one event.
func (s *EventsService) Get(ctx context.Context, eventID string, opts ...RequestOption) (*Event, error) {
	return get[Event](ctx, s.c, "/events/"+escape(eventID), opts)
}

// PaymentsService is /v1/payments.
type PaymentsService struct{ c *Client }

// Create initiates a payment at the customer's bank; send the customer to its RedirectURL.
// It carries an Idempotency-Key (generated unless WithIdempotencyKey gives one), so a retry
// never pays twice.
func (s *PaymentsService) Create(ctx context.Context, req CreatePaymentRequest, opts ...RequestOption) (*Payment, error) {
	return send[Payment](ctx, s.c, "POST", "/payments", req, true, opts)
}

// ConfirmFunds asks the bank whether an account of a consent given for funds confirmation
// covers amount; nothing is reserved.
func (s *PaymentsService) ConfirmFunds(ctx context.Context, req FundsConfirmationRequest, opts ...RequestOption) (*FundsConfirmation, error) {
	return send[FundsConfirmation](ctx, s.c, "POST", "/funds-confirmations", req, true, opts)
}

// Get returns a payment with its status history.
func (s *PaymentsService) Get(ctx context.Context, paymentID string, opts ...RequestOption) (*Payment, error) {
	return get[Payment](ctx, s.c, "/payments/"+escape(paymentID), opts)
}

// List returns one page of payments, newest first.
func (s *PaymentsService) List(ctx context.Context, params *ListPaymentsParams, opts ...RequestOption) (*Page[Payment], error) {
	return list[Payment](ctx, s.c, "/payments", params, "", opts)
}

// All iterates over every payment matching params.
func (s *PaymentsService) All(ctx context.Context, params *ListPaymentsParams, opts ...RequestOption) iter.Seq2[Payment, error] {
	return all[Payment](ctx, s.c, "/payments", params, opts)
}

// Cancel cancels a payment awaiting authorisation or scheduled.
func (s *PaymentsService) Cancel(ctx context.Context, paymentID string, opts ...RequestOption) (*Payment, error) {
	return send[Payment](ctx, s.c, "DELETE", "/payments/"+escape(paymentID), nil, false, opts)
}

// VRPService is /v1/vrp-consents and /v1/vrps: variable recurring payments.
type VRPService struct{ c *Client }

// CreateConsent asks the customer for a VRP consent with its limits; send the customer to
// its RedirectURL. It carries an Idempotency-Key (generated unless WithIdempotencyKey gives one).
func (s *VRPService) CreateConsent(ctx context.Context, req CreateVrpConsentRequest, opts ...RequestOption) (*VrpConsent, error) {
	return send[VrpConsent](ctx, s.c, "POST", "/vrp-consents", req, true, opts)
}

// GetConsent returns a VRP consent with what its limits still allow (Remaining).
func (s *VRPService) GetConsent(ctx context.Context, consentID string, opts ...RequestOption) (*VrpConsent, error) {
	return get[VrpConsent](ctx, s.c, "/vrp-consents/"+escape(consentID), opts)
}

// ListConsents returns one page of VRP consents, newest first.
func (s *VRPService) ListConsents(ctx context.Context, params *ListVrpConsentsParams, opts ...RequestOption) (*Page[VrpConsent], error) {
	return list[VrpConsent](ctx, s.c, "/vrp-consents", params, "", opts)
}

// AllConsents iterates over every VRP consent matching params.
func (s *VRPService) AllConsents(ctx context.Context, params *ListVrpConsentsParams, opts ...RequestOption) iter.Seq2[VrpConsent, error] {
	return all[VrpConsent](ctx, s.c, "/vrp-consents", params, opts)
}

// RevokeConsent revokes a VRP consent, at the bank too.
func (s *VRPService) RevokeConsent(ctx context.Context, consentID string, opts ...RequestOption) (*VrpConsent, error) {
	return send[VrpConsent](ctx, s.c, "DELETE", "/vrp-consents/"+escape(consentID), nil, false, opts)
}

// ConfirmFunds asks the bank whether the consent's account covers amount.
func (s *VRPService) ConfirmFunds(ctx context.Context, consentID string, req VrpFundsRequest, opts ...RequestOption) (*FundsConfirmation, error) {
	return send[FundsConfirmation](ctx, s.c, "POST", "/vrp-consents/"+escape(consentID)+"/confirm-funds", req, true, opts)
}

// Pay makes a payment under a VRP consent, without the customer. It always carries an
// Idempotency-Key (generated unless WithIdempotencyKey gives one; give your own to retry
// safely across processes). Over a limit it is ErrLimitExceeded, and nothing is sent.
func (s *VRPService) Pay(ctx context.Context, req CreateVrpRequest, opts ...RequestOption) (*Payment, error) {
	return send[Payment](ctx, s.c, "POST", "/vrps", req, true, opts)
}

// GetPayment returns a VRP payment with its status history.
func (s *VRPService) GetPayment(ctx context.Context, paymentID string, opts ...RequestOption) (*Payment, error) {
	return get[Payment](ctx, s.c, "/vrps/"+escape(paymentID), opts)
}

// ListPayments returns one page of VRP payments, newest first.
func (s *VRPService) ListPayments(ctx context.Context, params *ListVrpsParams, opts ...RequestOption) (*Page[Payment], error) {
	return list[Payment](ctx, s.c, "/vrps", params, "", opts)
}

// AllPayments iterates over every VRP payment matching params.
func (s *VRPService) AllPayments(ctx context.Context, params *ListVrpsParams, opts ...RequestOption) iter.Seq2[Payment, error] {
	return all[Payment](ctx, s.c, "/vrps", params, opts)
}

// ConsentPayments returns one page of the payments made under a VRP consent, newest first.
func (s *VRPService) ConsentPayments(ctx context.Context, consentID string, params *ListVrpConsentPaymentsParams, opts ...RequestOption) (*Page[Payment], error) {
	return list[Payment](ctx, s.c, "/vrp-consents/"+escape(consentID)+"/payments", params, "", opts)
}

// AllConsentPayments iterates over every payment made under a VRP consent.
func (s *VRPService) AllConsentPayments(ctx context.Context, consentID string, params *ListVrpConsentPaymentsParams, opts ...RequestOption) iter.Seq2[Payment, error] {
	return all[Payment](ctx, s.c, "/vrp-consents/"+escape(consentID)+"/payments", params, opts)
}

// VrpPeriodicLimitRequest is one of CreateVrpConsentRequest's PeriodicLimits.
type VrpPeriodicLimitRequest = struct {
	// MaximumAmount Examples: 100.00
	MaximumAmount string `json:"maximumAmount"`

	// PeriodAlignment Default CONSENT.
	PeriodAlignment *CreateVrpConsentRequestPeriodicLimitsPeriodAlignment `json:"periodAlignment,omitempty"`
	PeriodType      CreateVrpConsentRequestPeriodicLimitsPeriodType       `json:"periodType"`
}

// RefundsService is /v1/refunds, /v1/payments/{id}/refunds and /v1/refund-batches.
type RefundsService struct{ c *Client }

// Create refunds a completed payment to its payer from the organisation's account; send the
// organisation to its RedirectURL to authorise it at its bank. It carries an
// Idempotency-Key (generated unless WithIdempotencyKey gives one), so a retry never refunds
// twice. A refund over what is left is ErrRefundExceedsPayment.
func (s *RefundsService) Create(ctx context.Context, paymentID string, req CreateRefundRequest, opts ...RequestOption) (*Refund, error) {
	return send[Refund](ctx, s.c, "POST", "/payments/"+escape(paymentID)+"/refunds", req, true, opts)
}

// Get returns a refund with its status history.
func (s *RefundsService) Get(ctx context.Context, refundID string, opts ...RequestOption) (*Refund, error) {
	return get[Refund](ctx, s.c, "/refunds/"+escape(refundID), opts)
}

// Cancel cancels a refund awaiting authorisation (not sent in a batch), at the bank and at
// Tok, giving its amount back to what is left to refund; any other refund is ErrConflict.
func (s *RefundsService) Cancel(ctx context.Context, refundID string, opts ...RequestOption) (*Refund, error) {
	return send[Refund](ctx, s.c, "POST", "/refunds/"+escape(refundID)+"/cancel", nil, true, opts)
}

// List returns one page of refunds, newest first.
func (s *RefundsService) List(ctx context.Context, params *ListRefundsParams, opts ...RequestOption) (*Page[Refund], error) {
	return list[Refund](ctx, s.c, "/refunds", params, "", opts)
}

// All iterates over every refund matching params.
func (s *RefundsService) All(ctx context.Context, params *ListRefundsParams, opts ...RequestOption) iter.Seq2[Refund, error] {
	return all[Refund](ctx, s.c, "/refunds", params, opts)
}

// ListForPayment returns one page of a payment's refunds, newest first.
func (s *RefundsService) ListForPayment(ctx context.Context, paymentID string, params *ListPaymentRefundsParams, opts ...RequestOption) (*Page[Refund], error) {
	return list[Refund](ctx, s.c, "/payments/"+escape(paymentID)+"/refunds", params, "", opts)
}

// CreateBatch sends refunds awaiting authorisation as one bulk payment with one SCA (with an
// Idempotency-Key as Create).
func (s *RefundsService) CreateBatch(ctx context.Context, req CreateRefundBatchRequest, opts ...RequestOption) (*RefundBatch, error) {
	return send[RefundBatch](ctx, s.c, "POST", "/refund-batches", req, true, opts)
}

// GetBatch returns a refund batch.
func (s *RefundsService) GetBatch(ctx context.Context, batchID string, opts ...RequestOption) (*RefundBatch, error) {
	return get[RefundBatch](ctx, s.c, "/refund-batches/"+escape(batchID), opts)
}

// OrganisationService is /v1/organisation.
type OrganisationService struct{ c *Client }

// Get returns the caller's organisation.
func (s *OrganisationService) Get(ctx context.Context, opts ...RequestOption) (*Organisation, error) {
	return get[Organisation](ctx, s.c, "/organisation", opts)
}

// Update changes the organisation's settings (admin, live key): nil fields stay, "" clears an
// optional one.
func (s *OrganisationService) Update(ctx context.Context, req UpdateOrganisationRequest, opts ...RequestOption) (*Organisation, error) {
	return send[Organisation](ctx, s.c, "PATCH", "/organisation", req, false, opts)
}

// APIKeysService is /v1/api-keys: the organisation's key pairs (admin; changes need a live key).
type APIKeysService struct{ c *Client }

// Create makes a key pair; its keys are in this answer only.
func (s *APIKeysService) Create(ctx context.Context, req CreateKeyPairRequest, opts ...RequestOption) (*NewKeyPair, error) {
	return send[NewKeyPair](ctx, s.c, "POST", "/api-keys", req, true, opts)
}

// List returns one page of key pairs, newest first, keys masked.
func (s *APIKeysService) List(ctx context.Context, params *ListAPIKeysParams, opts ...RequestOption) (*Page[KeyPair], error) {
	return list[KeyPair](ctx, s.c, "/api-keys", params, "", opts)
}

// All iterates over every key pair.
func (s *APIKeysService) All(ctx context.Context, params *ListAPIKeysParams, opts ...RequestOption) iter.Seq2[KeyPair, error] {
	return all[KeyPair](ctx, s.c, "/api-keys", params, opts)
}

// Rotate replaces a key pair with a new one of the same role; the old one works for the
// grace period. req may be nil.
func (s *APIKeysService) Rotate(ctx context.Context, keyPairID string, req *RotateKeyPairRequest, opts ...RequestOption) (*NewKeyPair, error) {
	return send[NewKeyPair](ctx, s.c, "POST", "/api-keys/"+escape(keyPairID)+"/rotate", optionalBody(req), true, opts)
}

// Revoke revokes both keys of a pair at once.
func (s *APIKeysService) Revoke(ctx context.Context, keyPairID string, opts ...RequestOption) error {
	return s.c.do(ctx, request{method: "DELETE", path: "/api-keys/" + escape(keyPairID)}, nil, opts)
}

// MembersService is /v1/members: the organisation's members.
type MembersService struct{ c *Client }

// Add adds a member (admin).
func (s *MembersService) Add(ctx context.Context, req AddMemberRequest, opts ...RequestOption) (*Member, error) {
	return send[Member](ctx, s.c, "POST", "/members", req, true, opts)
}

// List returns one page of members, oldest first.
func (s *MembersService) List(ctx context.Context, params *ListMembersParams, opts ...RequestOption) (*Page[Member], error) {
	return list[Member](ctx, s.c, "/members", params, "", opts)
}

// All iterates over every member.
func (s *MembersService) All(ctx context.Context, params *ListMembersParams, opts ...RequestOption) iter.Seq2[Member, error] {
	return all[Member](ctx, s.c, "/members", params, opts)
}

// Get returns a member.
func (s *MembersService) Get(ctx context.Context, memberID string, opts ...RequestOption) (*Member, error) {
	return get[Member](ctx, s.c, "/members/"+escape(memberID), opts)
}

// Update changes a member's role (admin).
func (s *MembersService) Update(ctx context.Context, memberID string, req UpdateMemberRequest, opts ...RequestOption) (*Member, error) {
	return send[Member](ctx, s.c, "PATCH", "/members/"+escape(memberID), req, false, opts)
}

// Remove removes a member (admin).
func (s *MembersService) Remove(ctx context.Context, memberID string, opts ...RequestOption) error {
	return s.c.do(ctx, request{method: "DELETE", path: "/members/" + escape(memberID)}, nil, opts)
}

// SandboxService is /v1/sandbox: controls for sandbox keys only (a live key gets 404).
type SandboxService struct{ c *Client }

// ExpireConsent makes the bank report the consent expired, as a sync would meet it.
func (s *SandboxService) ExpireConsent(ctx context.Context, consentID string, opts ...RequestOption) (*SandboxConsentChange, error) {
	return send[SandboxConsentChange](ctx, s.c, "POST", "/sandbox/consents/"+escape(consentID)+"/expire", nil, true, opts)
}

// RevokeConsent revokes the consent at the bank, as the customer would.
func (s *SandboxService) RevokeConsent(ctx context.Context, consentID string, opts ...RequestOption) (*SandboxConsentChange, error) {
	return send[SandboxConsentChange](ctx, s.c, "POST", "/sandbox/consents/"+escape(consentID)+"/revoke", nil, true, opts)
}

// RevokeVRPConsent revokes a VRP consent's mandate at the sandbox bank, as the customer
// would: the consent becomes REVOKED with revokedBy "bank".
func (s *SandboxService) RevokeVRPConsent(ctx context.Context, vrpConsentID string, opts ...RequestOption) (*VrpConsent, error) {
	return send[VrpConsent](ctx, s.c, "POST", "/sandbox/vrp-consents/"+escape(vrpConsentID)+"/revoke", nil, true, opts)
}

// FireWebhook publishes an event of any type with sample data to the subscribed endpoints.
func (s *SandboxService) FireWebhook(ctx context.Context, req SandboxFireRequest, opts ...RequestOption) (*Event, error) {
	return send[Event](ctx, s.c, "POST", "/sandbox/webhooks/fire", req, true, opts)
}

// AddTransaction books a transaction at the sandbox bank; the next sync reads it.
func (s *SandboxService) AddTransaction(ctx context.Context, accountID string, req SandboxAddTransactionRequest, opts ...RequestOption) (*SandboxTransaction, error) {
	return send[SandboxTransaction](ctx, s.c, "POST", "/sandbox/accounts/"+escape(accountID)+"/transactions", req, true, opts)
}
