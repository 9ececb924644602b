import { randomUUID } from "node:crypto";
import { errorFromResponse, TokConnectionError, TokTimeoutError } from "./errors.js";
import { responseInfo, type ResponseInfo } from "./response.js";

export const VERSION = "1.0.0";

/** Why a request is about to be retried, given to the `onRetry` option. */
export interface RetryEvent {
  method: string;
  url: string;
  /** 1 for the first retry. */
  attempt: number;
  /** How long the client waits before the retry, in milliseconds. */
  delayMs: number;
  /** The status that caused the retry, or null after a connection error or timeout. */
  status: number | null;
  /** Retry-After of that response in seconds, or null. */
  retryAfter: number | null;
  /** The Idempotency-Key sent, the same on every attempt. */
  idempotencyKey: string | null;
  error: unknown;
}

export interface TransportOptions {
  apiKey: string;
  baseUrl: string;
  timeoutMs: number;
  maxRetries: number;
  /** Cap for one backoff delay and for a Retry-After the client is willing to wait. */
  maxRetryDelayMs: number;
  fetch: typeof fetch;
  onRetry?: (e: RetryEvent) => void;
}

/** Options every call accepts. */
export interface RequestOptions {
  /** Overrides the client's timeout for each attempt of this call. */
  timeoutMs?: number;
  /** Overrides the client's retry count for this call. */
  maxRetries?: number;
  /** The Idempotency-Key for a POST that creates something; a UUID is generated otherwise. */
  idempotencyKey?: string;
  /** Extra headers. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export interface Call {
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  path: string;
  query?: Query | undefined;
  body?: unknown;
  /** A POST that creates something: it gets an Idempotency-Key and may then be retried. */
  creates?: boolean;
  options?: RequestOptions | undefined;
}

const idempotentMethods = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);
const retryableStatuses = new Set([502, 503, 504]);
const baseDelayMs = 500;

export class Transport {
  constructor(private readonly opts: TransportOptions) {}

  /** Sends a call with retries and returns its parsed JSON body (undefined for 204). */
  async send(call: Call): Promise<{ body: unknown; info: ResponseInfo }> {
    const o = call.options ?? {};
    const url = this.url(call.path, call.query);
    const headers: Record<string, string> = {
      Authorization: `ApiKey ${this.opts.apiKey}`,
      Accept: "application/json",
      "User-Agent": `tok-sdk-typescript/${VERSION} node/${process.versions.node}`,
      ...o.headers,
    };
    let payload: string | undefined;
    if (call.body !== undefined) {
      payload = JSON.stringify(call.body);
      headers["Content-Type"] ??= "application/json";
    }
    const idempotencyKey = o.idempotencyKey ?? (call.creates ? randomUUID() : headers["Idempotency-Key"]);
    if (idempotencyKey !== undefined) headers["Idempotency-Key"] = idempotencyKey;
    // Only a request the server can safely see twice is retried, as the other SDKs do.
    const safe = idempotentMethods.has(call.method) || idempotencyKey !== undefined;
    const maxRetries = o.maxRetries ?? this.opts.maxRetries;
    const timeoutMs = o.timeoutMs ?? this.opts.timeoutMs;

    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        const signals = [AbortSignal.timeout(timeoutMs), ...(o.signal ? [o.signal] : [])];
        res = await this.opts.fetch(url, {
          method: call.method,
          headers,
          body: payload ?? null,
          signal: signals.length === 1 ? signals[0] : anySignal(signals),
        });
      } catch (err) {
        if (o.signal?.aborted) throw err;
        const failure = isTimeout(err)
          ? new TokTimeoutError(`${call.method} ${url}: no response within ${timeoutMs} ms`, { cause: err })
          : new TokConnectionError(`${call.method} ${url}: ${describe(err)}`, { cause: err });
        if (!safe || attempt >= maxRetries) throw failure;
        await this.wait(call, url, attempt, null, null, idempotencyKey, failure);
        continue;
      }
      const info = responseInfo(res, attempt);
      const text = await res.text();
      const body = parseJSON(text);
      if (res.ok) return { body, info };
      const error = errorFromResponse(info, body);
      const retryable = safe && (res.status === 429 || retryableStatuses.has(res.status));
      const retryAfterMs = info.retryAfter === null ? null : info.retryAfter * 1000;
      if (!retryable || attempt >= maxRetries || (retryAfterMs !== null && retryAfterMs > this.opts.maxRetryDelayMs)) {
        throw error;
      }
      await this.wait(call, url, attempt, res.status, info.retryAfter, idempotencyKey, error);
    }
  }

  private async wait(call: Call, url: string, attempt: number, status: number | null, retryAfter: number | null,
    idempotencyKey: string | undefined, error: unknown): Promise<void> {
    // Retry-After is a floor: wait it out plus a little jitter so that clients refused at
    // the same moment do not come back together. Otherwise exponential backoff with jitter.
    const delayMs = retryAfter !== null
      ? retryAfter * 1000 + Math.random() * 250
      : Math.min(this.opts.maxRetryDelayMs, baseDelayMs * 2 ** attempt) * (0.5 + Math.random() / 2);
    this.opts.onRetry?.({ method: call.method, url, attempt: attempt + 1, delayMs, status, retryAfter,
      idempotencyKey: idempotencyKey ?? null, error });
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }

  private url(path: string, query?: Query): string {
    const u = new URL(this.opts.baseUrl.replace(/\/+$/, "") + path);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined && v !== null) u.searchParams.set(k, String(v));
    }
    return u.toString();
  }
}

function parseJSON(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === "TimeoutError" || (err.cause instanceof Error && err.cause.name === "TimeoutError"));
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
    return err.message + cause;
  }
  return String(err);
}

// AbortSignal.any arrived in Node 20; this is the same for Node 18.
function anySignal(signals: AbortSignal[]): AbortSignal {
  const ctl = new AbortController();
  for (const s of signals) {
    if (s.aborted) {
      ctl.abort(s.reason);
      break;
    }
    s.addEventListener("abort", () => ctl.abort(s.reason), { once: true });
  }
  return ctl.signal;
}

/** Percent-encodes one path segment (an ID the caller passed). */
export function seg(id: string): string {
  return encodeURIComponent(id);
}
