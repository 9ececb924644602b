package io.tokapi.sdk

import java.io.IOException
import java.nio.charset.StandardCharsets
import java.time.Duration
import java.time.Instant
import java.time.ZonedDateTime
import java.time.format.DateTimeFormatter

/**
 * An error the API answered, in its envelope: [code], [message], [requestId], HTTP [status]
 * and field [details]. Each code has its subclass (catch [NotFoundError], [ConsentRevokedError],
 * …); [retryAfter] is the Retry-After delay of [RateLimitedError] and [ServiceUnavailableError].
 */
open class TokError internal constructor(e: Info, cause: Throwable? = null) : RuntimeException(e.message, cause) {
    val status: Int = e.status
    val code: ErrorCode = e.code
    /** The code as the API sent it (useful when [code] is UNKNOWN); null for a non-Tok answer. */
    val rawCode: String? = e.rawCode
    val requestId: String? = e.requestId
    val details: List<ErrorBodyDetail> = e.details
    val retryAfter: Duration? = e.retryAfter
    val response: ResponseInfo? = e.response

    internal class Info(
        val status: Int, val code: ErrorCode, val rawCode: String?, val message: String, val requestId: String?,
        val details: List<ErrorBodyDetail>, val retryAfter: Duration?, val response: ResponseInfo?
    )

    override fun toString(): String = "${javaClass.simpleName}: ${rawCode ?: "HTTP $status"} (HTTP $status, request $requestId): $message"

    internal companion object {
        fun of(info: ResponseInfo, body: ByteArray): TokError {
            val envelope = try {
                TokClient.gson.fromJson(String(body, StandardCharsets.UTF_8), ErrorEnvelope::class.java)
            } catch (e: RuntimeException) {
                null
            }
            val err: ErrorBody? = envelope?.error
            val raw = err?.code
            val code = if (raw == null) ErrorCode.UNKNOWN else ErrorCode.values().firstOrNull { it.name == raw } ?: ErrorCode.UNKNOWN
            val message = err?.message ?: String(body, StandardCharsets.UTF_8).take(200).ifEmpty { "HTTP ${info.status}" }
            val e = Info(info.status, code, raw, message, err?.requestId ?: info.requestId, err?.details ?: emptyList(),
                retryAfter(info.header("Retry-After")), info)
            return when (code) {
                ErrorCode.INVALID_API_KEY -> InvalidApiKeyError(e)
                ErrorCode.CONSENT_EXPIRED -> ConsentExpiredError(e)
                ErrorCode.CONSENT_REVOKED -> ConsentRevokedError(e)
                ErrorCode.BANK_API_ERROR -> BankApiError(e)
                ErrorCode.RATE_LIMITED -> RateLimitedError(e)
                ErrorCode.NOT_FOUND -> NotFoundError(e)
                ErrorCode.VALIDATION_ERROR -> ValidationError(e)
                ErrorCode.FORBIDDEN -> ForbiddenError(e)
                ErrorCode.CONFLICT -> ConflictError(e)
                ErrorCode.IDEMPOTENCY_KEY_REUSED -> IdempotencyKeyReusedError(e)
                ErrorCode.METHOD_NOT_ALLOWED -> MethodNotAllowedError(e)
                ErrorCode.PAYLOAD_TOO_LARGE -> PayloadTooLargeError(e)
                ErrorCode.UNSUPPORTED_MEDIA_TYPE -> UnsupportedMediaTypeError(e)
                ErrorCode.INTERNAL_ERROR -> InternalError(e)
                ErrorCode.SERVICE_UNAVAILABLE -> ServiceUnavailableError(e)
                ErrorCode.INSUFFICIENT_FUNDS -> InsufficientFundsError(e)
                ErrorCode.REQUEST_TIMEOUT -> RequestTimeoutError(e)
                ErrorCode.ACCESS_EXCEEDED -> AccessExceededError(e)
                ErrorCode.LIMIT_EXCEEDED -> LimitExceededError(e)
                ErrorCode.REFUND_EXCEEDS_PAYMENT -> RefundExceedsPaymentError(e)
                ErrorCode.UNKNOWN -> TokError(e)
            }
        }

        fun decoding(info: ResponseInfo, cause: Throwable) = TokError(
            Info(info.status, ErrorCode.UNKNOWN, null, "cannot decode the response: ${cause.message}", info.requestId,
                emptyList(), null, info), cause
        )

        /** Retry-After: seconds or an HTTP date. */
        fun retryAfter(v: String?): Duration? {
            if (v == null) return null
            v.toLongOrNull()?.let { return Duration.ofSeconds(it) }
            return try {
                Duration.between(Instant.now(), ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant())
            } catch (e: RuntimeException) {
                null
            }
        }
    }
}

class InvalidApiKeyError internal constructor(e: Info) : TokError(e)
class ConsentExpiredError internal constructor(e: Info) : TokError(e)
class ConsentRevokedError internal constructor(e: Info) : TokError(e)
class BankApiError internal constructor(e: Info) : TokError(e)
class RateLimitedError internal constructor(e: Info) : TokError(e)
class NotFoundError internal constructor(e: Info) : TokError(e)
class ValidationError internal constructor(e: Info) : TokError(e)
class ForbiddenError internal constructor(e: Info) : TokError(e)
class ConflictError internal constructor(e: Info) : TokError(e)
class IdempotencyKeyReusedError internal constructor(e: Info) : TokError(e)
class MethodNotAllowedError internal constructor(e: Info) : TokError(e)
class PayloadTooLargeError internal constructor(e: Info) : TokError(e)
class UnsupportedMediaTypeError internal constructor(e: Info) : TokError(e)
class InternalError internal constructor(e: Info) : TokError(e)
class ServiceUnavailableError internal constructor(e: Info) : TokError(e)
class InsufficientFundsError internal constructor(e: Info) : TokError(e)
class RequestTimeoutError internal constructor(e: Info) : TokError(e)
class AccessExceededError internal constructor(e: Info) : TokError(e)

/** LIMIT_EXCEEDED: a VRP payment over one of its consent's limits; details name the limit and what is left. Nothing was sent. */
class LimitExceededError internal constructor(e: Info) : TokError(e)
/** REFUND_EXCEEDS_PAYMENT: the refunds would add up to more than the payment; the details say what is left. */
class RefundExceedsPaymentError internal constructor(e: Info) : TokError(e)

/** No answer came: the connection failed on every attempt, or the request was not retryable. */
class TokConnectionError internal constructor(method: String, path: String, cause: IOException) : TokError(
    Info(0, ErrorCode.UNKNOWN, null, "$method $path: ${cause.message ?: cause.javaClass.simpleName}", null, emptyList(), null, null), cause
)
