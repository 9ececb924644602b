// The Kotlin version of the API overview's quickstart: the organisation's accounts and the
// first account's transactions of January and February 2026. TokClient() reads TOK_API_KEY
// (and TOK_API_URL for make dev); TokClient(apiKey = "tok_live_xxxx") names the key instead.
package io.tokapi.sdk.examples

import io.tokapi.sdk.TokClient
import io.tokapi.sdk.decimalAmount

fun main() {
    val tok = TokClient()

    val accounts = tok.accounts.list()
    for (a in accounts) println("account ${a.id}  ${a.bankName}  ${a.currency}  ${a.name}")

    val transactions = tok.transactions.list(accounts[0].id, dateFrom = "2026-01-01", dateTo = "2026-03-01")
    for (t in transactions) {
        println("transaction ${t.id}  ${t.bookingDate ?: ""}  ${t.direction}  ${t.decimalAmount} ${t.currency}")
    }
}
