import { SocketchartError } from '../errors.js';
import type { ConnectionClock } from '../options.js';
import { abortReason } from '../messages/requests.js';

interface OpenWaiter {
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * The promises of `conn.opened()`: settled when `open` fires (resolved) or the session ends (rejected), or by
 * their own timeout or abort signal. Made on the first `opened()` call: most connections never have one.
 */
export class OpenWaiters {
  readonly #clock: ConnectionClock | undefined;
  #waiters: OpenWaiter[] = [];

  constructor(clock: ConnectionClock | undefined) {
    this.#clock = clock;
  }

  /** A promise for the next `open`; `path()` names the state for the timeout's message. */
  wait(timeout: number | undefined, signal: AbortSignal | undefined, path: () => string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: unknown;
      const settle = () => {
        if (timer !== undefined) (this.#clock ?? globalThis).clearTimeout(timer as never);
        signal?.removeEventListener('abort', onAbort);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
      };
      const waiter: OpenWaiter = {
        resolve: () => (settle(), resolve()),
        reject: (error) => (settle(), reject(error)),
      };
      const onAbort = () => waiter.reject(abortReason(signal as AbortSignal));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeout !== undefined) {
        timer = (this.#clock ?? globalThis).setTimeout(
          () => waiter.reject(new SocketchartError('ERR_OPEN_TIMEOUT', `The connection did not open within ${timeout} ms (state: ${path()}).`)),
          timeout,
        );
      }
      this.#waiters = [...this.#waiters, waiter];
    });
  }

  /** `open` fired (error null) or the session ended: every waiter so far is settled. */
  settle(error: Error | null): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      if (error) waiter.reject(error);
      else waiter.resolve();
    }
  }
}
