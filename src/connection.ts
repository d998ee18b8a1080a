import type { Actor } from 'xstate';
import type { ClosedReason, ConnectionMachine } from '../machines/connection.js';
import type { SendData } from './data.js';
import { SocketchartError, describe, invalidOption } from './errors.js';
import { type AppEvent, type ConnectionEventMap, type Listener, type ListenerOptions, dispatchAppEvent } from './events.js';
import { type ConnectionOptions, MAX_DELAY, type PerAttempt, checkTransport, isDelay, resolveOptions } from './options.js';
import { MAX_CLOSE_REASON_BYTES, isValidUserCloseCode } from './policies/closeCodes.js';
import { defaultEnvironment } from './policies/environment.js';
import type { RequestOptions } from './messages/requests.js';
import type { ConnectionMetrics } from './metrics.js';
import type { ChartHome } from './host/chartHome.js';
import { type HandlerSlots, ConnectionRuntime } from './runtime.js';
import { utf8Length } from './data.js';
import { type StateNameArgument, pathMatches } from './statePath.js';
import type { BinaryType, Transport } from './transports/types.js';

/**
 * An `on*` handler. Declared with method syntax so its parameter is compared bivariantly, as the DOM's `onmessage`
 * is: a `Connection<Msg, Msg>` then fits where a plain `Connection` is expected (a component prop, `logTransitions`).
 * With a plain function type the handler slot is writable and contravariant, which made every typed connection
 * incompatible with `Connection`.
 */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'] | null;

export interface OpenedOptions {
  /** Reject with `ERR_OPEN_TIMEOUT` after this many ms. */
  timeout?: number;
  /** Reject when this signal aborts. */
  signal?: AbortSignal;
}

/**
 * A WebSocket whose lifecycle is the connection statechart: it reconnects, queues while not open, and shows its
 * state. Everything `WebSocket` has works as it does there; the rest (`state`, `matches`, `actor`, `opened`,
 * `reconnect`, and the `statechange`, `reconnecting`, `drop` and `giveup` events) shows the chart.
 */
/** The `type` values of message union `M`. */
export type MessageType<M> = M extends { type: infer T } ? T : never;
/** The member of `M` whose `type` is `T`. */
export type MessageOf<M, T> = M extends { type: T } ? M : never;

export interface Subscription {
  /** Stop replaying it on reconnect, and send its unsubscribe message now if open. */
  unsubscribe(): void;
}

export class Connection<In = unknown, Out = unknown> implements HandlerSlots {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  onopen: Handler<ConnectionEventMap<In>['open']> = null;
  onmessage: Handler<ConnectionEventMap<In>['message']> = null;
  onclose: Handler<ConnectionEventMap<In>['close']> = null;
  onerror: Handler<ConnectionEventMap<In>['error']> = null;

  readonly #runtime: ConnectionRuntime;

  /** @internal use `createConnection` */
  constructor(url: PerAttempt<string | URL>, options: ConnectionOptions<In, Out>, transport: Transport, home?: ChartHome) {
    const resolved = resolveOptions(options as ConnectionOptions<unknown, unknown>, transport);
    const runtimeOptions = options as unknown as ConnectionOptions;
    this.#runtime = new ConnectionRuntime(this, url, runtimeOptions, resolved, options.environment ?? defaultEnvironment(), home);
    this.#runtime.start();
  }

  /** The XState actor running the chart: subscribe to it, inspect it, or hand it to `@xstate/react`'s `useSelector`. */
  get actor(): Actor<ConnectionMachine> {
    return this.#runtime.actor;
  }

  /** 0 CONNECTING (idle, connecting, reconnecting), 1 OPEN, 2 CLOSING, 3 CLOSED: derived from the chart. */
  get readyState(): 0 | 1 | 2 | 3 {
    return this.#runtime.readyState;
  }

  /**
   * The state path, e.g. `'connecting.opening'`, `'open'`, `'reconnecting.backoff'`, `'closed'`: always one of
   * `CONNECTION_STATE_PATHS`. Typed `string` for now; `statePathOf(conn.actor.getSnapshot())` and the `statechange`
   * event's `from`/`to` give it as a `ConnectionStatePath`.
   */
  get state(): string {
    return this.#runtime.path;
  }

  /**
   * Whether the chart is in `path` or a state inside it: `matches('reconnecting')`. A literal must name a state
   * (`ConnectionStateName`): a misspelled one does not compile.
   */
  matches<P extends string>(path: StateNameArgument<P>): boolean {
    return pathMatches(this.#runtime.path, path);
  }

  /** Why the connection is `closed` (null before it first closes). */
  get closedBy(): ClosedReason | null {
    return this.#runtime.closedBy;
  }

  /** The URL of the current (or last) attempt; empty until a URL function first resolves. */
  get url(): string {
    return this.#runtime.url;
  }

  /** The subprotocol the server chose on the last open. */
  get protocol(): string {
    return this.#runtime.protocol;
  }

  /** The extensions the server chose on the last open. */
  get extensions(): string {
    return this.#runtime.extensions;
  }

  /** How binary messages arrive; kept across reconnects. */
  get binaryType(): BinaryType {
    return this.#runtime.binaryType;
  }

  set binaryType(type: BinaryType) {
    this.#runtime.binaryType = type;
  }

  /**
   * Retries since the connection was last healthy: 0 during the first attempt, n during (and in the backoff before)
   * retry n; `reconnect()`, a new session and staying open for `backoff.resetAfter` set it back to 0. The count
   * `backoff.maxRetries` bounds, read where reconnecting-websocket and partysocket users read `retryCount`.
   */
  get retryCount(): number {
    return this.#runtime.actor.getSnapshot().context.retries;
  }

  /** The last round-trip time in ms measured by the heartbeat (null before the first pong). */
  get rtt(): number | null {
    return this.#runtime.rtt;
  }

  /** Bytes not yet on the wire: the socket's buffer plus the outbound queue. */
  get bufferedAmount(): number {
    return this.#runtime.bufferedAmount;
  }

  /**
   * Send now while open; otherwise queue until the next open (bounded by `queue`). After `close()` nothing is
   * sent: the data is reported by a `drop` event (reason `closed`) instead of vanishing.
   */
  send(message: Out): void {
    this.#runtime.send(message);
  }

  /**
   * Sends `message` with a correlation id (`requests.idField`) and resolves with the reply carrying the same id.
   * Rejects with `ERR_REQUEST_TIMEOUT`, `ERR_CONNECTION_CLOSED` when the session ends, or `ERR_CONNECTION_LOST`
   * (with `requests.onReconnect: 'fail'`). Needs an object codec such as `jsonCodec()`.
   */
  request<R = In>(message: Out, options: RequestOptions = {}): Promise<R> {
    return this.#runtime.request<R>(message, options);
  }

  /** Handle messages whose `type` (the `typeField`) is `type`. Handlers run before `message` listeners. */
  on<T extends MessageType<In>>(type: T, handler: (message: MessageOf<In, T>) => void): this {
    checkHandler(`on('${String(type)}', handler)`, handler);
    this.#runtime.router.on(type, handler as (m: never) => void);
    return this;
  }

  once<T extends MessageType<In>>(type: T, handler: (message: MessageOf<In, T>) => void): this {
    checkHandler(`once('${String(type)}', handler)`, handler);
    this.#runtime.router.on(type, handler as (m: never) => void, true);
    return this;
  }

  off<T extends MessageType<In>>(type: T, handler: (message: MessageOf<In, T>) => void): this {
    this.#runtime.router.off(type, handler as (m: never) => void);
    return this;
  }

  /**
   * Run `hook` on every open (now too, if open): the place to rejoin rooms and resubscribe. Messages it sends go
   * out ahead of the queue. Returns the function that removes the hook.
   */
  onEveryOpen(hook: () => void): () => void {
    checkHandler('onEveryOpen(hook)', hook);
    return this.#runtime.onEveryOpen(hook);
  }

  /**
   * Sends `message` now (if open) and again after every reconnect, until `unsubscribe()`, which also sends
   * `options.unsubscribe` if given and open.
   */
  subscribe(message: Out, options: { unsubscribe?: Out } = {}): Subscription {
    if (typeof options !== 'object' || options === null) throw invalidOption('subscribe(message, options)', 'an object { unsubscribe? }', options);
    // Encoded once now, so a message the codec cannot carry fails here instead of on every open.
    this.#runtime.encode(message);
    if (options.unsubscribe !== undefined) this.#runtime.encode(options.unsubscribe);
    const stop = this.#runtime.onEveryOpen(() => this.#runtime.send(message));
    return {
      unsubscribe: () => {
        stop();
        if (options.unsubscribe !== undefined && this.readyState === 1) this.#runtime.send(options.unsubscribe);
      },
    };
  }

  /**
   * A snapshot of uptime, reconnects, the last close, RTT and the queue; with the metrics plug-in
   * (`metrics: metrics()` from `socketchart/metrics`) also messages and bytes in and out (null without it).
   */
  get metrics(): ConnectionMetrics {
    return this.#runtime.readMetrics();
  }

  /**
   * Close for good (no reconnect): code 1000 or 3000-4999, reason at most 123 UTF-8 bytes, as `WebSocket.close`.
   * Queued messages are dropped with `drop` events. `reconnect()` starts a new session later.
   */
  close(code?: number, reason?: string): void {
    if (code !== undefined && !isValidUserCloseCode(code)) {
      throw new SocketchartError(
        'ERR_INVALID_CLOSE_CODE',
        `close() takes code 1000 or 3000-4999 (4000-4999 for your application); got ${describe(code)}.`,
      );
    }
    if (reason !== undefined && typeof reason !== 'string') {
      throw new SocketchartError('ERR_INVALID_CLOSE_CODE', `close() takes a string reason; got ${describe(reason)}.`);
    }
    if (reason !== undefined && utf8Length(reason) > MAX_CLOSE_REASON_BYTES) {
      throw new SocketchartError(
        'ERR_REASON_TOO_LONG',
        `The close reason is ${utf8Length(reason)} UTF-8 bytes; the protocol allows ${MAX_CLOSE_REASON_BYTES}. Shorten it.`,
      );
    }
    this.#runtime.close(code ?? 1000, reason ?? '');
  }

  /**
   * Leave `idle` (with `startClosed`) or `closed` and connect. While `closing` (after `close()`), the chart lets the
   * closing handshake finish, ends the session (its final `close`) and starts a new one at once (socket.io's
   * `disconnect().connect()`); a `close()` before the handshake is over takes that back. Elsewhere (connecting, open,
   * reconnecting) it does nothing.
   */
  open(): void {
    this.#runtime.connect();
  }

  /** Connect again now: drops the current socket (no close handshake), skips any backoff, restarts a closed session. */
  reconnect(): void {
    this.#runtime.reconnect();
  }

  /**
   * Resolves when the connection is open (at once if it is). Rejects with `ERR_CONNECTION_CLOSED` if it reaches
   * `closed` first, `ERR_OPEN_TIMEOUT` after `timeout` ms, or the signal's reason when `signal` aborts.
   */
  opened(options: OpenedOptions = {}): Promise<void> {
    if (typeof options !== 'object' || options === null) return Promise.reject(invalidOption('opened(options)', 'an object { timeout?, signal? }', options));
    const { timeout, signal } = options;
    if (timeout !== undefined && !isDelay(timeout)) {
      return Promise.reject(new SocketchartError('ERR_INVALID_OPTION', `opened({ timeout }) takes ms from 0 to ${MAX_DELAY}; got ${describe(timeout)}.`));
    }
    if (signal !== undefined && !isAbortSignal(signal)) {
      return Promise.reject(invalidOption('opened({ signal })', 'an AbortSignal', signal));
    }
    return this.#runtime.whenOpen(timeout, signal);
  }

  /** Resolves with why the session ended once it is `closed` (at once if it is). Pairs with `opened()`. */
  closed(): Promise<ClosedReason> {
    const now = this.#runtime.closedBy;
    if (this.readyState === 3 && now) return Promise.resolve(now);
    return new Promise((resolve) => {
      const onClose = (event: ConnectionEventMap<In>['close']) => {
        if (!event.closedBy) return;
        this.removeEventListener('close', onClose);
        resolve(event.closedBy);
      };
      this.addEventListener('close', onClose);
    });
  }

  addEventListener<K extends keyof ConnectionEventMap<In, Out>>(
    type: K,
    listener: Listener<ConnectionEventMap<In, Out>[K]> | null,
    options?: ListenerOptions | boolean,
  ): void {
    // As the DOM: a null listener is a no-op. Anything else that cannot be called is refused now, not on dispatch.
    if (listener == null) return;
    if (typeof listener !== 'function' && typeof (listener as { handleEvent?: unknown }).handleEvent !== 'function') {
      throw invalidOption(`addEventListener('${String(type)}', listener)`, 'a function or an object with handleEvent()', listener);
    }
    const signal = typeof options === 'object' && options !== null ? options.signal : undefined;
    if (signal !== undefined && !isAbortSignal(signal)) throw invalidOption('addEventListener options.signal', 'an AbortSignal', signal);
    this.#runtime.listeners.add(type, listener as Listener<never>, options);
  }

  removeEventListener<K extends keyof ConnectionEventMap<In, Out>>(
    type: K,
    listener: Listener<ConnectionEventMap<In, Out>[K]> | null,
  ): void {
    if (listener) this.#runtime.listeners.remove(type, listener as Listener<never>);
  }

  /**
   * Hands an event of the app's own to this connection's `on<type>` handler and listeners, as
   * `EventTarget.dispatchEvent` does (reconnecting-websocket and partysocket offer it too). Its `target` becomes the
   * connection. Returns false when a listener called `preventDefault()` on a cancelable event.
   */
  dispatchEvent(event: AppEvent): boolean {
    return dispatchAppEvent(this, this.#runtime.listeners, event);
  }
}

function checkHandler(where: string, handler: unknown): void {
  if (typeof handler !== 'function') throw invalidOption(where, 'a function', handler);
}

function isAbortSignal(value: unknown): value is AbortSignal {
  return typeof value === 'object' && value !== null && typeof (value as AbortSignal).aborted === 'boolean' && typeof (value as AbortSignal).addEventListener === 'function';
}

// WebSocket has the constants on instances too; on the prototype they cost no memory per connection.
for (const [name, value] of [['CONNECTING', 0], ['OPEN', 1], ['CLOSING', 2], ['CLOSED', 3]] as const) {
  Object.defineProperty(Connection.prototype, name, { value, enumerable: true });
}

/** Builds `createConnection` for an entry point, with that entry's default transport. */
export function connectionFactory(defaultTransport: () => Transport) {
  return function createConnection<In = unknown, Out = SendData>(
    url: PerAttempt<string | URL>,
    options: ConnectionOptions<In, Out> = {},
  ): Connection<In, Out> {
    if (typeof options !== 'object' || options === null) throw invalidOption('options', 'an object', options);
    const transport = options.transport ?? defaultTransport();
    checkTransport(transport);
    return new Connection<In, Out>(url, options, transport);
  };
}

export function missingTransport(): never {
  throw new SocketchartError(
    'ERR_NO_TRANSPORT',
    // One message for every API of this entry (createConnection, createPool, connectionLogic): it names the entry.
    'There is no global WebSocket here (Node < 22?). Import from "socketchart/node" instead of "socketchart" (the same API over the ws package), or pass options.transport.',
  );
}
