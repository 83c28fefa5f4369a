/**
 * What a fake server received, in order, and a way to wait for what must arrive (never a sleep):
 * `waitFor` resolves as soon as enough matching items are there, or rejects after `timeoutMs`
 * saying what was missing.
 *
 * @example
 * const requests = new Arrivals<Request>();
 * await requests.waitFor((r) => r.path === "/push/1", 2, "pushes to /push/1");
 */
export class Arrivals<T> {
  readonly items: T[] = [];
  readonly #waiters = new Set<() => void>();

  add(item: T): void {
    this.items.push(item);
    for (const wake of this.#waiters) wake();
  }

  waitFor(match: (item: T) => boolean, count: number, what: string, timeoutMs = 15_000): Promise<T[]> {
    const matching = () => this.items.filter(match);
    return new Promise((resolve, reject) => {
      const check = () => {
        if (matching().length < count) return;
        done();
        resolve(matching().slice(0, count));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${count} ${what} did not arrive in ${timeoutMs} ms (got ${matching().length})`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }
}
