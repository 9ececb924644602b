package io.tokapi.sdk

import com.google.gson.JsonArray
import com.google.gson.JsonObject
import com.google.gson.JsonParser
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.FixMethodOrder
import org.junit.Test
import org.junit.runners.MethodSorters
import java.io.File
import java.math.BigDecimal
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Duration
import java.util.UUID

/**
 * The SDK against the local stack that sdks/sdktest prepared (TOK_* variables): a connected
 * sandbox bank behind the gateway, and a fault proxy in front of it.
 */
@FixMethodOrder(MethodSorters.NAME_ASCENDING)
class TokClientTest {
    private fun env(name: String) = System.getenv(name) ?: throw IllegalStateException("$name is not set: run through sdks/sdktest's TestSDKs")
    private val apiUrl = env("TOK_API_URL")
    private val faultUrl = env("TOK_FAULT_URL")
    private val key = env("TOK_API_KEY")
    private val accountId = env("TOK_ACCOUNT_ID")
    private val client = TokClient(apiKey = key, baseUrl = apiUrl)
    private val faulty = TokClient(apiKey = key, baseUrl = faultUrl, minBackoff = Duration.ofMillis(20), maxBackoff = Duration.ofMillis(200))

    /** The fault proxy's control endpoint. */
    private object Faults {
        private val http = HttpClient.newHttpClient()
        private val control = URI.create(System.getenv("TOK_FAULT_CONTROL"))
        private fun send(r: HttpRequest.Builder): String = http.send(r.build(), HttpResponse.BodyHandlers.ofString()).body()
        fun reset() { send(HttpRequest.newBuilder(control).DELETE()) }
        fun arm(fault: Map<String, Any>) {
            send(HttpRequest.newBuilder(control).POST(HttpRequest.BodyPublishers.ofString(TokClient.gson.toJson(fault))))
        }
        fun log(): List<JsonObject> = JsonParser.parseString(send(HttpRequest.newBuilder(control).GET())).asJsonArray.map { it.asJsonObject }
        fun statuses(): String = log().joinToString(" ") { it["status"].asString }
    }

    @Test fun a_quickstartCalls() {
        val accounts = client.accounts.list()
        assertTrue("accounts: $accounts", accounts.size >= 2)
        assertEquals(300, accounts.response.rateLimit.limit)
        assertTrue(accounts.response.requestId!!.startsWith("req_"))
        assertNotNull(client.lastResponse!!.rateLimit.reset)
        val txns = client.transactions.list(accountId, dateFrom = "2026-01-01", dateTo = "2026-03-01")
        assertTrue(txns.isNotEmpty())
        for (t in txns) {
            val d = t.bookingDate ?: continue
            assertTrue("date filter let $d through", d >= "2026-01-01" && d <= "2026-03-01")
        }
        val one = client.transactions.get(accountId, txns[0].id)
        assertEquals(txns[0].amount, one.amount)
        assertEquals("RSD", client.accounts.get(accountId).currency)
        assertEquals("RSD", client.accounts.balances(accountId).balances[0].currency)
        assertEquals("RS", client.banks.list(country = "RS")[0].country)
        val orders = client.standingOrders.list(accountId)
        if (orders.isNotEmpty()) assertEquals(orders[0].id, client.standingOrders.get(accountId, orders[0].id).id)
        val changes = client.transactions.changes(accountId, limit = 5)
        assertEquals(5, changes.size)
        assertEquals("added", changes[0].type)
        assertNotNull(changes.nextCursor)
        val events = client.events.list(type = "transactions.created")
        assertEquals("transactions.created", events[0].type)
        assertEquals(events[0].id, client.events.get(events[0].id).id)
        val created = events.first().typed() as TransactionsCreatedEvent
        assertTrue(created.data.transactionIds.isNotEmpty())
        assertEquals(created.data.accountId, events.first().dataAs(TransactionsEventData::class.java).accountId)
    }

    @Test fun a_seedPaymentReadListedAndCancelled() {
        val p = client.payments.create(CreatePaymentRequest(
            creditorIban = "RS35105008123123123173", creditorName = "Bilko d.o.o.", amount = "1500.00", currency = "RSD",
            remittanceInfo = "Invoice INV-2026-042", accountId = accountId, callbackUrl = env("TOK_CALLBACK_URL")))
        assertEquals("AWAITING_AUTHORIZATION", p.status)
        assertEquals(0, Money.parse(p.amount).compareTo(BigDecimal("1500")))
        assertEquals(p.id, client.payments.get(p.id).id)
        assertTrue(client.payments.listAll(accountId = accountId).any { it.id == p.id })
        assertEquals("CANCELLED", client.payments.cancel(p.id).status)
        expect(ConflictError::class.java, 409) { client.payments.cancel(p.id) }
    }

    @Test fun a_organisationReadAndSandboxKeyCannotChangeIt() {
        val org = client.organisation.get()
        assertEquals("pro", org.tier)
        assertEquals("sandbox", org.environment)
        expect(ForbiddenError::class.java, 403) { client.organisation.update(UpdateOrganisationRequest(displayName = "Bilko", brandColor = "#1a2b3c")) }
        assertEquals(null, client.organisation.get().displayName)
        assertEquals("sync.failed", client.sandbox.fireWebhook(SandboxFireRequest(type = "sync.failed")).type)
    }

    @Test fun b_paginationFollowsNextCursor() {
        Faults.reset()
        val walked = faulty.transactions.listAll(accountId, status = "booked", limit = 50).toList()
        // A 429 waited out (the organisation's bucket is shared with the other suites) is no page.
        val pages = Faults.log().count { it["path"].asString.endsWith("/transactions") && it["status"].asInt != 429 }
        val onePage = client.transactions.list(accountId, status = "booked", limit = 500)
        assertTrue("$pages pages", pages >= 3)
        assertEquals((walked.size + 49) / 50, pages)
        assertEquals(onePage.map { it.id }, walked.map { it.id })
        assertEquals(walked.size, walked.map { it.id }.toSet().size)
        var total = BigDecimal.ZERO
        for (t in walked) {
            assertEquals("booked", t.status)
            assertEquals(t.amount, Money.format(t.decimalAmount))
            total += t.decimalAmount
        }
        println("${walked.size} booked transactions in $pages pages, total $total")
    }

    @Test fun c_502AndDroppedConnectionsAreRetried() {
        Faults.reset()
        Faults.arm(mapOf("method" to "GET", "path" to "/v1/accounts", "times" to 2, "status" to 502, "body" to "<html>bad gateway</html>"))
        assertTrue(faulty.accounts.list().isNotEmpty())
        // A 429 waited out in between (another test may leave the bucket empty) is one more
        // attempt; every attempt is one request at the proxy.
        val statuses = Faults.statuses()
        assertEquals("502 502 200", statuses.replace("429 ", ""))
        assertEquals(statuses.split(" ").size, faulty.lastResponse!!.attempts)
        // Two drops: java.net.http may retry a reused connection once by itself; the SDK retries the rest.
        Faults.reset()
        Faults.arm(mapOf("method" to "GET", "path" to "/v1/accounts", "times" to 2, "drop" to true))
        assertTrue(faulty.accounts.list().isNotEmpty())
        assertEquals("0 0 200", Faults.statuses().replace("429 ", ""))
        assertTrue("${faulty.lastResponse!!.attempts} attempts", faulty.lastResponse!!.attempts >= 2)
    }

    @Test fun d_retriesGiveUpWithTheLastError() {
        Faults.reset()
        Faults.arm(mapOf("path" to "/v1/accounts", "times" to 10, "status" to 503, "body" to envelope("SERVICE_UNAVAILABLE", "down")))
        val c = TokClient(apiKey = key, baseUrl = faultUrl, maxRetries = 2, minBackoff = Duration.ofMillis(1), maxBackoff = Duration.ofMillis(10))
        assertEquals(503, assertThrows(ServiceUnavailableError::class.java) { c.accounts.list() }.status)
        assertEquals("503 503 503", Faults.statuses())
    }

    @Test fun e_postWithoutIdempotencyKeyIsNotRetried() {
        Faults.reset()
        Faults.arm(mapOf("method" to "POST", "path" to "/v1/webhooks/", "status" to 502))
        assertEquals(502, assertThrows(TokError::class.java) { faulty.webhooks.test("whk_00000000000000000000000000") }.status)
        assertEquals("502", Faults.statuses())
    }

    @Test fun f_lostAnswerToCreatingPostIsRetriedWithTheSameKey() {
        Faults.reset()
        Faults.arm(mapOf("method" to "POST", "path" to "/v1/consents", "status" to 502, "forward" to true))
        val callback = env("TOK_CALLBACK_URL") + "?run=" + UUID.randomUUID()
        val consent = faulty.consents.create(CreateConsentRequest(bankId = "sandbox-rs", callbackUrl = callback))
        val log = Faults.log()
        // A 429 waited out in between (the rate-limit test before this one may leave the bucket
        // empty) is one more retry; it must carry the same key like every other attempt.
        assertEquals("502 201", Faults.statuses().replace("429 ", ""))
        val key = log[0]["idempotencyKey"].asString
        log.forEach { assertEquals(key, it["idempotencyKey"].asString) }
        UUID.fromString(key)
        assertTrue(faulty.lastResponse!!.replayed)
        val created = client.consents.listAll(bankId = "sandbox-rs").filter { it.callbackUrl == callback }.toList()
        assertEquals(listOf(consent.id), created.map { it.id })
        try {
            client.consents.create(CreateConsentRequest(bankId = "sandbox-hr", callbackUrl = callback), idempotencyKey = key)
            fail("same key, another body")
        } catch (e: IdempotencyKeyReusedError) {
            assertEquals(422, e.status)
        }
    }

    @Test fun g_errorsOfTheStack() {
        expect(InvalidApiKeyError::class.java, 401) { TokClient(apiKey = "tok_sandbox_" + "0".repeat(40), baseUrl = apiUrl).accounts.list() }
        expect(NotFoundError::class.java, 404) { client.accounts.get("acc_00000000000000000000000000") }
        expect(ConsentRevokedError::class.java, 403) {
            TokClient(apiKey = env("TOK_FREE_API_KEY"), baseUrl = apiUrl).accounts.get(env("TOK_REVOKED_ACCOUNT_ID"))
        }
        val v = expect(ValidationError::class.java, 400) { client.transactions.list(accountId, dateFrom = "yesterday") }
        assertTrue("details ${v.details}", v.details.isNotEmpty() && v.details[0].field.isNotEmpty())
        expect(ForbiddenError::class.java, 403) {
            TokClient(apiKey = env("TOK_READONLY_API_KEY"), baseUrl = apiUrl).webhooks.create(CreateWebhookRequest(url = "http://127.0.0.1:9/hooks", events = listOf("*")))
        }
    }

    @Test fun h_everyErrorCodeMapsToItsClass() {
        Faults.reset()
        val c = TokClient(apiKey = key, baseUrl = faultUrl, maxRetries = 0)
        for (code in ErrorCode.values()) {
            if (code == ErrorCode.UNKNOWN) continue
            val (status, type) = when (code) {
                ErrorCode.INVALID_API_KEY -> 401 to InvalidApiKeyError::class.java
                ErrorCode.CONSENT_EXPIRED -> 403 to ConsentExpiredError::class.java
                ErrorCode.CONSENT_REVOKED -> 403 to ConsentRevokedError::class.java
                ErrorCode.BANK_API_ERROR -> 502 to BankApiError::class.java
                ErrorCode.RATE_LIMITED -> 429 to RateLimitedError::class.java
                ErrorCode.NOT_FOUND -> 404 to NotFoundError::class.java
                ErrorCode.VALIDATION_ERROR -> 400 to ValidationError::class.java
                ErrorCode.FORBIDDEN -> 403 to ForbiddenError::class.java
                ErrorCode.CONFLICT -> 409 to ConflictError::class.java
                ErrorCode.IDEMPOTENCY_KEY_REUSED -> 422 to IdempotencyKeyReusedError::class.java
                ErrorCode.METHOD_NOT_ALLOWED -> 405 to MethodNotAllowedError::class.java
                ErrorCode.PAYLOAD_TOO_LARGE -> 413 to PayloadTooLargeError::class.java
                ErrorCode.UNSUPPORTED_MEDIA_TYPE -> 415 to UnsupportedMediaTypeError::class.java
                ErrorCode.INTERNAL_ERROR -> 500 to InternalError::class.java
                ErrorCode.SERVICE_UNAVAILABLE -> 503 to ServiceUnavailableError::class.java
                ErrorCode.INSUFFICIENT_FUNDS -> 422 to InsufficientFundsError::class.java
                ErrorCode.REQUEST_TIMEOUT -> 408 to RequestTimeoutError::class.java
                ErrorCode.ACCESS_EXCEEDED -> 429 to AccessExceededError::class.java
                ErrorCode.LIMIT_EXCEEDED -> 422 to LimitExceededError::class.java
                ErrorCode.REFUND_EXCEEDS_PAYMENT -> 422 to RefundExceedsPaymentError::class.java
                ErrorCode.UNKNOWN -> 0 to TokError::class.java
            }
            Faults.arm(mapOf("path" to "/v1/accounts/", "status" to status, "body" to envelope(code.name, "injected $code"),
                "headers" to mapOf("Retry-After" to "7")))
            val e = expect(type, status) { c.accounts.get(accountId) }
            assertEquals(code, e.code)
            assertEquals("injected $code", e.message)
            assertEquals("req_01HXYZ0000000000000000000A", e.requestId)
            assertEquals("f", e.details.single().field)
            assertEquals(Duration.ofSeconds(7), e.retryAfter)
        }
        Faults.arm(mapOf("path" to "/v1/accounts/", "status" to 418, "body" to envelope("TEAPOT", "newer than the SDK")))
        val e = expect(TokError::class.java, 418) { c.accounts.get(accountId) }
        assertEquals(ErrorCode.UNKNOWN, e.code)
        assertEquals("TEAPOT", e.rawCode)
    }

    @Test fun i_429IsRetriedAfterRetryAfter() {
        Faults.reset()
        val once = TokClient(apiKey = env("TOK_FREE_API_KEY"), baseUrl = faultUrl, maxRetries = 0)
        var limited: RateLimitedError? = null
        for (i in 1..30) {
            try {
                once.banks.list()
            } catch (e: RateLimitedError) {
                limited = e
                break
            }
        }
        assertNotNull("no RATE_LIMITED after 30 calls", limited)
        assertTrue(limited!!.retryAfter!! > Duration.ZERO)
        assertEquals(60, limited.response!!.rateLimit.limit)
        Faults.reset()
        val retrying = TokClient(apiKey = env("TOK_FREE_API_KEY"), baseUrl = faultUrl)
        repeat(5) { retrying.banks.list() }
        val log = Faults.log()
        var waited = 0
        for ((i, entry) in log.withIndex()) {
            if (entry["status"].asInt != 429) continue
            val retryAfter = entry["retryAfter"].asString.toLong()
            val gap = log[i + 1]["at"].asLong - entry["at"].asLong
            assertTrue("retried $gap ms after a 429 with Retry-After $retryAfter", gap >= retryAfter * 1000)
            waited++
        }
        assertTrue("no 429 was retried: ${Faults.statuses()}", waited > 0)
        assertEquals(200, log.last()["status"].asInt)
        println("$waited 429s waited out: ${Faults.statuses()}")
    }

    @Test fun j_webhookSignaturesMadeByTok() {
        val file = File(env("TOK_WEBHOOK_FIXTURES"))
        val fixtures: JsonArray = JsonParser.parseString(file.readText()).asJsonArray
        // The fixtures' timestamps are relative to when they were written.
        val signedAt = java.time.Instant.ofEpochMilli(file.lastModified())
        assertTrue(fixtures.size() >= 8)
        for (f in fixtures.map { it.asJsonObject }) {
            val headers = f["headers"].asJsonObject.entrySet().associate { it.key.toUpperCase() to it.value.asString }
            val valid = try {
                verifyWebhook(f["payload"].asString, headers, f["secret"].asString, now = signedAt).id.startsWith("evt_")
            } catch (e: WebhookVerificationError) {
                false
            }
            assertEquals(f["name"].asString, f["valid"].asBoolean, valid)
        }
    }

    /** The customer's browser (sdks/sdktest/psu.go): walks a redirectUrl and says where Tok sent it back. */
    private class Walked(val pages: List<String>, val callback: String) {
        val query: Map<String, String> = URI.create(callback).rawQuery.split("&").associate {
            val kv = it.split("=", limit = 2)
            java.net.URLDecoder.decode(kv[0], "UTF-8") to java.net.URLDecoder.decode(kv.getOrElse(1) { "" }, "UTF-8")
        }
    }

    private fun psu(walk: Map<String, String>): Walked {
        val resp = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(env("TOK_PSU_URL")))
            .POST(HttpRequest.BodyPublishers.ofString(TokClient.gson.toJson(walk))).build(), HttpResponse.BodyHandlers.ofString())
        assertEquals(resp.body(), 200, resp.statusCode())
        val body = JsonParser.parseString(resp.body()).asJsonObject
        return Walked(body["pages"].asJsonArray.map { it.asString }, body["callback"].asString)
    }

    @Test fun k_vrpLimitsWhatIsLeftAndRevocation() {
        val created = client.vrp.createConsent(CreateVrpConsentRequest(
            bankId = "sandbox-hr", creditorIban = "HR1723600001101234565", creditorName = "Zajam d.o.o.", currency = "EUR",
            maximumIndividualAmount = Money.request(BigDecimal("60.00")),
            periodicLimits = listOf(CreateVrpConsentRequestPeriodicLimit(maximumAmount = "100.00", periodType = "DAY", periodAlignment = "CALENDAR")),
            remittanceInfo = "Loan 42", callbackUrl = env("TOK_CALLBACK_URL"), vrpType = "OTHER"))
        assertEquals("AWAITING_AUTHORIZATION", created.status)
        assertEquals(null, created.remaining)
        val walked = psu(mapOf("url" to created.redirectUrl!!))
        assertEquals(created.id, walked.query["vrpConsentId"])
        assertEquals("AUTHORIZED", walked.query["status"])
        fun left(): BigDecimal = client.vrp.getConsent(created.id).remaining!!.periodicLimits[0].decimalRemaining
        assertEquals("AUTHORIZED", client.vrp.getConsent(created.id).status)
        assertEquals(0, left().compareTo(BigDecimal("100")))
        assertTrue(client.vrp.listAllConsents(status = "AUTHORIZED", limit = 1).any { it.id == created.id })
        assertTrue(client.vrp.confirmFunds(created.id, VrpFundsRequest(amount = "10.00")).fundsAvailable)

        fun pay(amount: String, key: String? = null) = client.vrp.pay(CreateVrpRequest(consentId = created.id, amount = amount, currency = "EUR"), key)
        val first = pay("60.00")
        assertEquals(created.id, first.vrpConsentId)
        assertTrue(first.status, first.status == "PENDING" || first.status == "COMPLETED")
        // The same Idempotency-Key again gets the same payment back and spends nothing more.
        val second = pay("30.00", "vrp-${created.id}")
        assertEquals(second.id, pay("30.00", "vrp-${created.id}").id)
        assertTrue(client.lastResponse!!.replayed)
        assertEquals(0, left().compareTo(BigDecimal("10")))
        val tooBig = expect(LimitExceededError::class.java, 422) { pay("60.01") }
        assertEquals("maximumIndividualAmount", tooBig.details[0].field)
        val overPeriod = expect(LimitExceededError::class.java, 422) { pay("10.01") }
        assertEquals("periodicLimits[0]", overPeriod.details[0].field)
        assertTrue(overPeriod.details[0].message, Regex("\\b10\\.00 EUR is left").containsMatchIn(overPeriod.details[0].message))
        assertEquals(0, left().compareTo(BigDecimal("10")))

        assertEquals(0, client.vrp.getPayment(second.id).decimalAmount.compareTo(BigDecimal("30")))
        assertEquals(listOf(second.id, first.id), client.vrp.allConsentPayments(created.id, limit = 1).map { it.id }.toList())
        assertTrue(client.vrp.listAllPayments().any { it.id == first.id })

        assertEquals("REVOKED", client.vrp.revokeConsent(created.id).status)
        expect(ConsentRevokedError::class.java, 403) { pay("1.00") }
        expect(ConflictError::class.java, 409) { client.vrp.revokeConsent(created.id) }
    }

    /** Without a bank, redirectUrl is Tok's hosted pages: Serbia and its sandbox bank are picked there (no JavaScript), then demo authorises. */
    private fun walkHosted(redirectUrl: String?): Walked {
        assertTrue("$redirectUrl", redirectUrl!!.startsWith(env("TOK_HOSTED_URL") + "hps_"))
        val walked = psu(mapOf("url" to redirectUrl, "country" to "RS", "bankId" to "sandbox-rs"))
        assertTrue("${walked.pages}", walked.pages.size >= 5)
        return walked
    }

    @Test fun l_hostedConsentAndSeedPayment() {
        val consent = client.consents.create(CreateConsentRequest(callbackUrl = env("TOK_CALLBACK_URL")))
        assertEquals(null, consent.bankId)
        val walked = walkHosted(consent.redirectUrl)
        assertEquals(consent.id, walked.query["consentId"])
        assertEquals("AUTHORIZED", walked.query["status"])
        val after = client.consents.get(consent.id)
        assertEquals("AUTHORIZED", after.status)
        assertEquals("sandbox-rs", after.bankId)

        val p = client.payments.create(CreatePaymentRequest(creditorIban = "RS35105008123123123173", amount = "1500.00", currency = "RSD",
            remittanceInfo = "Invoice INV-2026-042", callbackUrl = env("TOK_CALLBACK_URL")))
        assertEquals(null, p.bankId)
        val paid = walkHosted(p.redirectUrl)
        assertEquals(p.id, paid.query["paymentId"])
        assertTrue(paid.callback, paid.query["status"] == "PENDING" || paid.query["status"] == "COMPLETED")
        val got = client.payments.get(p.id)
        assertEquals("sandbox-rs", got.bankId)
        assertEquals("domestic-credit-transfers", got.paymentProduct)
        assertEquals(0, got.decimalAmount.compareTo(BigDecimal("1500")))
        assertTrue(got.status, got.status == "PENDING" || got.status == "COMPLETED")
    }

    /** For each operation of the spec that takes an API key, a call of its SDK method. */
    private val methods: Map<String, (TokClient) -> Any?> = mapOf(
        "listBanks" to { t -> t.banks.list() },
        "getBank" to { t -> t.banks.get("x") },
        "getOrganisation" to { t -> t.organisation.get() },
        "updateOrganisation" to { t -> t.organisation.update(UpdateOrganisationRequest()) },
        "listApiKeys" to { t -> t.apiKeys.list() },
        "createApiKey" to { t -> t.apiKeys.create(CreateKeyPairRequest(role = "developer")) },
        "rotateApiKey" to { t -> t.apiKeys.rotate("x") },
        "revokeApiKey" to { t -> t.apiKeys.revoke("x") },
        "listMembers" to { t -> t.members.list() },
        "addMember" to { t -> t.members.add(AddMemberRequest(email = "a@example.com", role = "viewer")) },
        "getMember" to { t -> t.members.get("x") },
        "updateMember" to { t -> t.members.update("x", UpdateMemberRequest(role = "viewer")) },
        "removeMember" to { t -> t.members.remove("x") },
        "listWebhooks" to { t -> t.webhooks.list() },
        "createWebhook" to { t -> t.webhooks.create(CreateWebhookRequest(url = "https://a.example.com", events = listOf("*"))) },
        "getWebhook" to { t -> t.webhooks.get("x") },
        "updateWebhook" to { t -> t.webhooks.update("x", UpdateWebhookRequest()) },
        "deleteWebhook" to { t -> t.webhooks.delete("x") },
        "rotateWebhookSecret" to { t -> t.webhooks.rotateSecret("x") },
        "testWebhook" to { t -> t.webhooks.test("x") },
        "listWebhookDeliveries" to { t -> t.webhooks.deliveries("x") },
        "getWebhookDelivery" to { t -> t.webhooks.delivery("x", "y") },
        "redeliverWebhookDelivery" to { t -> t.webhooks.redeliver("x", "y") },
        "listEvents" to { t -> t.events.list() },
        "getEvent" to { t -> t.events.get("x") },
        "createConsent" to { t -> t.consents.create(CreateConsentRequest(callbackUrl = "https://a.example.com")) },
        "listConsents" to { t -> t.consents.list() },
        "getConsent" to { t -> t.consents.get("x") },
        "revokeConsent" to { t -> t.consents.revoke("x") },
        "refreshConsent" to { t -> t.consents.refresh("x") },
        "renewConsent" to { t -> t.consents.renew("x") },
        "sandboxExpireConsent" to { t -> t.sandbox.expireConsent("x") },
        "sandboxRevokeConsent" to { t -> t.sandbox.revokeConsent("x") },
        "sandboxRevokeVrpConsent" to { t -> t.sandbox.revokeVrpConsent("x") },
        "sandboxFireWebhook" to { t -> t.sandbox.fireWebhook(SandboxFireRequest(type = "sync.failed")) },
        "sandboxAddTransaction" to { t -> t.sandbox.addTransaction("x", SandboxAddTransactionRequest(amount = "1.00")) },
        "listAccounts" to { t -> t.accounts.list() },
        "getAccount" to { t -> t.accounts.get("x") },
        "getAccountBalances" to { t -> t.accounts.balances("x") },
        "listTransactions" to { t -> t.transactions.list("x") },
        "listTransactionChanges" to { t -> t.transactions.changes("x") },
        "getTransaction" to { t -> t.transactions.get("x", "y") },
        "listStandingOrders" to { t -> t.standingOrders.list("x") },
        "getStandingOrder" to { t -> t.standingOrders.get("x", "y") },
        "confirmFunds" to { t -> t.payments.confirmFunds(FundsConfirmationRequest(accountId = "x", amount = "1.00", currency = "EUR")) },
        "createPayment" to { t -> t.payments.create(CreatePaymentRequest(creditorIban = "x", amount = "1.00", currency = "EUR", callbackUrl = "https://a.example.com")) },
        "listPayments" to { t -> t.payments.list() },
        "getPayment" to { t -> t.payments.get("x") },
        "cancelPayment" to { t -> t.payments.cancel("x") },
        "createRefund" to { t -> t.refunds.create("x", CreateRefundRequest()) },
        "listPaymentRefunds" to { t -> t.refunds.listForPayment("x") },
        "listRefunds" to { t -> t.refunds.list() },
        "getRefund" to { t -> t.refunds.get("x") },
        "cancelRefund" to { t -> t.refunds.cancel("x") },
        "createRefundBatch" to { t -> t.refunds.createBatch(CreateRefundBatchRequest(refundIds = listOf("x"))) },
        "getRefundBatch" to { t -> t.refunds.getBatch("x") },
        "createVrpConsent" to { t -> t.vrp.createConsent(CreateVrpConsentRequest(creditorIban = "x", creditorName = "x", currency = "EUR",
            maximumIndividualAmount = "1.00", periodicLimits = listOf(CreateVrpConsentRequestPeriodicLimit(maximumAmount = "1.00", periodType = "DAY")),
            remittanceInfo = "x", callbackUrl = "https://a.example.com", vrpType = "OTHER")) },
        "listVrpConsents" to { t -> t.vrp.listConsents() },
        "getVrpConsent" to { t -> t.vrp.getConsent("x") },
        "revokeVrpConsent" to { t -> t.vrp.revokeConsent("x") },
        "listVrpConsentPayments" to { t -> t.vrp.consentPayments("x") },
        "confirmVrpFunds" to { t -> t.vrp.confirmFunds("x", VrpFundsRequest(amount = "1.00")) },
        "createVrp" to { t -> t.vrp.pay(CreateVrpRequest(consentId = "x", amount = "1.00", currency = "EUR")) },
        "listVrps" to { t -> t.vrp.listPayments() },
        "getVrp" to { t -> t.vrp.getPayment("x") }
    )

    /** The fault proxy answers every request with a 404 itself (nothing reaches Tok) and logs which operation of the spec each was. */
    @Test fun m_everyApiKeyOperationHasAMethodThatSendsIt() {
        val ops = JsonParser.parseString(File(env("TOK_SPEC_OPERATIONS")).readText()).asJsonArray.map { it.asJsonObject }
        val c = TokClient(apiKey = key, baseUrl = faultUrl, maxRetries = 0)
        Faults.reset()
        Faults.arm(mapOf("path" to "/v1/", "times" to (1 shl 20), "status" to 404, "body" to envelope("NOT_FOUND", "answered by the coverage test")))
        val missing = mutableListOf<String>()
        try {
            for (op in ops.filter { it["apiKey"].asBoolean }) {
                val id = op["operationId"].asString
                val call = methods[id]
                if (call == null) {
                    missing.add("${op["method"].asString} ${op["path"].asString} ($id)")
                    continue
                }
                val before = Faults.log().size
                expect(NotFoundError::class.java, 404) { call(c) }
                val sent = Faults.log().drop(before)
                assertEquals("$id sent $sent", listOf(id), sent.map { it["operation"].asString })
            }
        } finally {
            Faults.reset()
        }
        assertEquals("operations without a method in the Kotlin SDK", emptyList<String>(), missing)
        val ids = ops.map { it["operationId"].asString }.toSet()
        assertEquals("methods of operations no longer in the spec", emptyList<String>(), methods.keys.filter { it !in ids })
    }

    private fun <E : TokError> expect(type: Class<E>, status: Int, block: () -> Unit): E {
        try {
            block()
        } catch (e: TokError) {
            assertEquals("$e", type, e.javaClass)
            assertEquals(status, e.status)
            return type.cast(e)
        }
        throw AssertionError("no ${type.simpleName}")
    }

    private fun envelope(code: String, message: String): String = TokClient.gson.toJson(mapOf("error" to mapOf(
        "code" to code, "message" to message, "requestId" to "req_01HXYZ0000000000000000000A",
        "details" to listOf(mapOf("field" to "f", "message" to "m")))))
}
