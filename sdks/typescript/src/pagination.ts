import type { ResponseInfo } from "./response.js";

/**
 * One page of a list: an array of the page's items (so `page[0]` and `page.length` work)
 * with the list's `hasMore` and `nextCursor` and the page's response.
 */
export class Page<T> extends Array<T> {
  // map, filter and friends return plain arrays, not pages.
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }

  hasMore = false;
  nextCursor: string | null = null;
  /** The response of this page (rate limit, request ID). */
  declare readonly $response: ResponseInfo;

  /** The items of this page as a plain array. */
  get data(): T[] {
    return Array.from(this);
  }
}

/** A list body as the API answers it. */
export interface ListBody<T> {
  data: T[];
  hasMore: boolean;
  nextCursor?: string | null;
}

export function toPage<T>(body: ListBody<T>, info: ResponseInfo): Page<T> {
  const page = new Page<T>();
  for (const item of body.data) page.push(item);
  page.hasMore = body.hasMore;
  page.nextCursor = body.nextCursor ?? null;
  Object.defineProperty(page, "$response", { value: info, enumerable: false });
  return page;
}

/**
 * What a list call returns: await it for the first page, or iterate it with `for await` to
 * walk every item of every page, following `nextCursor`. Nothing is fetched until either.
 */
export class PagePromise<T> implements PromiseLike<Page<T>>, AsyncIterable<T> {
  private first: Promise<Page<T>> | undefined;

  constructor(private readonly fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
    private readonly cursor: string | undefined) {}

  private firstPage(): Promise<Page<T>> {
    this.first ??= this.fetchPage(this.cursor);
    return this.first;
  }

  then<R1 = Page<T>, R2 = never>(onfulfilled?: ((value: Page<T>) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null): Promise<R1 | R2> {
    return this.firstPage().then(onfulfilled, onrejected);
  }

  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<Page<T> | R> {
    return this.firstPage().catch(onrejected);
  }

  /** Every page in turn, starting with the first. */
  async *pages(): AsyncGenerator<Page<T>, void, undefined> {
    let page = await this.firstPage();
    for (;;) {
      yield page;
      if (!page.hasMore || !page.nextCursor) return;
      page = await this.fetchPage(page.nextCursor);
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for await (const page of this.pages()) yield* page;
  }
}
