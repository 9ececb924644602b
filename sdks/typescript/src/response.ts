/** The organisation's rate-limit state, from the X-RateLimit-* headers of a response. */
export interface RateLimit {
  /** Requests per minute the tier allows. */
  limit: number;
  /** Requests left in the current window. */
  remaining: number;
  /** Unix time (seconds) at which the bucket is full again. */
  reset: number;
}

/** What a response said besides its body. Every result carries one as `$response`. */
export interface ResponseInfo {
  status: number;
  headers: Headers;
  /** X-Request-Id: quote it to support. */
  requestId: string | null;
  /** Null when the response had no rate-limit headers. */
  rateLimit: RateLimit | null;
  /** Retry-After in seconds, or null. */
  retryAfter: number | null;
  /** True when an Idempotency-Key replay answered the first response again. */
  idempotentReplayed: boolean;
  /** How many times the request was retried before this response. */
  retries: number;
}

/** A result of the API with its response attached as the non-enumerable `$response`. */
export type WithResponse<T> = T & { readonly $response: ResponseInfo };

export function responseInfo(res: Response, retries: number): ResponseInfo {
  const h = res.headers;
  const int = (name: string): number | null => {
    const v = h.get(name);
    if (v === null || !/^\d+$/.test(v.trim())) return null;
    return Number(v);
  };
  const limit = int("X-RateLimit-Limit");
  const remaining = int("X-RateLimit-Remaining");
  const reset = int("X-RateLimit-Reset");
  return {
    status: res.status,
    headers: h,
    requestId: h.get("X-Request-Id"),
    rateLimit: limit !== null && remaining !== null && reset !== null ? { limit, remaining, reset } : null,
    retryAfter: int("Retry-After"),
    idempotentReplayed: h.get("Idempotent-Replayed") === "true",
    retries,
  };
}

export function attachResponse<T extends object>(value: T, info: ResponseInfo): WithResponse<T> {
  Object.defineProperty(value, "$response", { value: info, enumerable: false });
  return value as WithResponse<T>;
}
