/**
 * `attachAckServer`'s options, their defaults and their checks; its stats and handle types.
 */
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { invalidOption } from '../errors.js';
import { knownKeys } from '../validate.js';
import { type SessionStore, type SharedSessionStore, createMemorySessionStore, isSharedStore } from './store.js';
import type { AckMessage, AckPayload, AckSendData, AckSession, Clock, UndeliveredReason } from './types.js';

export interface AckServerOptions {
  /**
   * Each client message, once (a replayed duplicate is acknowledged and skipped), in order. `message.key` is its
   * idempotency key; `message.commit(effect)` records an effect together with the processed mark. It may be
   * async: the message is marked processed (and acknowledged) when its promise settles, and the session's next
   * message waits until then. If it throws or rejects, the error goes to `onError`, its `commit()` effects are
   * discarded, and the message still counts as processed. An effect that fails goes to `onError` as an
   * `ERR_EFFECT_FAILED` SocketchartError (with a shared store the message is then processed again, see
   * `maxEffectFailures`; with the memory store it counts as processed and the effects after it do not run).
   */
  onMessage(session: AckSession, payload: AckPayload, message: AckMessage): void;
  /** A socket attached to a session: new (`resumed: false`) or resumed. Messages sent here follow the replay. */
  onSession?(session: AckSession, info: { resumed: boolean; request: IncomingMessage }): void;
  /**
   * A session expired (no socket for `sessionTtl` ms) with these messages never acknowledged: report them. With a
   * shared store also a session the store lost while this node held it (its keys expired, or Redis evicted its
   * messages: then the lost seqs nobody holds go to `onError`); its socket is closed with 1011.
   */
  onExpire?(session: AckSession, undelivered: AckPayload[]): void;
  /**
   * Messages `send()` accepted that a shared store then refused (`'taken-over'`: another node owns the session now;
   * `'full'`; `'store-failed'`). Never called with the memory store, whose `send()` answers at once.
   * @default reported to `onError` as an `ERR_QUEUE_FULL` / `ERR_CONNECTION_CLOSED` SocketchartError (without
   * `onError`: counted in `stats.undelivered`, one process warning)
   */
  onUndelivered?(session: AckSession, undelivered: AckPayload[], reason: UndeliveredReason): void;
  /**
   * A client message whose `message.commit()` effects failed in a shared store `maxEffectFailures` times in a row
   * (each failure also went to `onError`): it is now recorded as processed without them, so the client stops
   * replaying it. Keep it (a dead-letter queue) or act on it here.
   * @default reported to `onError` as an `ERR_EFFECT_FAILED` SocketchartError naming the message (without
   * `onError`: counted in `stats.deadLetters`, one process warning)
   */
  onDeadLetter?(session: AckSession, payload: AckPayload, message: { key: string; seq: number }, error: Error): void;
  /** A frame outside the protocol (auth messages, app-level pings): not sequenced, not acknowledged. */
  onUnsequenced?(socket: WebSocket, payload: AckPayload, session: AckSession | null): void;
  /**
   * A socket that did not negotiate `socketchart.ack.v1`. If it throws, the error goes to `onError` and the socket
   * is closed with 1011.
   * @default it is closed with 1002
   */
  onPlainConnection?(socket: WebSocket, request: IncomingMessage): void;
  /**
   * `onMessage` (or another hook) threw, or the store failed. Also told (when given) why `sessionKey()` refused a
   * socket; that refusal is never rethrown.
   * @default a hook's error is rethrown from a microtask, as an EventEmitter listener would; a store failure (and
   * a message `onUndelivered` would get, when it is not given) is counted in `stats` and warned about once per
   * kind with `process.emitWarning`, never rethrown: a store outage does not crash the process
   */
  onError?(error: unknown, session: AckSession | null): void;
  /**
   * Maps the client's session id to the store key, e.g. prefixing the authenticated user so one user can never
   * resume another's session. Throwing refuses the socket (1008); the error goes to `onError` if given, and is
   * otherwise dropped (a refusal is not a crash).
   * @default the session id as is
   */
  sessionKey?(sessionId: string, request: IncomingMessage): string;
  /**
   * Where sessions live: `createMemorySessionStore()` (this process), a `SessionStore` of your own, or a
   * `SharedSessionStore` such as `redisSessionStore({ client })` from `socketchart/server/redis` (several nodes).
   * @default createMemorySessionStore()
   */
  store?: SessionStore | SharedSessionStore;
  /**
   * Ms a session is kept with no socket attached; then it expires (`onExpire`). `Infinity` keeps it forever.
   * @default 120000
   */
  sessionTtl?: number;
  /** @default 10000 */
  maxUnacked?: number;
  /**
   * With a shared store: how many times in a row a client message's `message.commit()` effects may fail (the
   * socket is closed with 1011 after each, and the client replays the message) before it is recorded as processed
   * without them and handed to `onDeadLetter`. Counted in the store, across nodes.
   * @default 3
   */
  maxEffectFailures?: number;
  /** @default 8388608 (8 MiB) */
  maxUnackedBytes?: number;
  /** New sessions beyond this are refused with 1013 (try again later). @default 100000 */
  maxSessions?: number;
  /** Acknowledge after this many client messages... @default 32 */
  ackEvery?: number;
  /** ...or this many ms after the first unacknowledged one. @default 20 */
  ackDelay?: number;
  /** Answer `{"type":"ping"}` text frames with `{"type":"pong"}` (socketchart's `heartbeat: { mode: 'message' }`). @default true */
  answerPings?: boolean;
  /**
   * Data messages are written to a socket only while its `bufferedAmount` is below this many bytes; the rest wait
   * (held, as unacknowledged messages are) and go out as the socket drains. This bounds what one socket that does
   * not read can pin in memory, including a replay on resume.
   * @default 1048576 (1 MiB)
   */
  maxSocketBuffer?: number;
  /**
   * Ms a socket may stay open without a session: from the upgrade until its `hello` was answered (the store
   * included). Then it is closed with 1013.
   * @default 10000
   */
  helloTimeout?: number;
  /** Sockets open without a session yet (no `hello` answered). One more is closed at once with 1013. @default 10000 */
  maxPreHelloSockets?: number;
  /**
   * Bytes of frames one socket may send while its session loads from an async store (and, per session, that wait
   * for the store's fence check or an async `onMessage`); past it the socket is closed with 1013. Each frame counts
   * its payload (text at 3 bytes a character) plus 64 bytes, so a flood of empty frames reaches it too.
   * @default 1048576 (1 MiB)
   */
  maxBacklogBytes?: number;
  /** Timers and time (tests pass xstate's `SimulatedClock`). @default the real clock, timers unref'd */
  clock?: { now(): number; setTimeout(fn: () => void, ms: number): unknown; clearTimeout(id: unknown): void };
}

/** Counters since `attachAckServer`, for metrics and tests. */
export interface AckServerStats {
  /** Sessions created (a hello with an unknown session id). */
  created: number;
  /** Sockets that resumed an existing session. */
  resumed: number;
  /** Sessions that expired with no socket attached. */
  expired: number;
  /** Client messages processed (each once). */
  processed: number;
  /** Client messages received again after they were processed, and skipped. */
  duplicates: number;
  /** Server messages written again on resume. */
  replayed: number;
  /** Sockets closed for a protocol error, a sequence gap, a takeover or a bound. */
  refused: number;
  /** Session store calls that failed (each also goes to `onError`; never rethrown). */
  storeFailures: number;
  /** Messages `send()` accepted and a shared store then refused (each also goes to `onUndelivered`). */
  undelivered: number;
  /** Client messages recorded without their effects after `maxEffectFailures` failures (each goes to `onDeadLetter`). */
  deadLetters: number;
}

export interface AckServer {
  /** Sessions this process holds (attached, or detached and not yet expired). */
  readonly sessions: ReadonlyMap<string, AckSession>;
  /** This node's id (the channel a shared store sends its notices to). */
  readonly node: string;
  /**
   * Send to a session wherever its client is: on this node, on another node (through a shared store), or nowhere
   * now (kept for replay). Resolves true once the store holds the message, false when it was refused (no such
   * session, or it does not fit `maxUnacked` / `maxUnackedBytes`); rejects when the store failed (the message may
   * or may not have been stored).
   */
  sendTo(sessionId: string, data: AckSendData): Promise<boolean>;
  readonly stats: Readonly<AckServerStats>;
  /**
   * Resolves once this node takes sessions: at once with a record-at-a-time store (the memory store); with a
   * shared store, once it listens to its notices (until then, and while that subscription is down and being made
   * again, a `hello` is refused with `1011`). Failed attempts go to `onError` and are retried for as long as the
   * server runs, so race it with a timeout to bound startup. Rejects with `ERR_CONNECTION_CLOSED` if `close()` is
   * called first (or was).
   *
   * ```ts
   * const server = attachAckServer(wss, { store: redisSessionStore({ client }), onMessage });
   * await server.ready(); // then report the node healthy to the load balancer
   * ```
   */
  ready(): Promise<void>;
  /** Stop speaking the protocol on `wss`: listeners removed, timers cleared. Does not close `wss` or its sockets. */
  close(): void;
}

export const ACK_SERVER_DEFAULTS = Object.freeze({
  sessionTtl: 120_000,
  maxUnacked: 10_000,
  maxUnackedBytes: 8_388_608,
  maxSessions: 100_000,
  ackEvery: 32,
  ackDelay: 20,
  maxSocketBuffer: 1_048_576,
  helloTimeout: 10_000,
  maxPreHelloSockets: 10_000,
  maxBacklogBytes: 1_048_576,
  maxEffectFailures: 3,
});

/**
 * Pong answers written but not yet flushed to the kernel on one socket: a client that sends pings and never reads
 * is closed with 1008 at this many.
 */
export const MAX_UNFLUSHED_PONGS = 64;


/** The longest delay setTimeout honours (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};

/** Every option `attachAckServer` takes: a key not here is refused, naming the closest one. */
const ACK_SERVER_OPTION_KEYS = [
  'onMessage', 'onSession', 'onExpire', 'onUndelivered', 'onDeadLetter', 'onUnsequenced', 'onPlainConnection', 'onError',
  'sessionKey', 'store', 'sessionTtl', 'maxUnacked', 'maxEffectFailures', 'maxUnackedBytes', 'maxSessions', 'ackEvery',
  'ackDelay', 'answerPings', 'maxSocketBuffer', 'helloTimeout', 'maxPreHelloSockets', 'maxBacklogBytes', 'clock',
] as const satisfies ReadonlyArray<keyof AckServerOptions>;
/** Fails to compile when AckServerOptions gains an option the list above lacks. */
const everyServerOption: Record<Exclude<keyof AckServerOptions, (typeof ACK_SERVER_OPTION_KEYS)[number]>, never> = {};
void everyServerOption;

export function resolveServerOptions(options: AckServerOptions) {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', 'an object with onMessage', options);
  knownKeys('', options, ACK_SERVER_OPTION_KEYS);
  if (typeof options.onMessage !== 'function') throw invalidOption('onMessage', 'a function (session, payload) => void', options.onMessage);
  for (const name of ['onSession', 'onExpire', 'onUndelivered', 'onDeadLetter', 'onUnsequenced', 'onPlainConnection', 'onError', 'sessionKey'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw invalidOption(name, 'a function', options[name]);
  }
  const store = options.store ?? createMemorySessionStore();
  if (
    typeof store !== 'object' ||
    store === null ||
    (isSharedStore(store)
      ? (['available', 'claim', 'touch', 'fence', 'append', 'mark', 'trim', 'release', 'read', 'remove', 'listen'] as const).some((m) => typeof store[m] !== 'function')
      : (['get', 'set', 'delete'] as const).some((m) => typeof (store as SessionStore)[m] !== 'function'))
  ) {
    throw invalidOption('store', 'a SessionStore { get, set, delete } or a SharedSessionStore', store);
  }
  const clock = options.clock ?? realClock;
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function') {
    throw invalidOption('clock', 'an object with now(), setTimeout() and clearTimeout()', clock);
  }
  const d = ACK_SERVER_DEFAULTS;
  const number = (name: keyof typeof d, min: number, integer: boolean, allowInfinity: boolean, timer = false): number => {
    const value = options[name];
    if (value === undefined) return d[name];
    const ok =
      typeof value === 'number' &&
      value >= min &&
      ((integer ? Number.isInteger(value) : Number.isFinite(value)) || (allowInfinity && value === Infinity)) &&
      // Timers cannot wait longer (a longer setTimeout fires at once).
      (!timer || value === Infinity || value <= MAX_TIMER_MS);
    if (!ok) {
      const range = `${min}${timer ? ` and <= ${MAX_TIMER_MS}` : ''}`;
      throw invalidOption(name, `a ${integer ? 'whole ' : ''}number >= ${range}${allowInfinity ? ' (or Infinity)' : ''}`, value);
    }
    return value;
  };
  if (options.answerPings !== undefined && typeof options.answerPings !== 'boolean') throw invalidOption('answerPings', 'a boolean', options.answerPings);
  return {
    store,
    clock,
    sessionTtl: number('sessionTtl', 0, false, true, true),
    maxUnacked: number('maxUnacked', 1, true, true),
    maxUnackedBytes: number('maxUnackedBytes', 1, true, true),
    maxSessions: number('maxSessions', 1, true, true),
    ackEvery: number('ackEvery', 1, true, false),
    ackDelay: number('ackDelay', 0, false, false, true),
    maxSocketBuffer: number('maxSocketBuffer', 1, true, true),
    helloTimeout: number('helloTimeout', 1, false, false, true),
    maxPreHelloSockets: number('maxPreHelloSockets', 1, true, true),
    maxBacklogBytes: number('maxBacklogBytes', 0, true, true),
    maxEffectFailures: number('maxEffectFailures', 1, true, false),
    answerPings: options.answerPings ?? true,
  };
}


export type ResolvedServerOptions = ReturnType<typeof resolveServerOptions>;

/**
 * A shared-store session's expiry while the store is unreachable: retried every EXPIRY_RETRY_MS, EXPIRY_RETRIES
 * times (30 s, past the Redis store's default expiryGrace of 5 s), then the session ends on its node with the local
 * copy of what was unacknowledged reported to onExpire.
 */
export const EXPIRY_RETRY_MS = 1_000;
export const EXPIRY_RETRIES = 30;

/**
 * A shared store's subscription to its node's notices, when it fails (Redis down at startup): retried after
 * LISTEN_RETRY_MIN_MS, doubling up to LISTEN_RETRY_MAX_MS, for as long as the server runs; each failure goes to
 * onError. Until it succeeds the node refuses new sessions (1011): without the notices it would not learn at once
 * that another node took a session over.
 */
export const LISTEN_RETRY_MIN_MS = 250;
export const LISTEN_RETRY_MAX_MS = 5_000;
