/**
 * The vocabulary of the connection chart (machines/connection.ts): its context, events, the policy it applies, the
 * host behind it and what it emits. Kept apart so the chart file reads as the chart.
 */
import type { ResolvedBackoff } from '../src/policies/backoff.js';
import type { CloseCodesOption } from '../src/policies/closeCodes.js';
import type { SocketEvent, SocketHost } from '../src/transports/actor.js';
import type { CloseInfo } from '../src/transports/types.js';

/** Why the connection is in `closed`. */
export type ClosedKind =
  /** `close()` was called. */
  | 'user'
  /** The server closed and `shouldReconnect` said not to come back. */
  | 'server'
  /** The close code is fatal (1002, 1003, 1007-1010, ...): retrying would fail the same way. */
  | 'fatal'
  /** `backoff.maxAttempts` consecutive attempts failed. */
  | 'giveup'
  /** Authentication was refused. */
  | 'auth'
  /** The attempt could never work (a bad URL from the URL provider, an invalid subprotocol). */
  | 'error';

export interface ClosedReason extends CloseInfo {
  kind: ClosedKind;
  /** What failed, for `error` (and for `giveup`, the last attempt's error if any). */
  error?: Error;
}

/**
 * The lifecycle rules the chart applies, resolved from the user's options: data only (numbers, flags, code lists),
 * so the chart's context survives `structuredClone`, JSON and snapshot persistence. The app's callbacks
 * (`shouldReconnect`, a `closeCodes` function, `random`, `retryWait`) are behaviour: the host has them.
 */
export interface ConnectionPolicy {
  backoff: ResolvedBackoff;
  connectTimeout: number;
  closeTimeout: number;
  /**
   * A `retryWait` hook decides when to retry: `reconnecting.backoff` then waits for its invoked `retryWait` actor
   * instead of its own timer.
   */
  waitsForRetryHook: boolean;
  /** Authentication, when configured. */
  auth: AuthPolicy | null;
  /** Dead-connection detection while open; null when off. */
  heartbeat: HeartbeatPolicy | null;
}

export interface AuthPolicy {
  /** The socket opens first, then an auth message must be acknowledged (`connecting.authenticating`). */
  byMessage: boolean;
  /** Ms `authenticating` waits for the ack. */
  timeout: number;
  /** Close codes that mean "token rejected": refresh it and reconnect once, then treat them as fatal. */
  refreshCodes: readonly number[];
}

export interface HeartbeatPolicy {
  /** Ms between probes. */
  interval: number;
  /** Ms a probe waits for a pong (or any inbound traffic) before the connection is declared dead. */
  timeout: number;
}

/**
 * The behaviour the chart's provided implementations (src/host/hostedChart.ts) call: the sockets, the app's
 * callbacks, the environment and the few data-plane readings the lifecycle depends on. It never changes the
 * machine's state itself; what the chart decides reaches the host as emitted events (`ConnectionEmitted`).
 */
export interface ConnectionHost extends SocketHost {
  /** The app's `closeCodes` (a table or a function); undefined for the defaults. */
  readonly closeCodes: CloseCodesOption | undefined;
  /** The app's `shouldReconnect`, made safe (a throw is reported and counts as `true`). */
  readonly shouldReconnect: ((close: CloseInfo, retries: number) => boolean) | undefined;
  /** Source of jitter in [0, 1). */
  random(): number;
  isOnline(): boolean;
  /**
   * The auth exchange of `connecting.authenticating` (its invoked actor): send the auth message on the current
   * socket, report the server's ack or refusal through `report`; the returned function ends it.
   */
  authenticate(report: (verdict: AuthVerdict) => void): () => void;
  /** The app's retryWait hook, when it has one: its promise ends a backoff wait; `signal` aborts if left otherwise. */
  retryWait?: (retry: number, delay: number, signal: AbortSignal) => Promise<void> | void;
  /** Probe the connection: a ping frame, an app-level ping message, or nothing (passive mode). */
  sendPing(): void;
  /** Messages received so far; the heartbeat compares it before and after a probe, so traffic counts as life. */
  inboundCount(): number;
}

/**
 * Where the host sits in the chart's context: under a symbol, so it is not data. `structuredClone`, JSON (so
 * inspectors) and XState's snapshot persistence see only the string keys; the chart's provided implementations
 * reach the connection's behaviour through it. (Not a `provide()` per connection: each one copies the whole chart,
 * 41 KB measured.)
 */
export const HOST: unique symbol = Symbol('socketchart.host');

/**
 * What the chart tells its host, with XState's `emit()`: delivered after the transition has committed its snapshot
 * (so `actor.getSnapshot()` already shows the new state). Also `conn.actor.on('opened', ...)` for apps.
 */
export type ConnectionEmitted =
  /** Entered `open`. */
  | { type: 'opened' }
  /** Left `open` (to `closing`, or because the socket was lost): sends stop going to this socket. */
  | { type: 'leftOpen' }
  /** An attempt ended and another one will follow (or waits for the network). */
  | { type: 'disconnected'; close: CloseInfo }
  /** A retry is scheduled: retry number (1 for the first) and its delay in ms. */
  | { type: 'retrying'; retry: number; delay: number }
  /** Entered `closed`. */
  | { type: 'closed'; closedBy: ClosedReason }
  /** An attempt failed (a socket error, a timeout of the chart, a refused authentication, a failing retryWait). */
  | { type: 'failed'; error: Error };

export interface ConnectionContext {
  /** The connection's behaviour (not data: see `HOST`). */
  readonly [HOST]: ConnectionHost;
  /** The lifecycle rules, as data. */
  policy: ConnectionPolicy;
  /** Attempts started in this session, the current one included. */
  attempts: number;
  /** Retries since the connection was last stable (open for `backoff.resetAfter` ms). */
  retries: number;
  /** Delay of the retry being waited for. */
  retryDelay: number;
  /** How the last socket ended. */
  lastClose: CloseInfo | null;
  /** The last socket error, kept so `giveup` can say what kept failing. */
  lastError: Error | null;
  /** Why the session last reached `closed` (kept through a later session until it closes again). */
  closedBy: ClosedReason | null;
  /** The close the user asked for (`close(code, reason)`): its frame, and the `user` close it becomes. */
  closeRequest: { code: number; reason: string } | null;
  /** The token was already refreshed once after a rejection; the next rejection is final. */
  authRefreshed: boolean;
  /** `inboundCount()` when the current heartbeat probe started. */
  inboundAtProbe: number;
  /**
   * `open()` came while `closing`: the closing handshake finishes, the session ends (its final `close`), and a new one
   * starts at once (socket.io's `disconnect().connect()`). A `close()` while still closing takes it back.
   */
  reopen: boolean;
}

export type ConnectionEvent =
  | SocketEvent
  /** Start from `idle` or `closed`; while `closing`, start again once closed. */
  | { type: 'CONNECT' }
  /** Drop whatever is happening and attempt now; restarts a `closed` session. */
  | { type: 'RECONNECT' }
  /** The page became visible: a backoff wait is cut short (a user looking at the app wants it connected now). */
  | { type: 'PAGE.VISIBLE' }
  | { type: 'CLOSE'; code: number; reason: string }
  | { type: 'NETWORK.ONLINE' }
  | { type: 'NETWORK.OFFLINE' }
  /** The server acknowledged the auth message. */
  | { type: 'AUTH.OK' }
  /** The server refused the auth message, or did not answer within `auth.timeout`. */
  | { type: 'AUTH.FAIL'; reason: string }
  /** A pong (frame or matched message) answered the heartbeat probe. */
  | { type: 'PONG' }
  /** Raised by the chart's own timers, so the reason an attempt was lost is an event of its own. */
  | { type: 'CONNECT.TIMEOUT' }
  | { type: 'HEARTBEAT.TIMEOUT' };

/** What the auth exchange reports: the server acknowledged the auth message, or refused it. */
export type AuthVerdict = { type: 'AUTH.OK' } | { type: 'AUTH.FAIL'; reason: string };

export interface ConnectionInput {
  host: ConnectionHost;
  policy: ConnectionPolicy;
}

/** What the `retryWait` actor is told: the retry number (1 for the first) and the delay the backoff chose. */
export interface RetryWaitInput {
  host: ConnectionHost;
  retry: number;
  delay: number;
}
