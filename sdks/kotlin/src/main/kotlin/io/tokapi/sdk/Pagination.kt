package io.tokapi.sdk

import com.google.gson.reflect.TypeToken

/**
 * One page of a list: a List of its items (so `accounts[0]` works), with [hasMore],
 * [nextCursor] and the page's [response]. The resources' `listAll` methods give a Sequence
 * that fetches page after page as it is consumed.
 */
class Page<T> internal constructor(
    val data: List<T>,
    val hasMore: Boolean,
    val nextCursor: String?,
    val response: ResponseInfo
) : List<T> by data {
    override fun toString(): String = "Page(${data.size} items, hasMore=$hasMore)"
}

/** The wire shape of a list. */
internal class PageBody<T>(val data: List<T>?, val hasMore: Boolean, val nextCursor: String?)

internal fun <T> TokClient.page(item: Class<T>, path: String, query: Map<String, Any?>): Page<T> {
    val (body, info) = call<PageBody<T>>("GET", path, TypeToken.getParameterized(PageBody::class.java, item).type, query)
    return Page(body.data ?: emptyList(), body.hasMore, body.nextCursor, info)
}

/** Every item from the first page on, following nextCursor while hasMore. */
internal fun <T> TokClient.pages(item: Class<T>, path: String, query: Map<String, Any?>): Sequence<T> = sequence {
    var cursor = query["cursor"]
    do {
        val p = page(item, path, query + ("cursor" to cursor))
        yieldAll(p.data)
        cursor = if (p.hasMore) p.nextCursor else null
    } while (cursor != null)
}
