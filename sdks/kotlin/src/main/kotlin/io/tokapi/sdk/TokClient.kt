package io.tokapi.sdk

import com.google.gson.Gson
import com.google.gson.GsonBuilder
import com.google.gson.JsonParseException
import java.io.IOException
import java.lang.reflect.Type
import java.net.URI
import java.net.URLEncoder
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.charset.StandardCharsets
import java.time.Duration
import java.time.Instant
import java.util.UUID
import kotlin.random.Random

/**
 * The Tok API client: `TokClient(apiKey = "tok_live_…")`, or `TokClient()` to read
 * `TOK_API_KEY` and `TOK_API_URL`. Without a base URL, sandbox keys go to the sandbox host and
 * every other key to the live one.
 *
 * Requests that are safe to repeat (GET, PUT, DELETE, and POSTs carrying an Idempotency-Key,
 * which every creating POST gets) are retried: a 429 after its Retry-After, a 502, 503 or 504
 * and a connection error after an exponential backoff with full jitter. [timeout] bounds each
 * attempt. The client is safe to share between threads.
 */
class TokClient(
    apiKey: String? = null,
    baseUrl: String? = null,
    val timeout: Duration = Duration.ofSeconds(30),
    val maxRetries: Int = 3,
    val minBackoff: Duration = Duration.ofMillis(500),
    val maxBackoff: Duration = Duration.ofSeconds(8),
    /** The longest Retry-After waited out; a longer one throws [RateLimitedError] at once. */
    val maxRetryAfter: Duration = Duration.ofSeconds(60),
    httpClient: HttpClient? = null
) {
    private val apiKey: String = apiKey ?: System.getenv("TOK_API_KEY")
        ?: throw IllegalArgumentException("no API key: pass apiKey or set TOK_API_KEY")
    val baseUrl: String = (baseUrl ?: System.getenv("TOK_API_URL")
        ?: if (this.apiKey.startsWith("tok_sandbox_")) SANDBOX_URL else LIVE_URL).trimEnd('/')
    private val http: HttpClient = httpClient ?: HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build()
    private val last = ThreadLocal<ResponseInfo>()

    val banks = Banks(this)
    val consents = Consents(this)
    val accounts = Accounts(this)
    val transactions = Transactions(this)
    val standingOrders = StandingOrders(this)
    val webhooks = Webhooks(this)
    val events = Events(this)
    val payments = Payments(this)
    val vrp = Vrp(this)
    val refunds = Refunds(this)
    val organisation = OrganisationResource(this)
    val apiKeys = ApiKeys(this)
    val members = Members(this)
    val sandbox = Sandbox(this)

    /** The last response this thread received from the API: request ID, rate limit, attempts. */
    val lastResponse: ResponseInfo? get() = last.get()

    internal fun <T> call(
        method: String,
        path: String,
        type: Type,
        query: Map<String, Any?> = emptyMap(),
        body: Any? = null,
        creates: Boolean = false,
        idempotencyKey: String? = null
    ): Pair<T, ResponseInfo> {
        val key = idempotencyKey ?: if (creates) UUID.randomUUID().toString() else null
        val retryable = key != null || method in IDEMPOTENT
        val qs = query.filterValues { it != null }.entries.joinToString("&") { (k, v) ->
            "${enc(k)}=${enc(v.toString())}"
        }
        val uri = URI.create(baseUrl + path + if (qs.length == 0) "" else "?$qs")
        val payload = body?.let { gson.toJson(it).toByteArray(StandardCharsets.UTF_8) }
        var attempt = 1
        while (true) {
            val resp: HttpResponse<ByteArray>
            try {
                resp = http.send(build(method, uri, payload, key), HttpResponse.BodyHandlers.ofByteArray())
            } catch (e: IOException) {
                if (!retryable || attempt > maxRetries) throw TokConnectionError(method, path, e)
                Thread.sleep(backoff(attempt).toMillis())
                attempt++
                continue
            }
            val info = ResponseInfo.of(resp, attempt)
            last.set(info)
            if (resp.statusCode() in 200..299) {
                val text = String(resp.body(), StandardCharsets.UTF_8)
                val value: T = try {
                    gson.fromJson<T>(if (text.length == 0) "null" else text, type)
                } catch (e: JsonParseException) {
                    throw TokError.decoding(info, e)
                }
                return Pair(value, info)
            }
            val error = TokError.of(info, resp.body())
            val wait = retryWait(resp.statusCode(), error.retryAfter, attempt)
            if (wait == null || !retryable || attempt > maxRetries) throw error
            Thread.sleep(wait.toMillis())
            attempt++
        }
    }

    private fun build(method: String, uri: URI, payload: ByteArray?, key: String?): HttpRequest {
        val b = HttpRequest.newBuilder(uri).timeout(timeout)
            .header("Authorization", "ApiKey $apiKey")
            .header("Accept", "application/json")
            .header("User-Agent", "tok-kotlin/$VERSION")
            .method(method, if (payload == null) HttpRequest.BodyPublishers.noBody() else HttpRequest.BodyPublishers.ofByteArray(payload))
        if (payload != null) b.header("Content-Type", "application/json")
        if (key != null) b.header("Idempotency-Key", key)
        return b.build()
    }

    /** How long to wait before retrying a response with this status, or null not to retry. */
    private fun retryWait(status: Int, retryAfter: Duration?, attempt: Int): Duration? = when (status) {
        429, 502, 503, 504 -> when {
            retryAfter == null -> backoff(attempt)
            retryAfter > maxRetryAfter -> null
            else -> retryAfter
        }
        else -> null
    }

    /** minBackoff·2^(attempt-1), capped at maxBackoff, with full jitter. */
    private fun backoff(attempt: Int): Duration {
        val cap = minOf(maxBackoff.toMillis(), minBackoff.toMillis() shl minOf(attempt - 1, 20))
        return Duration.ofMillis(if (cap <= 0) 0 else Random.nextLong(cap) + 1)
    }

    companion object {
        const val VERSION = "1.0.0"
        const val LIVE_URL = "https://api.tokapi.io/v1"
        const val SANDBOX_URL = "https://sandbox.api.tokapi.io/v1"
        private val IDEMPOTENT = setOf("GET", "HEAD", "PUT", "DELETE")

        /** The JSON mapping the SDK uses; amounts stay strings. */
        val gson: Gson = GsonBuilder().disableHtmlEscaping().create()

        private fun enc(s: String) = URLEncoder.encode(s, StandardCharsets.UTF_8)
    }
}

/** What a response said besides its body. */
data class ResponseInfo(
    val status: Int,
    val headers: Map<String, List<String>>,
    val requestId: String?,
    val rateLimit: RateLimit,
    /** 1 plus the retries made. */
    val attempts: Int,
    /** The answer is the replay of an earlier request with the same Idempotency-Key. */
    val replayed: Boolean
) {
    fun header(name: String): String? =
        headers.entries.firstOrNull { it.key.equals(name, ignoreCase = true) }?.value?.firstOrNull()

    internal companion object {
        fun of(resp: HttpResponse<*>, attempts: Int): ResponseInfo {
            val h = resp.headers().map()
            fun get(name: String) = resp.headers().firstValue(name).orElse(null)
            return ResponseInfo(
                resp.statusCode(), h, get("X-Request-Id"),
                RateLimit(
                    get("X-RateLimit-Limit")?.toIntOrNull(), get("X-RateLimit-Remaining")?.toIntOrNull(),
                    get("X-RateLimit-Reset")?.toLongOrNull()?.let { Instant.ofEpochSecond(it) }
                ),
                attempts, get("Idempotent-Replayed") == "true"
            )
        }
    }
}

/** The organisation's rate-limit state from the X-RateLimit-* headers; null where absent. */
data class RateLimit(val limit: Int?, val remaining: Int?, val reset: Instant?)
