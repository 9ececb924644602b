import assert from "node:assert/strict";
import { test } from "node:test";
import { Page, TokClient } from "@tokapi/sdk";
import { amountPattern, env } from "./env.mjs";

const tok = new TokClient({ apiKey: env("TOK_API_KEY"), baseUrl: env("TOK_API_URL") });
const accountId = env("TOK_ACCOUNT_ID");

test("awaiting a list gives one page; for await walks every page by nextCursor", async () => {
  const first = await tok.transactions.list(accountId, { limit: 50 });
  assert.ok(first instanceof Page && Array.isArray(first));
  assert.equal(first.length, 50);
  assert.equal(first.hasMore, true);
  assert.equal(typeof first.nextCursor, "string");
  assert.equal(first.$response.status, 200);

  const pages = [];
  for await (const page of tok.transactions.list(accountId, { limit: 50 }).pages()) pages.push(page);
  assert.ok(pages.length >= 3, `only ${pages.length} pages`);
  assert.equal(pages.at(-1).hasMore, false);
  const ids = [];
  for await (const t of tok.transactions.list(accountId, { limit: 50 })) ids.push(t.id);
  assert.deepEqual(ids, pages.flatMap((p) => p.map((t) => t.id)));
  assert.equal(new Set(ids).size, ids.length, "a transaction came twice");
  assert.deepEqual(ids.slice(0, 50), first.map((t) => t.id));
  // The same walk with the default page size sees the same transactions.
  const all = [];
  for await (const t of tok.transactions.list(accountId)) all.push(t.id);
  assert.deepEqual(all, ids);
});

test("transaction filters and amounts as decimal strings", async () => {
  let n = 0;
  for await (const t of tok.transactions.list(accountId, { dateFrom: "2026-01-01", dateTo: "2026-03-01", status: "booked", limit: 100 })) {
    n++;
    assert.equal(t.status, "booked");
    assert.ok(t.bookingDate >= "2026-01-01" && t.bookingDate <= "2026-03-01", t.bookingDate);
    assert.equal(typeof t.amount, "string");
    assert.match(t.amount, amountPattern);
  }
  assert.ok(n > 0, "no booked transactions in the window");
  const [t] = await tok.transactions.list(accountId, { limit: 1 });
  const again = await tok.transactions.get(accountId, t.id);
  assert.deepEqual({ ...again }, t);
  const changes = await tok.transactions.changes(accountId, { limit: 5 });
  assert.equal(changes.length, 5);
  assert.ok(["added", "modified", "removed"].includes(changes[0].type));
  assert.equal(typeof changes.nextCursor, "string");
});

test("accounts, balances, standing orders, banks and events", async () => {
  const accounts = await tok.accounts.list();
  assert.ok(accounts.some((a) => a.id === accountId));
  const account = await tok.accounts.get(accountId);
  assert.equal(account.id, accountId);
  assert.equal(account.$response.requestId.startsWith("req_"), true);
  const balances = await tok.accounts.balances(accountId);
  assert.ok(balances.balances.length > 0);
  for (const b of balances.balances) assert.match(b.amount, amountPattern);
  // Standing orders sync after the transactions, at most once a day: there may be none yet.
  const orders = await tok.standingOrders.list(accountId);
  assert.ok(orders instanceof Page && orders.$response.status === 200);
  for (const o of orders) assert.deepEqual({ ...(await tok.standingOrders.get(accountId, o.id)) }, o);
  const banks = await tok.banks.list({ country: "RS" });
  assert.ok(banks.length > 0 && banks.every((b) => b.country === "RS"));
  assert.equal((await tok.banks.get("sandbox-rs")).id, "sandbox-rs");
  const events = await tok.events.list({ type: "transactions.created" });
  assert.ok(events.length > 0);
  assert.equal((await tok.events.get(events[0].id)).id, events[0].id);
  const consents = await tok.consents.list({ status: "AUTHORIZED" });
  assert.ok(consents.length > 0);
  assert.equal((await tok.consents.get(consents[0].id)).status, "AUTHORIZED");
});

test("rate-limit headers are readable from every response", async () => {
  const page = await tok.banks.list();
  const { rateLimit } = page.$response;
  assert.ok(rateLimit, "no rate-limit headers");
  assert.equal(rateLimit.limit, 300);
  assert.ok(rateLimit.remaining >= 0 && rateLimit.remaining <= 300);
  assert.ok(rateLimit.reset > Date.now() / 1000 - 60);
  const account = await tok.accounts.get(accountId);
  assert.equal(account.$response.rateLimit.limit, 300);
  assert.ok(!Object.keys(account).includes("$response"), "$response must not be enumerable");
});
