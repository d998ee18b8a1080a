import { SocketchartError } from '../errors.js';

export interface RequestOptions {
  /**
   * Reject with `ERR_REQUEST_TIMEOUT` after this many ms without a reply.
   * @default the connection's `requests.timeout`
   */
  timeout?: number;
  /** Reject with the signal's reason when it aborts. */
  signal?: AbortSignal;
}

interface TimerClock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

interface Pending {
  id: string;
  /** Resolved, rejected, timed out or aborted: a queued copy of it must not be written any more. */
  settled: boolean;
  message: object;
  /** The socket it was last written to; null while it waits for one. */
  sentOn: unknown;
  resolve(reply: unknown): void;
  reject(error: unknown): void;
  dispose(): void;
}

/**
 * Request/response over one connection: every request carries a correlation id, and the reply with the same id
 * settles it. Requests outlive sockets: across a reconnect they are sent again (or failed, by configuration).
 */
export class RequestTracker {
  readonly #idField: string;
  readonly #clock: TimerClock;
  readonly #defaultTimeout: number;
  #next = 1;
  #pending = new Map<string, Pending>();

  constructor(idField: string, clock: TimerClock, defaultTimeout: number) {
    this.#idField = idField;
    this.#clock = clock;
    this.#defaultTimeout = defaultTimeout;
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Registers a request; the caller writes `message` (now carrying its id) when it can. */
  create<R>(body: object, options: RequestOptions): { entry: Pending; promise: Promise<R> } {
    const existing = (body as Record<string, unknown>)[this.#idField];
    const id = existing === undefined ? String(this.#next++) : String(existing);
    if (this.#pending.has(id)) {
      throw new SocketchartError('ERR_INVALID_DATA', `A request with ${this.#idField} ${JSON.stringify(id)} is already pending; ids must be unique.`);
    }
    const message = existing === undefined ? { ...body, [this.#idField]: id } : body;
    const timeout = options.timeout ?? this.#defaultTimeout;
    let entry!: Pending;
    const promise = new Promise<R>((resolve, reject) => {
      let timer: unknown;
      const signal = options.signal;
      const onAbort = () => entry.reject(abortReason(signal as AbortSignal));
      entry = {
        id,
        settled: false,
        message,
        sentOn: null,
        resolve: (reply) => {
          entry.dispose();
          resolve(reply as R);
        },
        reject: (error) => {
          entry.dispose();
          reject(error);
        },
        dispose: () => {
          entry.settled = true;
          this.#pending.delete(id);
          if (timer !== undefined) this.#clock.clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      if (signal?.aborted) return; // rejected below, once registered, before anything can write it
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeout !== Infinity) {
        timer = this.#clock.setTimeout(
          () => entry.reject(new SocketchartError('ERR_REQUEST_TIMEOUT', `No reply to request ${this.#idField}=${id} within ${timeout} ms.`)),
          timeout,
        );
      }
    });
    this.#pending.set(id, entry);
    if (options.signal?.aborted) entry.reject(abortReason(options.signal));
    return { entry, promise };
  }

  /** Settles the request this message answers; false when it answers none (then it is an ordinary message). */
  /** Resolves the request `decoded` (default: `message`) replies to with `message`; false if it replies to none. */
  settle(message: unknown, decoded: unknown = message): boolean {
    const entry = this.#replied(decoded);
    if (entry === undefined) return false;
    entry.resolve(message);
    return true;
  }

  /** Rejects the request `decoded` replies to (its reply was invalid); false if it replies to none. */
  refuse(decoded: unknown, error: Error): boolean {
    const entry = this.#replied(decoded);
    if (entry === undefined) return false;
    entry.reject(error);
    return true;
  }

  #replied(decoded: unknown): Pending | undefined {
    if (this.#pending.size === 0 || typeof decoded !== 'object' || decoded === null) return undefined;
    const id = (decoded as Record<string, unknown>)[this.#idField];
    if (id === undefined) return undefined;
    let key: string;
    try {
      key = String(id);
    } catch {
      // An id the server made String() refuse (JSON can name an object's toString: {"toString":0}) answers no
      // request; the message goes on as an ordinary one instead of throwing out of the socket's message handler.
      return undefined;
    }
    const entry = this.#pending.get(key);
    return entry === undefined || entry.sentOn === null ? undefined : entry;
  }

  /** Requests to write on `socket`: never written, or written to an earlier socket; oldest first. */
  unsentOn(socket: unknown): Pending[] {
    return [...this.#pending.values()].filter((entry) => entry.sentOn !== socket && typeof entry.sentOn !== 'symbol');
  }

  failAll(error: Error): void {
    for (const entry of [...this.#pending.values()]) entry.reject(error);
  }
}

/** What an aborted wait rejects with: the signal's own reason (an AbortError DOMException unless one was given). */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('Aborted');
}
