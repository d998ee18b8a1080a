/**
 * A follower's requests: each waits for its reply, addressed to this tab alone, and is asked again of every new
 * leader until it settles (the leader's tracker gives it a correlation id of its own, so ids starting at "1" in
 * every tab never collide). `rid` numbers them within this tab.
 */
import type { Connection } from '../connection.js';
import { SocketchartError, describe, invalidOption } from '../errors.js';
import type { RequestOptions } from '../messages/requests.js';
import { type WireError, fromWireError } from './protocol.js';

interface Asked {
  message: unknown;
  timeout: number | undefined;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  dispose(): void;
}

export interface AskHost {
  /** Post the request to the leader (when there is one). */
  ask(rid: number, message: unknown, timeout: number | undefined): void;
  /** Tell the leader to stop waiting for it. */
  cancel(rid: number): void;
}

export class FollowerRequests {
  readonly #host: AskHost;
  readonly #asked = new Map<number, Asked>();
  #rid = 0;

  constructor(host: AskHost) {
    this.#host = host;
  }

  ask<R>(message: unknown, options: RequestOptions): Promise<R> {
    if (typeof options !== 'object' || options === null) return Promise.reject(invalidOption('request(message, options)', 'an object { timeout?, signal? }', options));
    if (typeof message !== 'object' || message === null) {
      return Promise.reject(new SocketchartError('ERR_INVALID_DATA', `request() takes an object message (it carries the correlation id); got ${describe(message)}.`));
    }
    const { signal, timeout } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const rid = ++this.#rid;
    return new Promise<R>((resolve, reject) => {
      const onAbort = () => {
        this.#asked.get(rid)?.dispose();
        this.#host.cancel(rid);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#asked.set(rid, {
        message,
        timeout,
        resolve: (value) => resolve(value as R),
        reject,
        dispose: () => {
          this.#asked.delete(rid);
          signal?.removeEventListener('abort', onAbort);
        },
      });
      this.#host.ask(rid, message, timeout);
    });
  }

  /** The leader answered request `rid`. */
  settle(rid: number, reply: { ok: true; value: unknown } | { ok: false; error: WireError }): void {
    const asked = this.#asked.get(rid);
    if (!asked) return;
    asked.dispose();
    if (reply.ok) asked.resolve(reply.value);
    else asked.reject(fromWireError(reply.error));
  }

  /** A new leader: ask it everything still unanswered. */
  askAgain(): void {
    for (const [rid, asked] of this.#asked) this.#host.ask(rid, asked.message, asked.timeout);
  }

  /** This tab leads now: its own connection's tracker takes them over. */
  handTo<Out>(conn: Connection<unknown, Out>): void {
    for (const asked of [...this.#asked.values()]) {
      asked.dispose();
      conn.request(asked.message as Out, asked.timeout === undefined ? {} : { timeout: asked.timeout }).then(asked.resolve, asked.reject);
    }
  }

  rejectAll(): void {
    for (const asked of [...this.#asked.values()]) {
      asked.dispose();
      asked.reject(new SocketchartError('ERR_CONNECTION_CLOSED', 'The connection closed before the reply came.'));
    }
  }
}
