import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";
import * as esm from "@tokapi/sdk";
import { env } from "./env.mjs";

test("the CommonJS build has the same API as the ESM build", () => {
  const cjs = createRequire(import.meta.url)("@tokapi/sdk");
  assert.deepEqual(Object.keys(cjs).sort(), Object.keys(esm).sort());
  assert.equal(typeof cjs.TokClient, "function");
  assert.equal(typeof cjs.verifyWebhook, "function");
});

test("TOK_API_KEY and TOK_API_URL are the defaults", async () => {
  const saved = { ...process.env };
  try {
    process.env.TOK_API_KEY = env("TOK_API_KEY");
    process.env.TOK_API_URL = env("TOK_API_URL");
    const banks = await new esm.TokClient().banks.list();
    assert.ok(banks.length > 0);
    delete process.env.TOK_API_KEY;
    assert.throws(() => new esm.TokClient(), /no API key/);
  } finally {
    process.env = saved;
  }
});

test("without TOK_API_URL the base URL follows the key's environment", async () => {
  const saved = { ...process.env };
  try {
    delete process.env.TOK_API_URL;
    const urls = [];
    const fetch = async (url) => { urls.push(url); return new Response("{}", { status: 200 }); };
    await new esm.TokClient({ apiKey: "tok_sandbox_x", fetch }).accounts.get("acc_1");
    await new esm.TokClient({ apiKey: "tok_live_x", fetch }).accounts.get("acc_1");
    assert.deepEqual(urls, [`${esm.SANDBOX_BASE_URL}/accounts/acc_1`, `${esm.DEFAULT_BASE_URL}/accounts/acc_1`]);
  } finally {
    process.env = saved;
  }
});
