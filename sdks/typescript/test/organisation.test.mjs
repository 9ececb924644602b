import assert from "node:assert/strict";
import { test } from "node:test";
import { ForbiddenError, TokClient } from "@tokapi/sdk";
import { env } from "./env.mjs";

const tok = new TokClient({ apiKey: env("TOK_API_KEY"), baseUrl: env("TOK_API_URL") });

test("the organisation is read; a sandbox key cannot change its settings", async () => {
  const org = await tok.organisation.get();
  assert.equal(org.tier, "pro");
  assert.equal(org.environment, "sandbox");
  assert.equal(org.brandColor, null);
  await assert.rejects(tok.organisation.update({ displayName: "Bilko", brandColor: "#1a2b3c" }), ForbiddenError);
  assert.equal((await tok.organisation.get()).displayName, null);
});

test("a sandbox control fires an event of any type", async () => {
  const event = await tok.sandbox.fireWebhook({ type: "sync.failed" });
  assert.equal(event.type, "sync.failed");
  assert.match(event.id, /^evt_/);
});
