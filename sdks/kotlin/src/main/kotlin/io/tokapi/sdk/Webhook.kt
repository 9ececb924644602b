package io.tokapi.sdk

import java.nio.charset.StandardCharsets
import java.security.MessageDigest
import java.time.Duration
import java.time.Instant
import java.util.Base64
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec

/** How far a webhook's timestamp may be from now, either way. */
val WEBHOOK_TOLERANCE: Duration = Duration.ofMinutes(5)

/** A webhook that is not a genuine, fresh Tok message signed with the secret. */
class WebhookVerificationError(message: String) : RuntimeException(message)

/**
 * Verifies a webhook per the Standard Webhooks spec and returns its event: [payload] is the
 * raw body, [headers] the request's headers (any case), [secret] the endpoint's whsec_…
 * secret. One of the signatures in webhook-signature (Tok sends two while a rotated secret
 * overlaps) must be the HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{payload}", and the
 * timestamp within 5 minutes of [now]. Throws [WebhookVerificationError] otherwise.
 */
fun verifyWebhook(payload: String, headers: Map<String, String>, secret: String, now: Instant = Instant.now()): Event {
    fun header(name: String) = headers.entries.firstOrNull { it.key.equals(name, ignoreCase = true) }?.value
        ?: throw WebhookVerificationError("missing $name header")
    val id = header("webhook-id")
    val ts = header("webhook-timestamp")
    val signatures = header("webhook-signature")
    val sent = ts.toLongOrNull()?.let { Instant.ofEpochSecond(it) } ?: throw WebhookVerificationError("webhook-timestamp is not Unix seconds")
    if (Duration.between(sent, now).abs() > WEBHOOK_TOLERANCE) {
        throw WebhookVerificationError("webhook timestamp outside the 5-minute tolerance")
    }
    val key = try {
        Base64.getDecoder().decode(secret.removePrefix("whsec_"))
    } catch (e: IllegalArgumentException) {
        throw WebhookVerificationError("the secret is not a whsec_ base64 secret")
    }
    val mac = Mac.getInstance("HmacSHA256")
    mac.init(SecretKeySpec(key, "HmacSHA256"))
    val expected = mac.doFinal("$id.$ts.$payload".toByteArray(StandardCharsets.UTF_8))
    val match = signatures.split(' ').any { sig ->
        val parts = sig.split(',', limit = 2)
        parts.size == 2 && parts[0] == "v1" && try {
            MessageDigest.isEqual(Base64.getDecoder().decode(parts[1]), expected)
        } catch (e: IllegalArgumentException) {
            false
        }
    }
    if (!match) throw WebhookVerificationError("no signature matches the secret")
    return TokClient.gson.fromJson(payload, Event::class.java)
}
