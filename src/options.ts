/**
 * Connection options: the top-level ones, and the composition of the option groups. Each group (`backoff`,
 * `queue`, `heartbeat`, `auth`, `flow`, `unconfirmed`) has its type, defaults and resolver in its own module; this
 * file puts them together and re-exports them, so that importers keep one place to look. Message features
 * (`chunking`, `batching`, `requests`, `schema`, `router`, `metrics`) are plug-ins: their options, defaults and checks live in
 * their own entries (src/plugins/), and here only the plug-in value is recognised.
 */
import type { ActorOptions, AnyActorLogic, InspectionEvent, Observer } from 'xstate';
import { SocketchartError, describe, invalidOption } from './errors.js';
import { type AuthOptions, AUTH_DEFAULTS, type ResolvedAuth, resolveAuth } from './policies/auth.js';
import { type BackoffOptions, BACKOFF_DEFAULTS, type ResolvedBackoff, resolveBackoff } from './policies/backoff.js';
import { type CloseCodesOption, checkCloseTable } from './policies/closeCodes.js';
import type { EnvironmentSource } from './policies/environment.js';
import { type FlowOptions, FLOW_DEFAULTS, type ResolvedFlow, resolveFlow } from './policies/flow.js';
import { type HeartbeatOptions, HEARTBEAT_DEFAULTS, type ResolvedHeartbeat, resolveHeartbeat } from './policies/heartbeat.js';
import { type QueueOptions, QUEUE_DEFAULTS, type ResolvedQueue, resolveQueue } from './policies/queue.js';
import { type ResolvedUnconfirmed, type UnconfirmedOptions, UNCONFIRMED_DEFAULTS, resolveUnconfirmed } from './policies/unconfirmedOptions.js';
import type { SendData } from './data.js';
import type { Codec } from './messages/codec.js';
import type { MetricsPlugin } from './metrics.js';
import type { DeliveryPlugin } from './outbound/types.js';
import type { BatchingPlugin, ChunkingPlugin, RequestsPlugin, RouterPlugin, SchemaPlugin } from './plugins/types.js';
import type { BinaryType, CloseInfo, Transport } from './transports/types.js';
import { type Assert, type ListsAllKeys, callback, delay, flag, knownKeys, whole } from './validate.js';

export { MAX_DELAY, isDelay } from './validate.js';
export { type AuthOptions, type ResolvedAuth, resolveAuth } from './policies/auth.js';
export { resolveBackoff } from './policies/backoff.js';
export { type FlowOptions, type ResolvedFlow, resolveFlow } from './policies/flow.js';
export { type HeartbeatOptions, type ResolvedHeartbeat, isJsonOfType, resolveHeartbeat } from './policies/heartbeat.js';
export { resolveQueue } from './policies/queue.js';
export { resolveUnconfirmed } from './policies/unconfirmedOptions.js';

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
   * Plug-in (`schema(validator)` from `socketchart/schema`): validates every decoded inbound message with a
   * Standard Schema validator (zod, valibot, arktype). Rejected messages become `invalid-message` events, never
   * `message` events.
   * @default undefined (no validation)
   */
  schema?: SchemaPlugin<In>;
  /**
   * Plug-in (`router()` from `socketchart/router`): `conn.on(type, handler)`, `once`, `off`, routing by a
   * discriminant field (`router({ typeField })`).
   * @default undefined (`on()`, `once()` and `off()` throw ERR_PLUGIN_MISSING naming the import)
   */
  router?: RouterPlugin;
  /**
   * Plug-in (`requests()` from `socketchart/requests`): `conn.request()`, with its correlation field, reply timeout
   * and what happens to requests in flight when the socket is lost.
   * @default undefined (`request()` returns a promise rejected with ERR_PLUGIN_MISSING naming the import)
   */
  requests?: RequestsPlugin;
  /**
   * Acknowledged delivery (see PROTOCOL.md): a layer from `socketchart/delivery`, `atLeastOnce()` (or
   * `deliveryLayer(yourFactory)` for a layer of your own). It keeps every message until the server acknowledges it
   * and replays it after a reconnect; with the `socketchart/server` helper deduplicating, each message is processed once.
   * @default undefined (plain WebSocket delivery)
   */
  delivery?: DeliveryPlugin;
  /**
   * Plug-in (`batching({ envelope })` from `socketchart/batching`): coalesce small outbound messages sent within
   * `window` ms into one frame built by `envelope` (and split inbound batches with `split`).
   * @default undefined (off: every send is its own frame)
   */
  batching?: BatchingPlugin;
  /**
   * Plug-in (`chunking()` from `socketchart/chunking`): split outbound messages bigger than `chunkSize` into
   * several frames and reassemble inbound chunks (both ends must speak the format of `splitMessage`/`Reassembler`).
   * @default undefined (off)
   */
  chunking?: ChunkingPlugin;
  /**
   * Plug-in (`metrics()` from `socketchart/metrics`): count messages and bytes in and out (total and last second)
   * for `conn.metrics`. Without it those figures are null and nothing is counted per message; uptime, reconnects,
   * the last close, RTT and the queue are there either way.
   * @default undefined (no traffic counts)
   */
  metrics?: MetricsPlugin;
  /**
   * Backpressure and rate limiting of outbound messages while open.
   * @default `DEFAULTS.flow` (no backpressure, no rate limit)
   */
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
  /**
   * Reconnect delays and the retry limit (`maxRetries`).
   * @default `DEFAULTS.backoff` (each field's own default; retries forever)
   */
  backoff?: BackoffOptions;
  /**
   * Replaces the backoff timer: the retry happens when the returned promise resolves (tests pass
   * `() => Promise.resolve()`). Receives the retry number, the delay the backoff chose, and a signal that aborts
   * when the wait ends another way (close(), reconnect(), the network going away). It runs as the invoked
   * `retryWait` actor of `reconnecting.backoff`; a hook that throws or rejects is reported and retries at once.
   * @default undefined (the backoff timer decides)
   */
  retryWait?: (retry: number, delay: number, signal: AbortSignal) => Promise<void> | void;
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
  /**
   * The outbound queue used while the connection is not open.
   * @default `DEFAULTS.queue` (each field's own default)
   */
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

/** Every default in one place (each group's own defaults, composed); the README's options table is checked against this. */
export const DEFAULTS = Object.freeze({
  flow: FLOW_DEFAULTS,
  maxMessageSize: Infinity,
  protocols: Object.freeze([]) as readonly string[],
  startClosed: false,
  connectTimeout: 10_000,
  closeTimeout: 5_000,
  backoff: BACKOFF_DEFAULTS,
  queue: QUEUE_DEFAULTS,
  unconfirmed: UNCONFIRMED_DEFAULTS,
  auth: AUTH_DEFAULTS,
  heartbeat: HEARTBEAT_DEFAULTS,
});

export interface ResolvedOptions {
  transport: Transport;
  /** Null when off, and always under a delivery layer (it has acknowledgements). */
  unconfirmed: ResolvedUnconfirmed | null;
  batching: BatchingPlugin | null;
  chunking: ChunkingPlugin | null;
  requests: RequestsPlugin | null;
  schema: SchemaPlugin | null;
  router: RouterPlugin | null;
  metrics: MetricsPlugin | null;
  flow: ResolvedFlow;
  maxMessageSize: number;
  auth: ResolvedAuth | null;
  heartbeat: ResolvedHeartbeat | null;
  startClosed: boolean;
  connectTimeout: number;
  closeTimeout: number;
  backoff: ResolvedBackoff;
  queue: ResolvedQueue;
}

/**
 * Every top-level key `createConnection` accepts; anything else is a typo and is refused with the nearest key.
 * Wrappers that take more keys (a pool's `size`) check theirs first, with
 * `knownKeys('', options, [...CONNECTION_OPTION_KEYS, 'size'])`, so a typo of their own key is named too.
 */
export const CONNECTION_OPTION_KEYS = [
  'codec', 'schema', 'router', 'requests', 'delivery', 'batching', 'chunking', 'metrics', 'flow', 'maxMessageSize', 'transport',
  'protocols', 'headers', 'binaryType', 'startClosed', 'connectTimeout', 'closeTimeout', 'backoff', 'retryWait',
  'shouldReconnect', 'closeCodes', 'queue', 'unconfirmed', 'environment', 'clock', 'random', 'auth', 'heartbeat', 'inspect',
] as const;
type _Keys = Assert<ListsAllKeys<ConnectionOptions, typeof CONNECTION_OPTION_KEYS>>;

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

/**
 * A message feature's option takes the plug-in value its entry makes. Anything else (the former `chunking: true`,
 * `batching: { ... }`, a bare schema) is refused with the import that replaces it.
 */
function plugin<P>(name: string, value: unknown, call: string): P | null {
  if (value === undefined) return null;
  if (typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === name && isFunction((value as { create?: unknown }).create)) return value as P;
  throw new SocketchartError(
    'ERR_INVALID_OPTION',
    `Option \`${name}\` takes the plug-in ${call} from 'socketchart/${name}' (message features are imports, so an app ships only those it uses): import { ${name} } from 'socketchart/${name}', then createConnection(url, { ${name}: ${call} }); got ${describe(value)}.`,
  );
}

/** Checks everything that can be checked before the first attempt, so mistakes fail at construction. */
export function resolveOptions(options: ConnectionOptions<unknown, unknown>, transport: Transport): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', 'an object', options);
  if ('typeField' in options) {
    throw invalidOption('typeField', "unset: the field `on()` routes by is the router plug-in's (import { router } from 'socketchart/router', then createConnection(url, { router: router({ typeField }) }))", options.typeField);
  }
  knownKeys('', options, CONNECTION_OPTION_KEYS);
  callback('retryWait', options.retryWait);
  callback('shouldReconnect', options.shouldReconnect);
  callback('random', options.random);
  if (options.closeCodes !== undefined && typeof options.closeCodes !== 'function') checkCloseTable(options.closeCodes);
  if (options.delivery !== undefined && typeof (options.delivery as Partial<DeliveryPlugin> | null)?.outbound !== 'function') {
    throw invalidOption(
      'delivery',
      "atLeastOnce() or deliveryLayer(yourFactory) from 'socketchart/delivery' (a bare factory lacks the adapter it brings)",
      options.delivery,
    );
  }
  if (options.chunking !== undefined && options.delivery !== undefined) {
    throw invalidOption('chunking', 'unset when `delivery` is set (the delivery layer frames whole messages; split them before sending)', options.chunking);
  }
  checkServices(options);
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
  if (options.codec !== undefined && (typeof options.codec?.encode !== 'function' || typeof options.codec?.decode !== 'function')) {
    throw invalidOption('codec', 'an object with encode() and decode() (e.g. jsonCodec())', options.codec);
  }
  const startClosed = flag('startClosed', options.startClosed, DEFAULTS.startClosed);
  const unconfirmed = resolveUnconfirmed(options.unconfirmed);
  return {
    transport,
    unconfirmed: options.delivery === undefined ? unconfirmed : null,
    batching: plugin('batching', options.batching, 'batching({ envelope })'),
    chunking: plugin('chunking', options.chunking, 'chunking({ chunkSize })'),
    requests: plugin('requests', options.requests, 'requests({ timeout })'),
    schema: plugin('schema', options.schema, 'schema(yourSchema)'),
    router: plugin('router', options.router, 'router({ typeField })'),
    metrics: plugin('metrics', options.metrics, 'metrics()'),
    flow: resolveFlow(options.flow),
    maxMessageSize: whole('maxMessageSize', options.maxMessageSize, DEFAULTS.maxMessageSize, 0, true),
    auth: resolveAuth(options.auth, transport),
    heartbeat: resolveHeartbeat(options.heartbeat, transport),
    startClosed,
    connectTimeout: delay('connectTimeout', options.connectTimeout, DEFAULTS.connectTimeout),
    closeTimeout: delay('closeTimeout', options.closeTimeout, DEFAULTS.closeTimeout),
    backoff: resolveBackoff(options.backoff),
    queue: resolveQueue(options.queue),
  };
}
