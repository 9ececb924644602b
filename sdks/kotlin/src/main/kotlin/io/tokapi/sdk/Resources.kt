package io.tokapi.sdk

import java.net.URLEncoder
import java.nio.charset.StandardCharsets

private fun seg(s: String) = URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20")

internal inline fun <reified T> TokClient.getOne(path: String): T = call<T>("GET", path, T::class.java).first

internal inline fun <reified T> TokClient.send(
    method: String, path: String, body: Any? = null, creates: Boolean = false, idempotencyKey: String? = null
): T = call<T>(method, path, T::class.java, body = body, creates = creates, idempotencyKey = idempotencyKey).first

/** /v1/banks */
class Banks internal constructor(private val c: TokClient) {
    /** The banks of the key's environment (one page). */
    fun list(country: String? = null, service: String? = null): Page<Bank> =
        c.page(Bank::class.java, "/banks", mapOf("country" to country, "service" to service))

    fun get(bankId: String): Bank = c.getOne("/banks/${seg(bankId)}")
}

/** /v1/consents */
class Consents internal constructor(private val c: TokClient) {
    /** Starts a consent; send the customer to its redirectUrl. Retried safely: it carries an Idempotency-Key. */
    fun create(request: CreateConsentRequest, idempotencyKey: String? = null): Consent =
        c.send("POST", "/consents", request, creates = true, idempotencyKey = idempotencyKey)

    fun get(consentId: String): Consent = c.getOne("/consents/${seg(consentId)}")

    fun list(status: String? = null, bankId: String? = null, limit: Int? = null, cursor: String? = null): Page<Consent> =
        c.page(Consent::class.java, "/consents", query(status, bankId, limit, cursor))

    fun listAll(status: String? = null, bankId: String? = null, limit: Int? = null): Sequence<Consent> =
        c.pages(Consent::class.java, "/consents", query(status, bankId, limit, null))

    private fun query(status: String?, bankId: String?, limit: Int?, cursor: String?) =
        mapOf("status" to status, "bankId" to bankId, "limit" to limit, "cursor" to cursor)

    fun revoke(consentId: String): Consent = c.send("DELETE", "/consents/${seg(consentId)}")

    /** Starts a new consent on the same bank connection. */
    fun renew(consentId: String, request: RenewConsentRequest? = null, idempotencyKey: String? = null): Consent =
        c.send("POST", "/consents/${seg(consentId)}/renew", request, creates = true, idempotencyKey = idempotencyKey)

    /** Syncs the consent's accounts now (sync.completed follows); without psuIpAddress it takes an unattended access (AccessExceededError when none is left). */
    fun refresh(consentId: String, request: RefreshConsentRequest? = null, idempotencyKey: String? = null): ConsentRefresh =
        c.send("POST", "/consents/${seg(consentId)}/refresh", request, creates = true, idempotencyKey = idempotencyKey)
}

/** /v1/accounts */
class Accounts internal constructor(private val c: TokClient) {
    fun list(consentId: String? = null, bankId: String? = null, currency: String? = null, limit: Int? = null, cursor: String? = null): Page<Account> =
        c.page(Account::class.java, "/accounts", query(consentId, bankId, currency, limit, cursor))

    fun listAll(consentId: String? = null, bankId: String? = null, currency: String? = null, limit: Int? = null): Sequence<Account> =
        c.pages(Account::class.java, "/accounts", query(consentId, bankId, currency, limit, null))

    private fun query(consentId: String?, bankId: String?, currency: String?, limit: Int?, cursor: String?) =
        mapOf("consentId" to consentId, "bankId" to bankId, "currency" to currency, "limit" to limit, "cursor" to cursor)

    fun get(accountId: String): Account = c.getOne("/accounts/${seg(accountId)}")

    fun balances(accountId: String): AccountBalances = c.getOne("/accounts/${seg(accountId)}/balances")
}

/** /v1/accounts/{id}/transactions */
class Transactions internal constructor(private val c: TokClient) {
    /** One page, newest first; dates are YYYY-MM-DD, status booked, pending or all. */
    fun list(accountId: String, dateFrom: String? = null, dateTo: String? = null, status: String? = null, limit: Int? = null, cursor: String? = null): Page<Transaction> =
        c.page(Transaction::class.java, path(accountId), query(dateFrom, dateTo, status, limit, cursor))

    /** Every matching transaction, page after page. */
    fun listAll(accountId: String, dateFrom: String? = null, dateTo: String? = null, status: String? = null, limit: Int? = null): Sequence<Transaction> =
        c.pages(Transaction::class.java, path(accountId), query(dateFrom, dateTo, status, limit, null))

    private fun path(accountId: String) = "/accounts/${seg(accountId)}/transactions"

    private fun query(dateFrom: String?, dateTo: String?, status: String?, limit: Int?, cursor: String?) =
        mapOf("dateFrom" to dateFrom, "dateTo" to dateTo, "status" to status, "limit" to limit, "cursor" to cursor)

    fun get(accountId: String, transactionId: String): Transaction = c.getOne("${path(accountId)}/${seg(transactionId)}")

    /** What changed since cursor (everything as added without one); keep the last nextCursor. */
    fun changes(accountId: String, limit: Int? = null, cursor: String? = null): Page<TransactionChange> =
        c.page(TransactionChange::class.java, "${path(accountId)}/changes", mapOf("limit" to limit, "cursor" to cursor))
}

/** /v1/accounts/{id}/standing-orders */
class StandingOrders internal constructor(private val c: TokClient) {
    fun list(accountId: String, limit: Int? = null, cursor: String? = null): Page<StandingOrder> =
        c.page(StandingOrder::class.java, path(accountId), mapOf("limit" to limit, "cursor" to cursor))

    fun listAll(accountId: String, limit: Int? = null): Sequence<StandingOrder> =
        c.pages(StandingOrder::class.java, path(accountId), mapOf("limit" to limit))

    fun get(accountId: String, standingOrderId: String): StandingOrder = c.getOne("${path(accountId)}/${seg(standingOrderId)}")

    private fun path(accountId: String) = "/accounts/${seg(accountId)}/standing-orders"
}

/** /v1/webhooks */
class Webhooks internal constructor(private val c: TokClient) {
    /** Registers an endpoint; its secret is shown only in this answer. */
    fun create(request: CreateWebhookRequest, idempotencyKey: String? = null): WebhookWithSecret =
        c.send("POST", "/webhooks", request, creates = true, idempotencyKey = idempotencyKey)

    fun get(webhookId: String): Webhook = c.getOne("/webhooks/${seg(webhookId)}")

    fun list(limit: Int? = null, cursor: String? = null): Page<Webhook> =
        c.page(Webhook::class.java, "/webhooks", mapOf("limit" to limit, "cursor" to cursor))

    fun update(webhookId: String, request: UpdateWebhookRequest): Webhook = c.send("PATCH", "/webhooks/${seg(webhookId)}", request)

    fun delete(webhookId: String) {
        c.send<Any?>("DELETE", "/webhooks/${seg(webhookId)}")
    }

    /** A new signing secret; the old one keeps signing for 24 hours. */
    fun rotateSecret(webhookId: String): WebhookWithSecret = c.send("POST", "/webhooks/${seg(webhookId)}/rotate-secret")

    /** Sends a webhook.ping to the endpoint. */
    fun test(webhookId: String): PingEvent = c.send("POST", "/webhooks/${seg(webhookId)}/test")

    fun deliveries(webhookId: String, limit: Int? = null, cursor: String? = null): Page<WebhookDelivery> =
        c.page(WebhookDelivery::class.java, "/webhooks/${seg(webhookId)}/deliveries", mapOf("limit" to limit, "cursor" to cursor))

    fun delivery(webhookId: String, deliveryId: String): WebhookDelivery =
        c.getOne("/webhooks/${seg(webhookId)}/deliveries/${seg(deliveryId)}")

    fun redeliver(webhookId: String, deliveryId: String): WebhookDelivery =
        c.send("POST", "/webhooks/${seg(webhookId)}/deliveries/${seg(deliveryId)}/redeliver")
}

/** /v1/events */
class Events internal constructor(private val c: TokClient) {
    fun list(type: String? = null, limit: Int? = null, cursor: String? = null): Page<Event> =
        c.page(Event::class.java, "/events", mapOf("type" to type, "limit" to limit, "cursor" to cursor))

    fun listAll(type: String? = null, limit: Int? = null): Sequence<Event> =
        c.pages(Event::class.java, "/events", mapOf("type" to type, "limit" to limit))

    fun get(eventId: String): Event = c.getOne("/events/${seg(eventId)}")
}

/** /v1/payments */
class Payments internal constructor(private val c: TokClient) {
    /** Initiates a payment; send the customer to its redirectUrl. Carries an Idempotency-Key, so a retry never pays twice. */
    fun create(request: CreatePaymentRequest, idempotencyKey: String? = null): Payment =
        c.send("POST", "/payments", request, creates = true, idempotencyKey = idempotencyKey)

    fun get(paymentId: String): Payment = c.getOne("/payments/${seg(paymentId)}")

    fun list(status: String? = null, accountId: String? = null, createdFrom: String? = null, createdTo: String? = null, limit: Int? = null, cursor: String? = null): Page<Payment> =
        c.page(Payment::class.java, "/payments", query(status, accountId, createdFrom, createdTo, limit, cursor))

    fun listAll(status: String? = null, accountId: String? = null, createdFrom: String? = null, createdTo: String? = null, limit: Int? = null): Sequence<Payment> =
        c.pages(Payment::class.java, "/payments", query(status, accountId, createdFrom, createdTo, limit, null))

    private fun query(status: String?, accountId: String?, createdFrom: String?, createdTo: String?, limit: Int?, cursor: String?) =
        mapOf("status" to status, "accountId" to accountId, "createdFrom" to createdFrom, "createdTo" to createdTo, "limit" to limit, "cursor" to cursor)

    /** Cancels a payment awaiting authorisation or scheduled (409 CONFLICT otherwise). */
    fun cancel(paymentId: String): Payment = c.send("DELETE", "/payments/${seg(paymentId)}")

    /** Asks the bank whether an account of a consent given for funds confirmation covers the amount; nothing is reserved. */
    fun confirmFunds(request: FundsConfirmationRequest, idempotencyKey: String? = null): FundsConfirmation =
        c.send("POST", "/funds-confirmations", request, creates = true, idempotencyKey = idempotencyKey)
}

/** Variable recurring payments: /v1/vrp-consents and /v1/vrps. Amounts are decimal strings ([Money] turns them into BigDecimal). */
class Vrp internal constructor(private val c: TokClient) {
    /** Asks the customer for a VRP consent with its limits; send the customer to its redirectUrl. Carries an Idempotency-Key. */
    fun createConsent(request: CreateVrpConsentRequest, idempotencyKey: String? = null): VrpConsent =
        c.send("POST", "/vrp-consents", request, creates = true, idempotencyKey = idempotencyKey)

    /** The consent with remaining: per periodic limit what is left and when it resets, and the payments left. */
    fun getConsent(consentId: String): VrpConsent = c.getOne("/vrp-consents/${seg(consentId)}")

    fun listConsents(status: String? = null, limit: Int? = null, cursor: String? = null): Page<VrpConsent> =
        c.page(VrpConsent::class.java, "/vrp-consents", mapOf("status" to status, "limit" to limit, "cursor" to cursor))

    fun listAllConsents(status: String? = null, limit: Int? = null): Sequence<VrpConsent> =
        c.pages(VrpConsent::class.java, "/vrp-consents", mapOf("status" to status, "limit" to limit))

    /** Revokes the consent, at the bank too; later payments are ConsentRevokedError. */
    fun revokeConsent(consentId: String): VrpConsent = c.send("DELETE", "/vrp-consents/${seg(consentId)}")

    /** The payments made under the consent, newest first. */
    fun consentPayments(consentId: String, limit: Int? = null, cursor: String? = null): Page<Payment> =
        c.page(Payment::class.java, "/vrp-consents/${seg(consentId)}/payments", mapOf("limit" to limit, "cursor" to cursor))

    fun allConsentPayments(consentId: String, limit: Int? = null): Sequence<Payment> =
        c.pages(Payment::class.java, "/vrp-consents/${seg(consentId)}/payments", mapOf("limit" to limit))

    /** Asks the bank whether the consent's account covers the amount; nothing is reserved or sent. */
    fun confirmFunds(consentId: String, request: VrpFundsRequest, idempotencyKey: String? = null): FundsConfirmation =
        c.send("POST", "/vrp-consents/${seg(consentId)}/confirm-funds", request, creates = true, idempotencyKey = idempotencyKey)

    /**
     * Pays under a consent, without the customer. It always carries an Idempotency-Key (a UUID
     * unless [idempotencyKey] gives one: give your own to retry safely across processes). Over a
     * limit it is [LimitExceededError], whose details name the limit and say what is left; nothing
     * is sent to the bank.
     */
    fun pay(request: CreateVrpRequest, idempotencyKey: String? = null): Payment =
        c.send("POST", "/vrps", request, creates = true, idempotencyKey = idempotencyKey)

    fun getPayment(paymentId: String): Payment = c.getOne("/vrps/${seg(paymentId)}")

    fun listPayments(status: String? = null, limit: Int? = null, cursor: String? = null): Page<Payment> =
        c.page(Payment::class.java, "/vrps", mapOf("status" to status, "limit" to limit, "cursor" to cursor))

    fun listAllPayments(status: String? = null, limit: Int? = null): Sequence<Payment> =
        c.pages(Payment::class.java, "/vrps", mapOf("status" to status, "limit" to limit))
}

/** /v1/refunds, /v1/payments/{id}/refunds and /v1/refund-batches */
class Refunds internal constructor(private val c: TokClient) {
    /** Refunds a completed payment to its payer; send the organisation to its redirectUrl. Carries an Idempotency-Key, so a retry never refunds twice; over what is left is RefundExceedsPaymentError. */
    fun create(paymentId: String, request: CreateRefundRequest, idempotencyKey: String? = null): Refund =
        c.send("POST", "/payments/${seg(paymentId)}/refunds", request, creates = true, idempotencyKey = idempotencyKey)

    fun get(refundId: String): Refund = c.getOne("/refunds/${seg(refundId)}")

    /** Cancels a refund awaiting authorisation, not in a batch (ConflictError otherwise); its amount is refundable again. */
    fun cancel(refundId: String): Refund = c.send("POST", "/refunds/${seg(refundId)}/cancel", creates = true)

    fun list(status: String? = null, paymentId: String? = null, createdFrom: String? = null, createdTo: String? = null, limit: Int? = null, cursor: String? = null): Page<Refund> =
        c.page(Refund::class.java, "/refunds", query(status, paymentId, createdFrom, createdTo, limit, cursor))

    fun listAll(status: String? = null, paymentId: String? = null, createdFrom: String? = null, createdTo: String? = null, limit: Int? = null): Sequence<Refund> =
        c.pages(Refund::class.java, "/refunds", query(status, paymentId, createdFrom, createdTo, limit, null))

    fun listForPayment(paymentId: String, status: String? = null, limit: Int? = null, cursor: String? = null): Page<Refund> =
        c.page(Refund::class.java, "/payments/${seg(paymentId)}/refunds", mapOf("status" to status, "limit" to limit, "cursor" to cursor))

    private fun query(status: String?, paymentId: String?, createdFrom: String?, createdTo: String?, limit: Int?, cursor: String?) =
        mapOf("status" to status, "paymentId" to paymentId, "createdFrom" to createdFrom, "createdTo" to createdTo, "limit" to limit, "cursor" to cursor)

    /** Sends refunds awaiting authorisation as one bulk payment with one SCA (its redirectUrl). */
    fun createBatch(request: CreateRefundBatchRequest, idempotencyKey: String? = null): RefundBatch =
        c.send("POST", "/refund-batches", request, creates = true, idempotencyKey = idempotencyKey)

    fun getBatch(batchId: String): RefundBatch = c.getOne("/refund-batches/${seg(batchId)}")
}

/** /v1/organisation */
class OrganisationResource internal constructor(private val c: TokClient) {
    fun get(): Organisation = c.getOne("/organisation")

    /** Changes the settings (admin, live key); null fields stay, "" clears an optional one. */
    fun update(request: UpdateOrganisationRequest): Organisation = c.send("PATCH", "/organisation", request)
}

/** /v1/api-keys: the organisation's key pairs (admin; creating, rotating and revoking need a live key). */
class ApiKeys internal constructor(private val c: TokClient) {
    fun list(limit: Int? = null, cursor: String? = null): Page<KeyPair> =
        c.page(KeyPair::class.java, "/api-keys", mapOf("limit" to limit, "cursor" to cursor))

    /** A new key pair; its keys are in this answer only. */
    fun create(request: CreateKeyPairRequest, idempotencyKey: String? = null): NewKeyPair =
        c.send("POST", "/api-keys", request, creates = true, idempotencyKey = idempotencyKey)

    /** Replaces the pair with a new one of the same role; the old one works for the grace period. */
    fun rotate(keyPairId: String, request: RotateKeyPairRequest? = null, idempotencyKey: String? = null): NewKeyPair =
        c.send("POST", "/api-keys/${seg(keyPairId)}/rotate", request, creates = true, idempotencyKey = idempotencyKey)

    /** Revokes both keys of the pair at once. */
    fun revoke(keyPairId: String) {
        c.send<Any?>("DELETE", "/api-keys/${seg(keyPairId)}")
    }
}

/** /v1/members */
class Members internal constructor(private val c: TokClient) {
    fun list(limit: Int? = null, cursor: String? = null): Page<Member> =
        c.page(Member::class.java, "/members", mapOf("limit" to limit, "cursor" to cursor))

    fun add(request: AddMemberRequest, idempotencyKey: String? = null): Member =
        c.send("POST", "/members", request, creates = true, idempotencyKey = idempotencyKey)

    fun get(memberId: String): Member = c.getOne("/members/${seg(memberId)}")

    /** Changes the member's role (admin). */
    fun update(memberId: String, request: UpdateMemberRequest): Member = c.send("PATCH", "/members/${seg(memberId)}", request)

    fun remove(memberId: String) {
        c.send<Any?>("DELETE", "/members/${seg(memberId)}")
    }
}

/** /v1/sandbox: controls for sandbox keys only (a live key gets NotFoundError). */
class Sandbox internal constructor(private val c: TokClient) {
    fun expireConsent(consentId: String): SandboxConsentChange = c.send("POST", "/sandbox/consents/${seg(consentId)}/expire", creates = true)

    fun revokeConsent(consentId: String): SandboxConsentChange = c.send("POST", "/sandbox/consents/${seg(consentId)}/revoke", creates = true)

    /** The customer revokes a VRP consent's mandate at the bank: REVOKED with revokedBy "bank". */
    fun revokeVrpConsent(vrpConsentId: String): VrpConsent = c.send("POST", "/sandbox/vrp-consents/${seg(vrpConsentId)}/revoke", creates = true)

    /** Publishes an event of any type with sample data to the subscribed endpoints. */
    fun fireWebhook(request: SandboxFireRequest): Event = c.send("POST", "/sandbox/webhooks/fire", request, creates = true)

    /** Books a transaction at the sandbox bank; the next sync reads it. */
    fun addTransaction(accountId: String, request: SandboxAddTransactionRequest): SandboxTransaction =
        c.send("POST", "/sandbox/accounts/${seg(accountId)}/transactions", request, creates = true)
}
