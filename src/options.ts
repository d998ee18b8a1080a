import type { ActorOptions, AnyActorLogic, InspectionEvent, Observer } from 'xstate';
import { invalidOption } from './errors.js';
import type { BackoffOptions, ResolvedBackoff } from './policies/backoff.js';
import { type CloseCodesOption, checkCloseTable } from './policies/closeCodes.js';
import type { EnvironmentSource } from './policies/environment.js';
import type { QueueOptions, ResolvedQueue } from './policies/queue.js';
import type { RateLimitOptions } from './policies/rateLimit.js';
import type { ResolvedUnconfirmed, UnconfirmedOptions } from './policies/unconfirmed.js';
import type { SendData } from './data.js';
import type { DeliveryFactory } from './delivery/types.js';
import type { BatchingOptions, ResolvedBatching } from './messages/batching.js';
import type { ChunkingOptions } from './messages/chunking.js';
import type { Codec } from './messages/codec.js';
import { type StandardSchemaV1, isStandardSchema } from './messages/schema.js';
import type { BinaryType, CloseInfo, Transport } from './transports/types.js';

type MaybePromise<T> = T | Promise<T>;

/** A value, or a function called before every attempt for a fresh one (a URL with a new token, say). */
export type PerAttempt<T> = T | (() => MaybePromise<T>);

/** A clock the connection's timers run on; XState's `SimulatedClock` fits, and `now` drives queue TTLs. */
export type ConnectionClock = NonNullable<ActorOptions<AnyActorLogic>['clock']> & { now?(): number };

export interface ConnectionOptions<In = unknown, Out = SendData> {
  /**
   * How app messages become frames and back: `rawCodec` (frames as they are), `jsonCodec()`, or your own.
   * `send()` takes `Out`; `message` events and routed handlers get `In`.
   * @default rawCodec
   */
  codec?: Codec<In, Out>;
  /**
   * Validates every decoded inbound message (any Standard Schema validator: zod, valibot, arktype). Rejected
   * messages become `invalid-message` events, never `message` events.
   * @default undefined
   */
  schema?: StandardSchemaV1<unknown, In>;
  /**
   * The discriminant field `on(type, handler)` routes by.
   * @default 'type'
   */
  typeField?: string;
  /** Request/response (`request()`). */
  requests?: RequestsOptions;
  /**
   * Acknowledged delivery (see PROTOCOL.md): a layer built by e.g. `atLeastOnce()` from
   * `socketchart/delivery`. It keeps every message until the server acknowledges it and replays it after a
   * reconnect; with the `socketchart/server` helper deduplicating, each message is processed once.
   * @default undefined (plain WebSocket delivery)
   */
  delivery?: DeliveryFactory;
  /**
   * Coalesce small outbound messages sent within `window` ms into one frame built by `envelope` (and split
   * inbound batches with `split`).
   * @default undefined (off: every send is its own frame)
   */
  batching?: BatchingOptions;
  /**
   * Split outbound messages bigger than `chunkSize` into several frames and reassemble inbound chunks (both
   * ends must speak the format of `splitMessage`/`Reassembler`). `true` uses the defaults.
   * @default undefined (off)
   */
  chunking?: ChunkingOptions | true;
  /** Backpressure and rate limiting of outbound messages while open. */
  flow?: FlowOptions;
  /**
   * Largest outbound message in bytes; `send()` of a bigger one throws `ERR_MESSAGE_TOO_LARGE`.
   * @default Infinity
   */
  maxMessageSize?: number;
  /**
   * How sockets are opened. `socketchart` uses `globalThis.WebSocket`; `socketchart/node` uses the `ws` package.
   * @default the browser transport where `WebSocket` exists, else an `ERR_NO_TRANSPORT` error
   */
  transport?: Transport;
  /**
   * Subprotocols offered in the handshake, or a function giving them per attempt.
   * @default []
   */
  protocols?: PerAttempt<string | string[]>;
  /**
   * Handshake headers per attempt (e.g. `Authorization`), or a function giving them. Node transport only:
   * browsers cannot set handshake headers, so this option is refused there.
   * @default undefined
   */
  headers?: PerAttempt<Record<string, string>>;
  /**
   * What binary messages arrive as; kept across reconnects.
   * @default the transport's: 'blob' in browsers, 'nodebuffer' on Node
   */
  binaryType?: BinaryType;
  /**
   * Stay in `idle` until `open()` is called, instead of connecting at once.
   * @default false
   */
  startClosed?: boolean;
  /**
   * Ms an attempt may take to open (TCP + TLS + handshake) before it is abandoned and retried.
   * @default 10000
   */
  connectTimeout?: number;
  /**
   * Ms `closing` waits for the server to answer the close frame before terminating the socket.
   * @default 5000
   */
  closeTimeout?: number;
  /** Reconnect delays and the retry limit. */
  backoff?: BackoffOptions;
  /**
   * Replaces the backoff timer: the retry happens when the returned promise resolves (tests pass
   * `() => Promise.resolve()`). Receives the retry number and the delay the backoff chose.
   * @default undefined (the backoff timer decides)
   */
  retryWait?: (retry: number, delay: number) => Promise<void>;
  /**
   * Decides whether to reconnect after the server or network ended a connection (after fatal close codes are
   * excluded). Return false for plain WebSocket behaviour.
   * @default undefined (always reconnect on retryable codes)
   */
  shouldReconnect?: (close: CloseInfo, retries: number) => boolean;
  /**
   * Verdicts per close code (`'retry' | 'retry-later' | 'fatal'`), as a table or a classifier; unmatched codes
   * use the defaults (see `DEFAULT_CLOSE_ACTIONS`).
   * @default undefined
   */
  closeCodes?: CloseCodesOption;
  /** The outbound queue used while the connection is not open. */
  queue?: QueueOptions;
  /**
   * Plain mode (no `delivery`): messages written to a socket that ends before the server confirmed them (by a
   * pong, or by answering a close the client started) are reported as `drop` events with reason `'unconfirmed'`,
   * instead of vanishing with the TCP connection. `false` turns the tracking off (nothing is reported then).
   * @default { maxMessages: 1000, maxBytes: 1048576, confirmEvery: 100 } (off under `delivery`)
   */
  unconfirmed?: UnconfirmedOptions | false;
  /**
   * Online/offline and page-visibility signals.
   * @default `navigator.onLine` and window/document events in browsers; nothing in Node
   */
  environment?: EnvironmentSource;
  /**
   * The clock for every timer of the chart (backoff, timeouts) and for queue TTLs. Tests pass a `SimulatedClock`.
   * @default the real clock
   */
  clock?: ConnectionClock;
  /**
   * Source of jitter in [0, 1).
   * @default Math.random
   */
  random?: () => number;
  /**
   * Authentication: a token provider called before every attempt, and how the token reaches the server.
   * @default undefined (no auth; cookies need nothing)
   */
  auth?: AuthOptions;
  /**
   * Dead-connection (half-open, blackhole) detection while open. `false` turns it off.
   * @default protocol pings every 10 s with a 5 s timeout where the transport can ping (Node); off in browsers
   */
  heartbeat?: HeartbeatOptions | false;
  /**
   * An XState inspector (`@statelyai/inspect`'s `inspector.inspect`, or any observer of inspection events).
   * @default undefined
   */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
}

export interface FlowOptions {
  /**
   * While the socket holds more than this many unsent bytes, sends wait in the queue instead of piling into it.
   * @default Infinity (no backpressure)
   */
  highWaterMark?: number;
  /**
   * Once the socket's buffer drains below this, queued sends resume and a `drain` event fires.
   * @default half of highWaterMark
   */
  lowWaterMark?: number;
  /**
   * A token bucket: at most `perSecond` messages per second on average, `burst` at once. Excess messages wait in
   * the queue (bounded by `queue`); none are dropped for rate alone.
   * @default undefined (no limit)
   */
  rateLimit?: RateLimitOptions;
}

export interface RequestsOptions {
  /**
   * The correlation id field, set on each request (if absent) and matched on replies.
   * @default 'id'
   */
  idField?: string;
  /**
   * Ms to wait for a reply before rejecting with `ERR_REQUEST_TIMEOUT`.
   * @default 10000
   */
  timeout?: number;
  /**
   * Requests in flight when the socket is lost: sent again on the next open, or rejected with
   * `ERR_CONNECTION_LOST`. When the session ends (`closed`) they are always rejected.
   * @default 'resend'
   */
  onReconnect?: 'resend' | 'fail';
}

export interface AuthOptions {
  /** Gives the token; called before every attempt (sync or async), so an expired token is replaced in time. */
  token: () => string | Promise<string>;
  /**
   * How the token travels: an auth message after the socket opens (and an ack before `open`), a URL query
   * parameter, a handshake header (Node transport), or cookies (browsers send them; nothing to do).
   * @default 'message'
   */
  mode?: 'message' | 'query' | 'header' | 'cookie';
  /**
   * Builds the auth message (mode `message`).
   * @default (token) => JSON.stringify({ type: 'auth', token })
   */
  message?: (token: string) => SendData;
  /**
   * Recognizes the server's acknowledgement (mode `message`).
   * @default a JSON message with `type: 'auth_ok'`
   */
  isAck?: (data: unknown) => boolean;
  /**
   * Recognizes the server's refusal (mode `message`).
   * @default a JSON message with `type: 'auth_error'`
   */
  isNack?: (data: unknown) => boolean;
  /**
   * Ms to wait for the ack (mode `message`).
   * @default 5000
   */
  timeout?: number;
  /**
   * The query parameter (mode `query`).
   * @default 'token'
   */
  queryParam?: string;
  /**
   * The header (mode `header`); its value is `Bearer <token>`.
   * @default 'Authorization'
   */
  header?: string;
  /**
   * Close codes meaning "token rejected": the token is refreshed and the connection retried once, then the code
   * is final (`closedBy.kind === 'auth'`).
   * @default [1008, 4001]
   */
  refreshCodes?: number[];
}

export interface HeartbeatOptions {
  /**
   * `protocol`: RFC 6455 ping frames (Node transport; servers answer them without any code). `message`: an
   * app-level ping message and a pong matcher (browsers and Node). `passive`: no ping; any inbound traffic
   * within the timeout proves the connection alive.
   * @default 'protocol' where the transport can ping, otherwise heartbeat is off unless configured
   */
  mode?: 'protocol' | 'message' | 'passive';
  /**
   * Ms between probes.
   * @default 10000
   */
  interval?: number;
  /**
   * Ms a probe waits for a pong (or any message) before the connection is declared dead and replaced.
   * @default 5000
   */
  timeout?: number;
  /**
   * The ping message (mode `message`).
   * @default () => '{"type":"ping"}'
   */
  ping?: () => SendData;
  /**
   * Recognizes a pong (mode `message`); pongs are not delivered to `message` listeners.
   * @default a JSON message with `type: 'pong'`
   */
  isPong?: (data: unknown) => boolean;
}

/** Every default in one place; the README's options table is checked against this. */
export const DEFAULTS = Object.freeze({
  flow: Object.freeze({
    highWaterMark: Infinity,
  }),
  batching: Object.freeze({
    window: 10,
    maxMessages: 100,
  }),
  chunking: Object.freeze({
    chunkSize: 65_536,
    maxMessageBytes: 16_777_216,
  }),
  typeField: 'type',
  maxMessageSize: Infinity,
  requests: Object.freeze({
    idField: 'id',
    timeout: 10_000,
    onReconnect: 'resend' as 'resend' | 'fail',
  }),
  protocols: Object.freeze([]) as readonly string[],
  startClosed: false,
  connectTimeout: 10_000,
  closeTimeout: 5_000,
  backoff: Object.freeze({
    initialDelay: 400,
    factor: 2,
    maxDelay: 30_000,
    maxAttempts: Infinity,
    resetAfter: 5_000,
    tryAgainLaterDelay: 5_000,
  }) satisfies ResolvedBackoff,
  queue: Object.freeze({
    maxMessages: 1000,
    maxBytes: 1_048_576,
    ttl: Infinity,
    overflow: 'drop-oldest',
  }) satisfies ResolvedQueue,
  unconfirmed: Object.freeze({
    maxMessages: 1000,
    maxBytes: 1_048_576,
    confirmEvery: 100,
  }) satisfies ResolvedUnconfirmed,
  auth: Object.freeze({
    mode: 'message',
    timeout: 5_000,
    queryParam: 'token',
    header: 'Authorization',
    refreshCodes: Object.freeze([1008, 4001]) as readonly number[],
  }),
  heartbeat: Object.freeze({
    interval: 10_000,
    timeout: 5_000,
  }),
});

export interface ResolvedAuth {
  token: () => string | Promise<string>;
  mode: 'message' | 'query' | 'header' | 'cookie';
  message: (token: string) => SendData;
  isAck: (data: unknown) => boolean;
  isNack: (data: unknown) => boolean;
  timeout: number;
  queryParam: string;
  header: string;
  refreshCodes: readonly number[];
}

export interface ResolvedHeartbeat {
  mode: 'protocol' | 'message' | 'passive';
  interval: number;
  timeout: number;
  ping: () => SendData;
  isPong: ((data: unknown) => boolean) | null;
}

/** True for a JSON text message whose `type` is `type`; cheap refusal for anything else. */
export function isJsonOfType(data: unknown, type: string): boolean {
  if (typeof data !== 'string' || !data.includes(type)) return false;
  try {
    return (JSON.parse(data) as { type?: unknown })?.type === type;
  } catch {
    return false;
  }
}

export function resolveAuth(auth: AuthOptions | undefined, transport: Transport): ResolvedAuth | null {
  if (auth === undefined) return null;
  if (typeof auth !== 'object' || auth === null) throw invalidOption('auth', 'an object with a token provider', auth);
  if (typeof auth.token !== 'function') throw invalidOption('auth.token', 'a function returning the token (or a promise of it)', auth.token);
  const d = DEFAULTS.auth;
  const mode = auth.mode ?? d.mode;
  if (!['message', 'query', 'header', 'cookie'].includes(mode)) {
    throw invalidOption('auth.mode', "'message', 'query', 'header' or 'cookie'", mode);
  }
  if (mode === 'header' && !transport.supportsHeaders) {
    throw invalidOption('auth.mode', `'message', 'query' or 'cookie' with the ${transport.name} transport (it cannot send handshake headers)`, mode);
  }
  for (const name of ['message', 'isAck', 'isNack'] as const) optionalFunction(`auth.${name}`, auth[name]);
  const refreshCodes = auth.refreshCodes ?? d.refreshCodes;
  if (!Array.isArray(refreshCodes) || refreshCodes.some((c) => !Number.isInteger(c))) {
    throw invalidOption('auth.refreshCodes', 'an array of close codes', refreshCodes);
  }
  return {
    token: auth.token,
    mode,
    message: auth.message ?? ((token) => JSON.stringify({ type: 'auth', token })),
    isAck: auth.isAck ?? ((data) => isJsonOfType(data, 'auth_ok')),
    isNack: auth.isNack ?? ((data) => isJsonOfType(data, 'auth_error')),
    timeout: duration('auth.timeout', auth.timeout, d.timeout),
    queryParam: auth.queryParam ?? d.queryParam,
    header: auth.header ?? d.header,
    refreshCodes,
  };
}

export function resolveHeartbeat(heartbeat: HeartbeatOptions | false | undefined, transport: Transport): ResolvedHeartbeat | null {
  if (heartbeat === false) return null;
  if (heartbeat !== undefined && (typeof heartbeat !== 'object' || heartbeat === null)) {
    throw invalidOption('heartbeat', 'an object or false', heartbeat);
  }
  const canPing = transport.canPing === true;
  if (heartbeat === undefined && !canPing) return null;
  const h = heartbeat ?? {};
  const mode = h.mode ?? (canPing ? 'protocol' : 'message');
  if (!['protocol', 'message', 'passive'].includes(mode)) {
    throw invalidOption('heartbeat.mode', "'protocol', 'message' or 'passive'", mode);
  }
  if (mode === 'protocol' && !canPing) {
    throw invalidOption('heartbeat.mode', `'message' or 'passive' with the ${transport.name} transport (it cannot send ping frames)`, mode);
  }
  optionalFunction('heartbeat.ping', h.ping);
  optionalFunction('heartbeat.isPong', h.isPong);
  const d = DEFAULTS.heartbeat;
  const interval = duration('heartbeat.interval', h.interval, d.interval);
  const timeout = duration('heartbeat.timeout', h.timeout, d.timeout);
  if (interval === 0 || timeout === 0) throw invalidOption('heartbeat.interval/timeout', 'greater than 0 (use heartbeat: false to turn it off)', 0);
  return {
    mode,
    interval,
    timeout,
    ping: h.ping ?? (() => '{"type":"ping"}'),
    isPong: mode === 'message' ? (h.isPong ?? ((data) => isJsonOfType(data, 'pong'))) : null,
  };
}

export interface ResolvedFlow {
  highWaterMark: number;
  lowWaterMark: number;
  rateLimit: Required<RateLimitOptions> | null;
}

export function resolveFlow(flow: FlowOptions | undefined): ResolvedFlow {
  if (flow !== undefined && (typeof flow !== 'object' || flow === null)) throw invalidOption('flow', 'an object', flow);
  const f = flow ?? {};
  const highWaterMark = count('flow.highWaterMark', f.highWaterMark, DEFAULTS.flow.highWaterMark, true);
  // 0 would hold every message forever (a socket's buffer is never below 0).
  if (highWaterMark < 1) throw invalidOption('flow.highWaterMark', 'at least 1 byte (or Infinity for no backpressure)', highWaterMark);
  const lowWaterMark = count('flow.lowWaterMark', f.lowWaterMark, highWaterMark === Infinity ? Infinity : Math.floor(highWaterMark / 2), true);
  if (lowWaterMark > highWaterMark) throw invalidOption('flow.lowWaterMark', `at most flow.highWaterMark (${highWaterMark})`, lowWaterMark);
  let rateLimit: Required<RateLimitOptions> | null = null;
  if (f.rateLimit !== undefined) {
    const r = f.rateLimit;
    if (typeof r !== 'object' || r === null) throw invalidOption('flow.rateLimit', 'an object { perSecond, burst? }', r);
    if (typeof r.perSecond !== 'number' || !(r.perSecond > 0) || !Number.isFinite(r.perSecond)) {
      throw invalidOption('flow.rateLimit.perSecond', 'a number > 0', r.perSecond);
    }
    const burst = r.burst ?? Math.max(1, Math.floor(r.perSecond));
    if (typeof burst !== 'number' || !(burst >= 1) || !Number.isFinite(burst)) throw invalidOption('flow.rateLimit.burst', 'a number >= 1', burst);
    rateLimit = { perSecond: r.perSecond, burst };
  }
  return { highWaterMark, lowWaterMark, rateLimit };
}

export function resolveChunking(chunking: ChunkingOptions | true | undefined): Required<ChunkingOptions> | null {
  if (chunking === undefined) return null;
  if (chunking !== true && (typeof chunking !== 'object' || chunking === null)) throw invalidOption('chunking', 'true or an object', chunking);
  const c = chunking === true ? {} : chunking;
  const chunkSize = count('chunking.chunkSize', c.chunkSize, DEFAULTS.chunking.chunkSize);
  if (chunkSize < 128) throw invalidOption('chunking.chunkSize', 'at least 128 bytes', chunkSize);
  return { chunkSize, maxMessageBytes: count('chunking.maxMessageBytes', c.maxMessageBytes, DEFAULTS.chunking.maxMessageBytes) };
}

export function resolveBatching(batching: BatchingOptions | undefined): ResolvedBatching | null {
  if (batching === undefined) return null;
  if (typeof batching !== 'object' || batching === null) throw invalidOption('batching', 'an object { envelope, window?, maxMessages?, split? }', batching);
  if (typeof batching.envelope !== 'function') throw invalidOption('batching.envelope', 'a function building one frame from the batched frames', batching.envelope);
  optionalFunction('batching.split', batching.split);
  const maxMessages = count('batching.maxMessages', batching.maxMessages, DEFAULTS.batching.maxMessages);
  if (maxMessages < 1) throw invalidOption('batching.maxMessages', 'at least 1', maxMessages);
  return {
    window: duration('batching.window', batching.window, DEFAULTS.batching.window),
    maxMessages,
    envelope: batching.envelope,
    split: batching.split,
  };
}

export function resolveUnconfirmed(unconfirmed: UnconfirmedOptions | false | undefined): ResolvedUnconfirmed | null {
  if (unconfirmed === false) return null;
  if (unconfirmed !== undefined && (typeof unconfirmed !== 'object' || unconfirmed === null)) {
    throw invalidOption('unconfirmed', 'an object { maxMessages?, maxBytes?, confirmEvery? } or false', unconfirmed);
  }
  const u = unconfirmed ?? {};
  const d = DEFAULTS.unconfirmed;
  const maxMessages = count('unconfirmed.maxMessages', u.maxMessages, d.maxMessages, true);
  if (maxMessages < 1) throw invalidOption('unconfirmed.maxMessages', 'at least 1 (use unconfirmed: false to turn tracking off)', maxMessages);
  return {
    maxMessages,
    maxBytes: count('unconfirmed.maxBytes', u.maxBytes, d.maxBytes, true),
    confirmEvery: count('unconfirmed.confirmEvery', u.confirmEvery, d.confirmEvery, true),
  };
}

export interface ResolvedOptions {
  transport: Transport;
  /** Null when off, and always under a delivery layer (it has acknowledgements). */
  unconfirmed: ResolvedUnconfirmed | null;
  batching: ResolvedBatching | null;
  chunking: Required<ChunkingOptions> | null;
  flow: ResolvedFlow;
  typeField: string;
  maxMessageSize: number;
  requests: Required<RequestsOptions>;
  auth: ResolvedAuth | null;
  heartbeat: ResolvedHeartbeat | null;
  startClosed: boolean;
  connectTimeout: number;
  closeTimeout: number;
  backoff: ResolvedBackoff;
  queue: ResolvedQueue;
}

/** setTimeout's ceiling: a longer delay fires after about 1 ms in Node and in browsers. */
export const MAX_DELAY = 2_147_483_647;

/** True for a delay setTimeout honours: ms in [0, MAX_DELAY] (Infinity where `allowInfinity` means "never"). */
export function isDelay(value: unknown, allowInfinity = false): value is number {
  return typeof value === 'number' && value >= 0 && (value <= MAX_DELAY || (allowInfinity && value === Infinity));
}

function duration(name: string, value: unknown, fallback: number, allowInfinity = false): number {
  if (value === undefined) return fallback;
  if (!isDelay(value, allowInfinity)) {
    throw invalidOption(name, `a number of ms from 0 to ${MAX_DELAY}${allowInfinity ? ' (or Infinity)' : ''}`, value);
  }
  return value;
}

function count(name: string, value: unknown, fallback: number, allowInfinity = false): number {
  if (value === undefined) return fallback;
  const ok =
    typeof value === 'number' && value >= 0 && (Number.isInteger(value) || (allowInfinity && value === Infinity));
  if (!ok) throw invalidOption(name, `a whole number >= 0${allowInfinity ? ' (or Infinity)' : ''}`, value);
  return value;
}

function stringOption(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value === '') throw invalidOption(name, 'a non-empty string', value);
  return value;
}

function optionalFunction(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') throw invalidOption(name, 'a function', value);
}

export function resolveBackoff(options: BackoffOptions | undefined): ResolvedBackoff {
  const d = DEFAULTS.backoff;
  // Connections with default backoff share the frozen defaults instead of each holding a copy.
  if (options === undefined) return d;
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw invalidOption('backoff', 'an object', options);
  }
  const o = options ?? {};
  const factor = o.factor ?? d.factor;
  if (typeof factor !== 'number' || !(factor >= 1) || !Number.isFinite(factor)) {
    throw invalidOption('backoff.factor', 'a finite number >= 1', factor);
  }
  return {
    initialDelay: duration('backoff.initialDelay', o.initialDelay, d.initialDelay),
    factor,
    maxDelay: duration('backoff.maxDelay', o.maxDelay, d.maxDelay),
    maxAttempts: count('backoff.maxAttempts', o.maxAttempts, d.maxAttempts, true),
    resetAfter: duration('backoff.resetAfter', o.resetAfter, d.resetAfter),
    tryAgainLaterDelay: duration('backoff.tryAgainLaterDelay', o.tryAgainLaterDelay, d.tryAgainLaterDelay),
  };
}

export function resolveQueue(options: QueueOptions | undefined): ResolvedQueue {
  const d = DEFAULTS.queue;
  if (options === undefined) return d;
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw invalidOption('queue', 'an object', options);
  }
  const o = options ?? {};
  const overflow = o.overflow ?? d.overflow;
  if (overflow !== 'drop-oldest' && overflow !== 'drop-newest' && overflow !== 'reject') {
    throw invalidOption('queue.overflow', "'drop-oldest', 'drop-newest' or 'reject'", overflow);
  }
  return {
    maxMessages: count('queue.maxMessages', o.maxMessages, d.maxMessages, true),
    maxBytes: count('queue.maxBytes', o.maxBytes, d.maxBytes, true),
    ttl: duration('queue.ttl', o.ttl, d.ttl, true),
    overflow,
  };
}

function checkCloseCodes(closeCodes: unknown): void {
  if (closeCodes === undefined || typeof closeCodes === 'function') return;
  checkCloseTable(closeCodes);
}

const isFunction = (value: unknown): boolean => typeof value === 'function';

/** The injected services must have the shape they are used with, or they fail later, deep inside a transition. */
function checkServices(options: ConnectionOptions<unknown, unknown>): void {
  const { environment, clock, inspect } = options;
  if (environment !== undefined && !(typeof environment === 'object' && environment !== null && isFunction(environment.isOnline) && isFunction(environment.subscribe))) {
    throw invalidOption('environment', 'an EnvironmentSource { isOnline(), subscribe(listener) }', environment);
  }
  if (clock !== undefined && !(typeof clock === 'object' && clock !== null && isFunction(clock.setTimeout) && isFunction(clock.clearTimeout) && (clock.now === undefined || isFunction(clock.now)))) {
    throw invalidOption('clock', 'a clock { setTimeout, clearTimeout, now? } such as new SimulatedClock()', clock);
  }
  if (inspect !== undefined && !isFunction(inspect) && !(typeof inspect === 'object' && inspect !== null && isFunction((inspect as { next?: unknown }).next))) {
    throw invalidOption('inspect', 'an inspection observer: a function or { next(event) } (e.g. inspector.inspect)', inspect);
  }
}

/** A transport must have the shape the connection drives; checked before any of its fields is read. */
export function checkTransport(transport: unknown): void {
  const t = transport as Transport | null;
  if (typeof t !== 'object' || t === null || !isFunction(t.open) || !Array.isArray(t.binaryTypes)) {
    throw invalidOption('transport', 'a Transport { name, open(request, sink), binaryTypes, defaultBinaryType } such as createNodeTransport()', transport);
  }
}

/** Checks everything that can be checked before the first attempt, so mistakes fail at construction. */
export function resolveOptions(options: ConnectionOptions<unknown, unknown>, transport: Transport): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', 'an object', options);
  optionalFunction('retryWait', options.retryWait);
  optionalFunction('shouldReconnect', options.shouldReconnect);
  optionalFunction('random', options.random);
  checkCloseCodes(options.closeCodes);
  if (options.chunking !== undefined && options.delivery !== undefined) {
    throw invalidOption('chunking', 'unset when `delivery` is set (the delivery layer frames whole messages; split them before sending)', options.chunking);
  }
  checkServices(options);
  if (options.startClosed !== undefined && typeof options.startClosed !== 'boolean') {
    throw invalidOption('startClosed', 'a boolean', options.startClosed);
  }
  if (options.binaryType !== undefined && !transport.binaryTypes.includes(options.binaryType)) {
    throw invalidOption('binaryType', `one of ${transport.binaryTypes.map((t) => `'${t}'`).join(', ')} for the ${transport.name} transport`, options.binaryType);
  }
  if (options.headers !== undefined && !transport.supportsHeaders) {
    throw invalidOption(
      'headers',
      `unset with the ${transport.name} transport (browsers cannot send handshake headers; put the token in the URL or use cookies)`,
      options.headers,
    );
  }
  const requests = options.requests ?? {};
  if (typeof requests !== 'object' || requests === null) throw invalidOption('requests', 'an object', requests);
  const onReconnect = requests.onReconnect ?? DEFAULTS.requests.onReconnect;
  if (onReconnect !== 'resend' && onReconnect !== 'fail') throw invalidOption('requests.onReconnect', "'resend' or 'fail'", onReconnect);
  if (options.codec !== undefined && (typeof options.codec?.encode !== 'function' || typeof options.codec?.decode !== 'function')) {
    throw invalidOption('codec', 'an object with encode() and decode() (e.g. jsonCodec())', options.codec);
  }
  if (options.schema !== undefined && !isStandardSchema(options.schema)) {
    throw invalidOption('schema', 'a Standard Schema validator (zod, valibot, arktype, ...)', options.schema);
  }
  const unconfirmed = resolveUnconfirmed(options.unconfirmed);
  return {
    transport,
    unconfirmed: options.delivery === undefined ? unconfirmed : null,
    batching: resolveBatching(options.batching),
    chunking: resolveChunking(options.chunking),
    flow: resolveFlow(options.flow),
    typeField: stringOption('typeField', options.typeField, DEFAULTS.typeField),
    maxMessageSize: count('maxMessageSize', options.maxMessageSize, DEFAULTS.maxMessageSize, true),
    requests: {
      idField: stringOption('requests.idField', requests.idField, DEFAULTS.requests.idField),
      timeout: duration('requests.timeout', requests.timeout, DEFAULTS.requests.timeout, true),
      onReconnect,
    },
    auth: resolveAuth(options.auth, transport),
    heartbeat: resolveHeartbeat(options.heartbeat, transport),
    startClosed: options.startClosed ?? DEFAULTS.startClosed,
    connectTimeout: duration('connectTimeout', options.connectTimeout, DEFAULTS.connectTimeout),
    closeTimeout: duration('closeTimeout', options.closeTimeout, DEFAULTS.closeTimeout),
    backoff: resolveBackoff(options.backoff),
    queue: resolveQueue(options.queue),
  };
}
