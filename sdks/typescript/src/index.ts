// @tokapi/sdk: the Tok API client for Node.js 18+ (no dependencies beyond fetch).
export { TokClient, DEFAULT_BASE_URL, SANDBOX_BASE_URL, type TokClientOptions } from "./client.js";
export { Page, PagePromise } from "./pagination.js";
export type { RequestOptions, RetryEvent } from "./http.js";
export { VERSION } from "./http.js";
export type { RateLimit, ResponseInfo, WithResponse } from "./response.js";
export * from "./errors.js";
export { verifyWebhook, WebhookVerificationError, WEBHOOK_TOLERANCE_SECONDS, type VerifyOptions, type WebhookHeaders } from "./webhook.js";
export type * from "./types.js";
export type { components, operations, paths } from "./schema.js";
