// The quickstart of the Tok API overview, as it is, with the key and base URL from the
// environment (TOK_API_KEY; TOK_API_URL, e.g. http://127.0.0.1:8080/v1 for make dev).
import { TokClient } from '@tokapi/sdk';

const tok = new TokClient({ apiKey: process.env.TOK_API_KEY });

const accounts = await tok.accounts.list();
const transactions = await tok.transactions.list(accounts[0].id, {
  dateFrom: '2026-01-01',
  dateTo: '2026-03-01',
});

for (const a of accounts) console.log(`${a.id}  ${a.iban}  ${a.currency}  ${a.balance?.amount ?? ''}  ${a.name}`);
for (const t of transactions) {
  console.log(`${t.bookingDate}  ${t.direction === 'inbound' ? '+' : '-'}${t.amount} ${t.currency}  ${t.remittanceInfo ?? ''}`);
}
console.log(`${accounts.length} accounts, ${transactions.length} transactions on the first page (more: ${transactions.hasMore})`);
