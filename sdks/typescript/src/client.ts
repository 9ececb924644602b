import { Transport, seg, type Call, type Query, type RequestOptions, type RetryEvent } from "./http.js";
import { PagePromise, toPage, type ListBody, type Page } from "./pagination.js";
import { attachResponse, type ResponseInfo, type WithResponse } from "./response.js";
import type * as T from "./types.js";

export interface TokClientOptions {
  /** `tok_live_…` or `tok_sandbox_…`; default the TOK_API_KEY environment variable. */
  apiKey?: string;
  /** Default TOK_API_URL, else https://api.tokapi.io/v1 for a live key and https://sandbox.api.tokapi.io/v1 for a sandbox key. */
  baseUrl?: string;
  /** Per attempt, in milliseconds (default 30 000). */
  timeoutMs?: number;
  /** Retries of an idempotent request or a POST with an Idempotency-Key after a 429, a 502/503/504 or a connection error (default 3). */
  maxRetries?: number;
  /** The longest single wait between attempts, and the longest Retry-After waited out (default 60 000 ms). */
  maxRetryDelayMs?: number;
  /** A fetch implementation (default the global fetch). */
  fetch?: typeof fetch;
  /** Called before each retry, e.g. to log it. */
  onRetry?: (e: RetryEvent) => void;
}

export const DEFAULT_BASE_URL = "https://api.tokapi.io/v1";
export const SANDBOX_BASE_URL = "https://sandbox.api.tokapi.io/v1";

/**
 * The Tok API client. Every method returns the API's JSON object with its response
 * attached as `$response`; list methods return a {@link PagePromise}.
 */
export class TokClient {
  readonly banks: Banks;
  readonly consents: Consents;
  readonly accounts: Accounts;
  readonly transactions: Transactions;
  readonly standingOrders: StandingOrders;
  readonly webhooks: Webhooks;
  readonly events: Events;
  readonly payments: Payments;
  readonly vrp: Vrp;
  readonly refunds: Refunds;
  readonly organisation: OrganisationResource;
  readonly apiKeys: ApiKeys;
  readonly members: Members;
  readonly sandbox: Sandbox;
  private readonly transport: Transport;

  constructor(options: TokClientOptions = {}) {
    const apiKey = options.apiKey ?? process.env["TOK_API_KEY"];
    if (!apiKey) throw new Error("TokClient: no API key (pass apiKey or set TOK_API_KEY)");
    this.transport = new Transport({
      apiKey,
      baseUrl: options.baseUrl ?? process.env["TOK_API_URL"] ??
        (apiKey.startsWith("tok_sandbox_") ? SANDBOX_BASE_URL : DEFAULT_BASE_URL),
      timeoutMs: options.timeoutMs ?? 30_000,
      maxRetries: options.maxRetries ?? 3,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 60_000,
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
    });
    this.banks = new Banks(this);
    this.consents = new Consents(this);
    this.accounts = new Accounts(this);
    this.transactions = new Transactions(this);
    this.standingOrders = new StandingOrders(this);
    this.webhooks = new Webhooks(this);
    this.events = new Events(this);
    this.payments = new Payments(this);
    this.vrp = new Vrp(this);
    this.refunds = new Refunds(this);
    this.organisation = new OrganisationResource(this);
    this.apiKeys = new ApiKeys(this);
    this.members = new Members(this);
    this.sandbox = new Sandbox(this);
  }

  /**
   * Any API call, for endpoints this SDK does not wrap yet: the parsed JSON body (or an
   * empty object for 204) with `$response`. Errors are thrown as the typed TokError subclasses.
   */
  async request<R extends object = Record<string, unknown>>(method: Call["method"], path: string,
    init: { query?: Query; body?: unknown; creates?: boolean; options?: RequestOptions } = {}): Promise<WithResponse<R>> {
    const { body, info } = await this.transport.send({ method, path, ...init });
    return attachResponse((body ?? {}) as R, info);
  }

  /** @internal */
  list<I>(path: string, query: Query & { cursor?: string }, options?: RequestOptions): PagePromise<I> {
    return new PagePromise<I>(async (cursor) => {
      const { body, info } = await this.transport.send({ method: "GET", path, query: { ...query, cursor }, options });
      return toPage(body as ListBody<I>, info);
    }, query.cursor);
  }
}

abstract class Resource {
  constructor(protected readonly client: TokClient) {}

  protected read<R extends object>(path: string, options?: RequestOptions, query?: Query): Promise<WithResponse<R>> {
    return this.client.request<R>("GET", path, { ...(query ? { query } : {}), ...(options ? { options } : {}) });
  }

  protected call<R extends object>(method: Call["method"], path: string, body: unknown, options?: RequestOptions,
    creates = false): Promise<WithResponse<R>> {
    return this.client.request<R>(method, path, { body, creates, ...(options ? { options } : {}) });
  }
}

export class Banks extends Resource {
  list(params: T.ListBanksParams = {}, options?: RequestOptions): PagePromise<T.Bank> {
    return this.client.list("/banks", params, options);
  }
  get(bankId: string, options?: RequestOptions): Promise<WithResponse<T.Bank>> {
    return this.read(`/banks/${seg(bankId)}`, options);
  }
}

export class Consents extends Resource {
  /** Starts a consent; send the customer to `redirectUrl`. Retried safely under an Idempotency-Key. */
  create(body: T.CreateConsentRequest, options?: RequestOptions): Promise<WithResponse<T.Consent>> {
    return this.call("POST", "/consents", body, options, true);
  }
  list(params: T.ListConsentsParams = {}, options?: RequestOptions): PagePromise<T.Consent> {
    return this.client.list("/consents", params, options);
  }
  get(consentId: string, options?: RequestOptions): Promise<WithResponse<T.Consent>> {
    return this.read(`/consents/${seg(consentId)}`, options);
  }
  /** Revokes the consent at the bank and at Tok. */
  revoke(consentId: string, options?: RequestOptions): Promise<WithResponse<T.Consent>> {
    return this.call("DELETE", `/consents/${seg(consentId)}`, undefined, options);
  }
  /** Starts a renewal with a new SCA on the same bank connection. */
  renew(consentId: string, body: T.RenewConsentRequest = {}, options?: RequestOptions): Promise<WithResponse<T.Consent>> {
    return this.call("POST", `/consents/${seg(consentId)}/renew`, body, options, true);
  }
  /** Syncs the consent's accounts now (sync.completed follows); without psuIpAddress it takes an unattended access (AccessExceededError when none is left). */
  refresh(consentId: string, body: T.RefreshConsentRequest = {}, options?: RequestOptions): Promise<WithResponse<T.ConsentRefresh>> {
    return this.call("POST", `/consents/${seg(consentId)}/refresh`, body, options, true);
  }
}

export class Accounts extends Resource {
  list(params: T.ListAccountsParams = {}, options?: RequestOptions): PagePromise<T.Account> {
    return this.client.list("/accounts", params, options);
  }
  get(accountId: string, options?: RequestOptions): Promise<WithResponse<T.Account>> {
    return this.read(`/accounts/${seg(accountId)}`, options);
  }
  balances(accountId: string, options?: RequestOptions): Promise<WithResponse<T.AccountBalances>> {
    return this.read(`/accounts/${seg(accountId)}/balances`, options);
  }
}

export class Transactions extends Resource {
  /** Newest first; `dateFrom`/`dateTo` are YYYY-MM-DD, `status` booked, pending or all. */
  list(accountId: string, params: T.ListTransactionsParams = {}, options?: RequestOptions): PagePromise<T.Transaction> {
    return this.client.list(`/accounts/${seg(accountId)}/transactions`, params, options);
  }
  get(accountId: string, transactionId: string, options?: RequestOptions): Promise<WithResponse<T.Transaction>> {
    return this.read(`/accounts/${seg(accountId)}/transactions/${seg(transactionId)}`, options);
  }
  /** What changed since `cursor` (everything without one); keep the last page's `nextCursor`. */
  changes(accountId: string, params: T.ListTransactionChangesParams = {}, options?: RequestOptions): PagePromise<T.TransactionChange> {
    return this.client.list(`/accounts/${seg(accountId)}/transactions/changes`, params, options);
  }
}

export class StandingOrders extends Resource {
  list(accountId: string, params: T.ListStandingOrdersParams = {}, options?: RequestOptions): PagePromise<T.StandingOrder> {
    return this.client.list(`/accounts/${seg(accountId)}/standing-orders`, params, options);
  }
  get(accountId: string, standingOrderId: string, options?: RequestOptions): Promise<WithResponse<T.StandingOrder>> {
    return this.read(`/accounts/${seg(accountId)}/standing-orders/${seg(standingOrderId)}`, options);
  }
}

export class Webhooks extends Resource {
  list(params: T.ListWebhooksParams = {}, options?: RequestOptions): PagePromise<T.Webhook> {
    return this.client.list("/webhooks", params, options);
  }
  /** Registers an endpoint; the returned `secret` is shown only here. */
  create(body: T.CreateWebhookRequest, options?: RequestOptions): Promise<WithResponse<T.WebhookWithSecret>> {
    return this.call("POST", "/webhooks", body, options, true);
  }
  get(webhookId: string, options?: RequestOptions): Promise<WithResponse<T.Webhook>> {
    return this.read(`/webhooks/${seg(webhookId)}`, options);
  }
  update(webhookId: string, body: T.UpdateWebhookRequest, options?: RequestOptions): Promise<WithResponse<T.Webhook>> {
    return this.call("PATCH", `/webhooks/${seg(webhookId)}`, body, options);
  }
  delete(webhookId: string, options?: RequestOptions): Promise<WithResponse<object>> {
    return this.call("DELETE", `/webhooks/${seg(webhookId)}`, undefined, options);
  }
  /** A new secret; the old one keeps signing (a second signature) for 24 hours. */
  rotateSecret(webhookId: string, options?: RequestOptions): Promise<WithResponse<T.WebhookWithSecret>> {
    return this.call("POST", `/webhooks/${seg(webhookId)}/rotate-secret`, undefined, options);
  }
  /** Sends a webhook.ping to this endpoint. */
  test(webhookId: string, options?: RequestOptions): Promise<WithResponse<T.PingEvent>> {
    return this.call("POST", `/webhooks/${seg(webhookId)}/test`, undefined, options);
  }
  deliveries(webhookId: string, params: T.ListWebhookDeliveriesParams = {}, options?: RequestOptions): PagePromise<T.WebhookDelivery> {
    return this.client.list(`/webhooks/${seg(webhookId)}/deliveries`, params, options);
  }
  delivery(webhookId: string, deliveryId: string, options?: RequestOptions): Promise<WithResponse<T.WebhookDelivery>> {
    return this.read(`/webhooks/${seg(webhookId)}/deliveries/${seg(deliveryId)}`, options);
  }
  redeliver(webhookId: string, deliveryId: string, options?: RequestOptions): Promise<WithResponse<T.WebhookDelivery>> {
    return this.call("POST", `/webhooks/${seg(webhookId)}/deliveries/${seg(deliveryId)}/redeliver`, undefined, options);
  }
}

export class Events extends Resource {
  list(params: T.ListEventsParams = {}, options?: RequestOptions): PagePromise<T.Event> {
    return this.client.list("/events", params, options);
  }
  get(eventId: string, options?: RequestOptions): Promise<WithResponse<T.Event>> {
    return this.read(`/events/${seg(eventId)}`, options);
  }
}

export class Payments extends Resource {
  /** Initiates a payment; send the customer to `redirectUrl`. Retried safely under an Idempotency-Key. */
  create(body: T.CreatePaymentRequest, options?: RequestOptions): Promise<WithResponse<T.Payment>> {
    return this.call("POST", "/payments", body, options, true);
  }
  list(params: T.ListPaymentsParams = {}, options?: RequestOptions): PagePromise<T.Payment> {
    return this.client.list("/payments", params, options);
  }
  get(paymentId: string, options?: RequestOptions): Promise<WithResponse<T.Payment>> {
    return this.read(`/payments/${seg(paymentId)}`, options);
  }
  /** Cancels a payment awaiting authorisation or scheduled (409 CONFLICT otherwise). */
  cancel(paymentId: string, options?: RequestOptions): Promise<WithResponse<T.Payment>> {
    return this.call("DELETE", `/payments/${seg(paymentId)}`, undefined, options);
  }
  /** Asks the bank whether an account of a consent given for funds confirmation covers `amount`; nothing is reserved. */
  confirmFunds(body: T.FundsConfirmationRequest, options?: RequestOptions): Promise<WithResponse<T.FundsConfirmation>> {
    return this.call("POST", "/funds-confirmations", body, options, true);
  }
}

/** Variable recurring payments: /v1/vrp-consents and /v1/vrps. Amounts are decimal strings, never numbers. */
export class Vrp extends Resource {
  /** Asks the customer for a VRP consent with its limits; send the customer to `redirectUrl`. Retried safely under an Idempotency-Key. */
  createConsent(body: T.CreateVrpConsentRequest, options?: RequestOptions): Promise<WithResponse<T.VrpConsent>> {
    return this.call("POST", "/vrp-consents", body, options, true);
  }
  listConsents(params: T.ListVrpConsentsParams = {}, options?: RequestOptions): PagePromise<T.VrpConsent> {
    return this.client.list("/vrp-consents", params, options);
  }
  /** The consent with `remaining`: per periodic limit what is left and when it resets, and the payments left. */
  getConsent(consentId: string, options?: RequestOptions): Promise<WithResponse<T.VrpConsent>> {
    return this.read(`/vrp-consents/${seg(consentId)}`, options);
  }
  /** Revokes the consent, at the bank too; later payments are ConsentRevokedError. */
  revokeConsent(consentId: string, options?: RequestOptions): Promise<WithResponse<T.VrpConsent>> {
    return this.call("DELETE", `/vrp-consents/${seg(consentId)}`, undefined, options);
  }
  /** The payments made under the consent, newest first. */
  consentPayments(consentId: string, params: T.ListVrpConsentPaymentsParams = {}, options?: RequestOptions): PagePromise<T.Payment> {
    return this.client.list(`/vrp-consents/${seg(consentId)}/payments`, params, options);
  }
  /** Asks the bank whether the consent's account covers `amount`; nothing is reserved or sent. */
  confirmFunds(consentId: string, body: T.VrpFundsRequest, options?: RequestOptions): Promise<WithResponse<T.FundsConfirmation>> {
    return this.call("POST", `/vrp-consents/${seg(consentId)}/confirm-funds`, body, options, true);
  }
  /**
   * Pays under a consent, without the customer. It always carries an Idempotency-Key (a UUID
   * unless `options.idempotencyKey` gives one: give your own to retry safely across
   * processes). Over a limit it is LimitExceededError, whose `details[0]` names the limit and
   * says what is left; nothing is sent to the bank.
   */
  pay(body: T.CreateVrpRequest, options?: RequestOptions): Promise<WithResponse<T.Payment>> {
    return this.call("POST", "/vrps", body, options, true);
  }
  listPayments(params: T.ListVrpsParams = {}, options?: RequestOptions): PagePromise<T.Payment> {
    return this.client.list("/vrps", params, options);
  }
  getPayment(paymentId: string, options?: RequestOptions): Promise<WithResponse<T.Payment>> {
    return this.read(`/vrps/${seg(paymentId)}`, options);
  }
}

export class Refunds extends Resource {
  /** Refunds a completed payment to its payer; send the organisation to `redirectUrl`. Retried safely under an Idempotency-Key; over what is left is RefundExceedsPaymentError. */
  create(paymentId: string, body: T.CreateRefundRequest = {}, options?: RequestOptions): Promise<WithResponse<T.Refund>> {
    return this.call("POST", `/payments/${seg(paymentId)}/refunds`, body, options, true);
  }
  list(params: T.ListRefundsParams = {}, options?: RequestOptions): PagePromise<T.Refund> {
    return this.client.list("/refunds", params, options);
  }
  listForPayment(paymentId: string, params: T.ListPaymentRefundsParams = {}, options?: RequestOptions): PagePromise<T.Refund> {
    return this.client.list(`/payments/${seg(paymentId)}/refunds`, params, options);
  }
  get(refundId: string, options?: RequestOptions): Promise<WithResponse<T.Refund>> {
    return this.read(`/refunds/${seg(refundId)}`, options);
  }
  /** Cancels a refund awaiting authorisation, not in a batch (409 CONFLICT otherwise); its amount is refundable again. */
  cancel(refundId: string, options?: RequestOptions): Promise<WithResponse<T.Refund>> {
    return this.call("POST", `/refunds/${seg(refundId)}/cancel`, undefined, options, true);
  }
  /** Sends refunds awaiting authorisation as one bulk payment with one SCA (`redirectUrl`). */
  createBatch(body: T.CreateRefundBatchRequest, options?: RequestOptions): Promise<WithResponse<T.RefundBatch>> {
    return this.call("POST", "/refund-batches", body, options, true);
  }
  getBatch(batchId: string, options?: RequestOptions): Promise<WithResponse<T.RefundBatch>> {
    return this.read(`/refund-batches/${seg(batchId)}`, options);
  }
}

export class OrganisationResource extends Resource {
  get(options?: RequestOptions): Promise<WithResponse<T.Organisation>> {
    return this.read("/organisation", options);
  }
  /** Changes the settings (admin, live key); fields left out stay, "" clears an optional one. */
  update(body: T.UpdateOrganisationRequest, options?: RequestOptions): Promise<WithResponse<T.Organisation>> {
    return this.call("PATCH", "/organisation", body, options);
  }
}

/** The organisation's key pairs (admin; creating, rotating and revoking need a live key). */
export class ApiKeys extends Resource {
  list(params: T.ListApiKeysParams = {}, options?: RequestOptions): PagePromise<T.KeyPair> {
    return this.client.list("/api-keys", params, options);
  }
  /** A new key pair; its keys are in this answer only. */
  create(body: T.CreateKeyPairRequest, options?: RequestOptions): Promise<WithResponse<T.NewKeyPair>> {
    return this.call("POST", "/api-keys", body, options, true);
  }
  /** Replaces the pair with a new one of the same role; the old one works for the grace period. */
  rotate(keyPairId: string, body?: T.RotateKeyPairRequest, options?: RequestOptions): Promise<WithResponse<T.NewKeyPair>> {
    return this.call("POST", `/api-keys/${seg(keyPairId)}/rotate`, body, options, true);
  }
  /** Revokes both keys of the pair at once. */
  revoke(keyPairId: string, options?: RequestOptions): Promise<WithResponse<object>> {
    return this.call("DELETE", `/api-keys/${seg(keyPairId)}`, undefined, options);
  }
}

/** The organisation's members. */
export class Members extends Resource {
  list(params: T.ListMembersParams = {}, options?: RequestOptions): PagePromise<T.Member> {
    return this.client.list("/members", params, options);
  }
  add(body: T.AddMemberRequest, options?: RequestOptions): Promise<WithResponse<T.Member>> {
    return this.call("POST", "/members", body, options, true);
  }
  get(memberId: string, options?: RequestOptions): Promise<WithResponse<T.Member>> {
    return this.read(`/members/${seg(memberId)}`, options);
  }
  /** Changes the member's role (admin). */
  update(memberId: string, body: T.UpdateMemberRequest, options?: RequestOptions): Promise<WithResponse<T.Member>> {
    return this.call("PATCH", `/members/${seg(memberId)}`, body, options);
  }
  remove(memberId: string, options?: RequestOptions): Promise<WithResponse<object>> {
    return this.call("DELETE", `/members/${seg(memberId)}`, undefined, options);
  }
}

/** Controls for sandbox keys only (a live key gets 404). */
export class Sandbox extends Resource {
  /** The bank reports the consent expired, as a sync would meet it. */
  expireConsent(consentId: string, options?: RequestOptions): Promise<WithResponse<T.SandboxConsentChange>> {
    return this.call("POST", `/sandbox/consents/${seg(consentId)}/expire`, undefined, options, true);
  }
  /** The customer revokes the consent at the bank. */
  revokeConsent(consentId: string, options?: RequestOptions): Promise<WithResponse<T.SandboxConsentChange>> {
    return this.call("POST", `/sandbox/consents/${seg(consentId)}/revoke`, undefined, options, true);
  }
  /** The customer revokes a VRP consent's mandate at the bank: the consent becomes REVOKED with revokedBy "bank". */
  revokeVrpConsent(vrpConsentId: string, options?: RequestOptions): Promise<WithResponse<T.VrpConsent>> {
    return this.call("POST", `/sandbox/vrp-consents/${seg(vrpConsentId)}/revoke`, undefined, options, true);
  }
  /** Publishes an event of any type with sample data to the subscribed endpoints. */
  fireWebhook(body: T.SandboxFireRequest, options?: RequestOptions): Promise<WithResponse<T.Event>> {
    return this.call("POST", "/sandbox/webhooks/fire", body, options, true);
  }
  /** Books a transaction at the sandbox bank; the next sync reads it. */
  addTransaction(accountId: string, body: T.SandboxAddTransactionRequest, options?: RequestOptions): Promise<WithResponse<T.SandboxTransaction>> {
    return this.call("POST", `/sandbox/accounts/${seg(accountId)}/transactions`, body, options, true);
  }
}

export type { Page, ResponseInfo };
