"""The quickstart of the Tok API overview, as it is, with the key and base URL from the
environment (TOK_API_KEY; TOK_API_URL, e.g. http://127.0.0.1:8080/v1 for make dev)."""

import os

from tokapi import TokClient

tok = TokClient(api_key=os.environ["TOK_API_KEY"])
accounts = tok.accounts.list()
transactions = tok.transactions.list(accounts[0].id, date_from="2026-01-01")

for a in accounts:
    print(f"{a.id}  {a.iban}  {a.currency}  {a.balance.amount if a.balance else ''}  {a.name}")
for t in transactions:
    sign = "+" if t.direction == "inbound" else "-"
    print(f"{t.booking_date}  {sign}{t.amount} {t.currency}  {t.remittance_info or ''}")
print(f"{len(accounts)} accounts, {len(transactions)} transactions on the first page (more: {transactions.has_more})")
