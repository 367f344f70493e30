/**
 * A map from block number to a value, stored in pages of 1024 consecutive blocks: the audit walks a
 * 256 MiB device block by block, and a Map with half a million number keys turns every lookup into a
 * cache miss, while a page is looked up once per 1024 blocks and then indexed.
 */
const PAGE_BITS = 10;
const PAGE = 1 << PAGE_BITS;

export class BlockMap<V> {
  private readonly pages = new Map<number, Array<V | undefined>>();

  get(block: number): V | undefined {
    return this.pages.get(Math.floor(block / PAGE))?.[block % PAGE];
  }

  set(block: number, value: V): void {
    const p = Math.floor(block / PAGE);
    let page = this.pages.get(p);
    if (!page) this.pages.set(p, (page = new Array<V | undefined>(PAGE).fill(undefined)));
    page[block % PAGE] = value;
  }

  delete(block: number): void {
    const page = this.pages.get(Math.floor(block / PAGE));
    if (page) page[block % PAGE] = undefined;
  }

  /** every (block, value) pair, in no particular order */
  *entries(): IterableIterator<[number, V]> {
    for (const [p, page] of this.pages) {
      for (let i = 0; i < PAGE; i++) {
        const v = page[i];
        if (v !== undefined) yield [p * PAGE + i, v];
      }
    }
  }
}
