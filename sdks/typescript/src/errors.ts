import type { components } from "./schema.js";
import type { ResponseInfo } from "./response.js";

/** An error code of the Tok error envelope, as api/openapi.yaml lists them. */
export type ErrorCode = components["schemas"]["Error"]["error"]["code"];

/** One field-level problem of a VALIDATION_ERROR. */
export interface ErrorDetail {
  field: string;
  message: string;
}

/**
 * An error answered by the Tok API: the envelope's `code`, `message`, `requestId` and
 * `details`, the HTTP status, and the response (headers, rate limit). Each code has its own
 * subclass, so `err instanceof ConsentExpiredError` works; a code this SDK does not know yet
 * is a plain TokError.
 */
export class TokError extends Error {
  override name = "TokError";
  readonly code: string;
  readonly status: number;
  readonly requestId: string | null;
  readonly details: ErrorDetail[];
  readonly response: ResponseInfo;

  constructor(code: string, message: string, response: ResponseInfo, details: ErrorDetail[] = []) {
    super(message);
    this.code = code;
    this.status = response.status;
    this.requestId = response.requestId;
    this.details = details;
    this.response = response;
  }
}

export class InvalidApiKeyError extends TokError { override name = "InvalidApiKeyError"; }
export class ForbiddenError extends TokError { override name = "ForbiddenError"; }
export class ConsentExpiredError extends TokError { override name = "ConsentExpiredError"; }
export class ConsentRevokedError extends TokError { override name = "ConsentRevokedError"; }
export class NotFoundError extends TokError { override name = "NotFoundError"; }
export class MethodNotAllowedError extends TokError { override name = "MethodNotAllowedError"; }
export class ConflictError extends TokError { override name = "ConflictError"; }
export class PayloadTooLargeError extends TokError { override name = "PayloadTooLargeError"; }
export class UnsupportedMediaTypeError extends TokError { override name = "UnsupportedMediaTypeError"; }
export class IdempotencyKeyReusedError extends TokError { override name = "IdempotencyKeyReusedError"; }
export class ValidationError extends TokError { override name = "ValidationError"; }
export class InternalServerError extends TokError { override name = "InternalServerError"; }
export class BankApiError extends TokError { override name = "BankApiError"; }
/** SERVICE_UNAVAILABLE: a dependency did not answer in time; retried after Retry-After. */
export class ServiceUnavailableError extends TokError { override name = "ServiceUnavailableError"; }
/** INSUFFICIENT_FUNDS: the bank says the account cannot cover the payment; nothing was sent. */
export class InsufficientFundsError extends TokError { override name = "InsufficientFundsError"; }
/** REQUEST_TIMEOUT: the request body did not arrive in time. */
export class RequestTimeoutError extends TokError { override name = "RequestTimeoutError"; }
/** ACCESS_EXCEEDED: the consent's unattended accesses of today are spent (a refresh); Retry-After says until when. */
export class AccessExceededError extends TokError { override name = "AccessExceededError"; }
/** LIMIT_EXCEEDED: a VRP payment over one of its consent's limits; details name the limit and what is left. Nothing was sent. */
export class LimitExceededError extends TokError { override name = "LimitExceededError"; }
/** REFUND_EXCEEDS_PAYMENT: the refunds would add up to more than the payment; the details say what is left. */
export class RefundExceedsPaymentError extends TokError { override name = "RefundExceedsPaymentError"; }

/** RATE_LIMITED: the organisation's rate limit is spent; `retryAfter` says for how long. */
export class RateLimitError extends TokError {
  override name = "RateLimitError";
  /** Seconds to wait before the next request (the Retry-After header), or null. */
  readonly retryAfter: number | null;

  constructor(code: string, message: string, response: ResponseInfo, details: ErrorDetail[] = []) {
    super(code, message, response, details);
    this.retryAfter = response.retryAfter;
  }
}

type TokErrorClass = new (code: string, message: string, response: ResponseInfo, details?: ErrorDetail[]) => TokError;

// Typed against the spec's enum: a code added to api/openapi.yaml fails the build until it
// has its class here.
const errorClasses: Record<ErrorCode, TokErrorClass> = {
  INVALID_API_KEY: InvalidApiKeyError,
  FORBIDDEN: ForbiddenError,
  CONSENT_EXPIRED: ConsentExpiredError,
  CONSENT_REVOKED: ConsentRevokedError,
  NOT_FOUND: NotFoundError,
  METHOD_NOT_ALLOWED: MethodNotAllowedError,
  CONFLICT: ConflictError,
  PAYLOAD_TOO_LARGE: PayloadTooLargeError,
  UNSUPPORTED_MEDIA_TYPE: UnsupportedMediaTypeError,
  IDEMPOTENCY_KEY_REUSED: IdempotencyKeyReusedError,
  VALIDATION_ERROR: ValidationError,
  RATE_LIMITED: RateLimitError,
  INTERNAL_ERROR: InternalServerError,
  BANK_API_ERROR: BankApiError,
  SERVICE_UNAVAILABLE: ServiceUnavailableError,
  INSUFFICIENT_FUNDS: InsufficientFundsError,
  REQUEST_TIMEOUT: RequestTimeoutError,
  ACCESS_EXCEEDED: AccessExceededError,
  LIMIT_EXCEEDED: LimitExceededError,
  REFUND_EXCEEDS_PAYMENT: RefundExceedsPaymentError,
};

/** The error codes this SDK maps to their own class. */
export const errorCodes = Object.keys(errorClasses) as ErrorCode[];

/**
 * Builds the typed error for an error response. A body that is not the Tok envelope (a
 * proxy's page, say) gives a TokError with code `HTTP_<status>`.
 */
export function errorFromResponse(response: ResponseInfo, body: unknown): TokError {
  const env = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  if (!env || typeof env.code !== "string") {
    return new TokError(`HTTP_${response.status}`, `HTTP ${response.status} without a Tok error body`, response);
  }
  const message = typeof env.message === "string" ? env.message : env.code;
  const details = Array.isArray(env.details) ? (env.details as ErrorDetail[]) : [];
  const cls = (errorClasses as Record<string, TokErrorClass | undefined>)[env.code] ?? TokError;
  return new cls(env.code, message, response, details);
}

/** No response arrived: the connection failed or was reset. `cause` is the underlying error. */
export class TokConnectionError extends Error {
  override name = "TokConnectionError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** No response arrived within the timeout. */
export class TokTimeoutError extends TokConnectionError {
  override name = "TokTimeoutError";
}
