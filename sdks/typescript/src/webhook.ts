import { createHmac, timingSafeEqual } from "node:crypto";
import type { Event } from "./types.js";

/** How far a webhook's timestamp may be from the receiver's clock, as Standard Webhooks says. */
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

/** A webhook that failed verification: do not process it, answer 400. */
export class WebhookVerificationError extends Error {
  override name = "WebhookVerificationError";
}

export type WebhookHeaders =
  | Headers
  | Record<string, string | string[] | undefined>;

export interface VerifyOptions {
  /** Seconds of clock difference accepted (default 300). */
  toleranceSeconds?: number;
  /** The receiver's clock, for tests. */
  now?: () => Date;
}

/**
 * Verifies a Tok webhook per the Standard Webhooks spec and returns its event. `payload` is
 * the raw request body exactly as received (a string or bytes, never re-serialised JSON);
 * `headers` the request's headers (a fetch Headers or Node's IncomingHttpHeaders); `secret`
 * the endpoint's `whsec_…` signing secret, or several during a rotation. A delivery carries
 * one signature per active secret, and any one matching one secret is enough.
 */
export function verifyWebhook(payload: string | Uint8Array, headers: WebhookHeaders, secret: string | string[],
  options: VerifyOptions = {}): Event {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header");
  }
  if (!/^\d+$/.test(timestamp)) throw new WebhookVerificationError("webhook-timestamp is not Unix seconds");
  const now = Math.floor((options.now?.() ?? new Date()).getTime() / 1000);
  const tolerance = options.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS;
  const ts = Number(timestamp);
  if (ts < now - tolerance) throw new WebhookVerificationError("webhook-timestamp is too old");
  if (ts > now + tolerance) throw new WebhookVerificationError("webhook-timestamp is in the future");

  const body = typeof payload === "string" ? Buffer.from(payload, "utf8") : Buffer.from(payload);
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`, "utf8"), body]);
  const expected = (Array.isArray(secret) ? secret : [secret]).map((s) =>
    createHmac("sha256", secretKey(s)).update(signed).digest());
  const match = signatures.split(" ").some((sig) => {
    const [version, value] = sig.split(",", 2);
    if (version !== "v1" || !value) return false;
    const got = Buffer.from(value, "base64");
    return expected.some((e) => e.length === got.length && timingSafeEqual(e, got));
  });
  if (!match) throw new WebhookVerificationError("no webhook-signature matches the secret");
  try {
    return JSON.parse(body.toString("utf8")) as Event;
  } catch {
    throw new WebhookVerificationError("the payload is not JSON");
  }
}

function secretKey(secret: string): Buffer {
  const raw = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret;
  const key = Buffer.from(raw, "base64");
  if (key.length === 0) throw new WebhookVerificationError("the signing secret is not whsec_<base64>");
  return key;
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const rec = headers as Record<string, string | string[] | undefined>;
  for (const [k, v] of Object.entries(rec)) {
    if (k.toLowerCase() === name) return Array.isArray(v) ? v.join(" ") : v;
  }
  return undefined;
}
