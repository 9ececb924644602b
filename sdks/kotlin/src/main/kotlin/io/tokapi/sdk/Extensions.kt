package io.tokapi.sdk

import java.math.BigDecimal

/** Amounts travel as decimal strings ("5000.0000"); these turn them into BigDecimal and back, never a float. */
object Money {
    fun parse(amount: String): BigDecimal = BigDecimal(amount)

    /** The API's form: 4 decimals; throws if [amount] has more. */
    fun format(amount: BigDecimal): String = amount.setScale(4).toPlainString()

    /** [amount] for a request, with its own decimals ("60.00"), which must not exceed the currency's minor units. */
    fun request(amount: BigDecimal): String = amount.toPlainString()
}

val Transaction.decimalAmount: BigDecimal get() = Money.parse(amount)
val Balance.decimalAmount: BigDecimal get() = Money.parse(amount)
val StandingOrder.decimalAmount: BigDecimal get() = Money.parse(amount)
val Payment.decimalAmount: BigDecimal get() = Money.parse(amount)
/** What the current period has left. */
val VrpPeriodRemaining.decimalRemaining: BigDecimal get() = Money.parse(remaining)

/** The event as its type's class (a [TransactionsCreatedEvent] for transactions.created, …); itself for a type newer than the SDK. */
fun Event.typed(): Any = TokClient.gson.fromJson(TokClient.gson.toJsonTree(this), Event.TYPES[type] ?: Event::class.java)

/** An event's data as one of the event data classes, e.g. `event.dataAs(ConsentEventData::class.java)`. */
fun <T> Event.dataAs(type: Class<T>): T = TokClient.gson.fromJson(TokClient.gson.toJsonTree(data), type)
