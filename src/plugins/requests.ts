/**
 * `socketchart/requests`: request/response over one connection (`conn.request()`). Each request carries a
 * correlation id and the reply with the same id settles it; requests outlive sockets (resent, or failed).
 *
 *   import { requests } from 'socketchart/requests';
 *   const conn = createConnection(url, { codec: jsonCodec(), requests: requests({ timeout: 5000 }) });
 *   const reply = await conn.request({ type: 'get', key: 'a' });
 */
import { SocketchartError, invalidOption } from '../errors.js';
import { RequestTracker, type RequestOptions } from '../messages/requests.js';
import { type RequestsOptions, REQUESTS_DEFAULTS, resolveRequests } from '../messages/requestsOptions.js';
import type { CloseInfo, TransportSocket } from '../transports/types.js';
import { MAX_DELAY, isDelay } from '../validate.js';
import type { PluginHost, Requester, RequestsPlugin } from './types.js';

export { REQUESTS_DEFAULTS, type RequestOptions, type RequestsOptions };
export type { RequestsPlugin } from './types.js';

/** A request's `sentOn` while it waits in the outbound queue: the queue, not a resend, takes it to a socket. */
const QUEUED = Symbol('queued');

/** The requests plug-in for `createConnection(url, { requests: requests(options) })`. Checks `options` now. */
export function requests(options?: RequestsOptions): RequestsPlugin {
  const resolved = resolveRequests(options);
  return { kind: 'requests', create: (host) => new Requests(host, resolved) };
}

class Requests implements Requester {
  readonly #host: PluginHost;
  readonly #options: ReturnType<typeof resolveRequests>;
  /** Made on first `request()`: most connections that can ask never do before their first message. */
  #tracker: RequestTracker | null = null;

  constructor(host: PluginHost, options: ReturnType<typeof resolveRequests>) {
    this.#host = host;
    this.#options = options;
  }

  request(body: unknown, options: RequestOptions): Promise<unknown> {
    const host = this.#host;
    if (host.raw) {
      return Promise.reject(
        new SocketchartError('ERR_INVALID_OPTION', 'request() needs a codec that carries objects, e.g. createConnection(url, { codec: jsonCodec() }).'),
      );
    }
    if (typeof body !== 'object' || body === null) {
      return Promise.reject(new SocketchartError('ERR_INVALID_DATA', 'request() takes an object message (its reply is matched by the id field).'));
    }
    if (host.readyState === 3) return Promise.reject(host.closedError());
    if (typeof options !== 'object' || options === null) return Promise.reject(invalidOption('request(message, options)', 'an object { timeout?, signal? }', options));
    if (options.timeout !== undefined && !isDelay(options.timeout, true)) {
      return Promise.reject(invalidOption('request({ timeout })', `ms from 0 to ${MAX_DELAY} (or Infinity)`, options.timeout));
    }
    const signal = options.signal as unknown;
    if (signal !== undefined && !(typeof signal === 'object' && signal !== null && typeof (signal as AbortSignal).aborted === 'boolean')) {
      return Promise.reject(invalidOption('request({ signal })', 'an AbortSignal', signal));
    }
    let created: ReturnType<RequestTracker['create']>;
    try {
      this.#tracker ??= new RequestTracker(this.#options.idField, host.timers(), this.#options.timeout);
      created = this.#tracker.create(body, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const { entry, promise } = created;
    if (entry.settled) return promise; // its signal was aborted already: nothing goes out
    let data;
    try {
      // Checked in every state, so a request written later, on open, obeys the same limits as send().
      data = host.encode(entry.message);
      host.checkOutbound(data);
    } catch (error) {
      entry.reject(error as Error);
      return promise;
    }
    const live = host.live;
    if (live !== null || host.delivering) {
      // While open (and always under a delivery layer) a request takes the same road as send(): chunking, flow
      // limits, the queue (tagged, so the pump marks it sent or skips it once settled) or the delivery layer.
      try {
        entry.sentOn = host.sendFrame(data, entry, entry.message) ? live : QUEUED;
      } catch (error) {
        // Refused (a full queue under `overflow: 'reject'`): the request fails as its promise, and leaves the
        // tracker, so no later socket writes what the caller was told failed.
        entry.reject(error as Error);
      }
    }
    return promise;
  }

  settle(message: unknown, decoded?: unknown): boolean {
    const tracker = this.#tracker;
    return tracker !== null && tracker.size > 0 && tracker.settle(message, decoded);
  }

  refuse(decoded: unknown, error: Error): boolean {
    const tracker = this.#tracker;
    return tracker !== null && tracker.size > 0 && tracker.refuse(decoded, error);
  }

  opened(socket: TransportSocket): void {
    if (this.#tracker === null) return;
    for (const entry of this.#tracker.unsentOn(socket)) {
      if (this.#host.write(socket, this.#host.encode(entry.message), false)) entry.sentOn = socket;
    }
  }

  lost(close: CloseInfo): void {
    if (this.#options.onReconnect !== 'fail') return;
    this.#tracker?.failAll(new SocketchartError('ERR_CONNECTION_LOST', `The connection was lost (${close.code}${close.reason ? ` ${close.reason}` : ''}) before the reply came.`));
  }

  ended(error: Error): void {
    this.#tracker?.failAll(error);
  }
}
