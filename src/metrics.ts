import type { CloseInfo } from './transports/types.js';
import type { Plugin } from './plugins/types.js';

/**
 * A snapshot of what the connection has done; `conn.metrics` builds a fresh one on each read. The lifecycle,
 * heartbeat and queue figures are always there (the connection knows them anyway); the traffic figures need the
 * metrics plug-in (`metrics: metrics()` from `socketchart/metrics`) and are null without it, so a connection that
 * does not import it counts nothing per message.
 */
export interface ConnectionMetrics {
  /** When the current connection opened (ms since the epoch, or the injected clock), null when not open. */
  connectedSince: number | null;
  /** Ms the current connection has been open. */
  uptime: number;
  /** Ms spent open over the connection's whole life. */
  totalUptime: number;
  /** Opens after the first one. */
  reconnects: number;
  /** Messages received (metrics plug-in; null without it). */
  messagesIn: number | null;
  /** Messages sent (metrics plug-in; null without it). */
  messagesOut: number | null;
  /**
   * Bytes received: exact for binary frames; text frames count their string length (exact for ASCII). Metrics
   * plug-in; null without it.
   */
  bytesIn: number | null;
  /** Bytes sent, counted as `bytesIn` is (metrics plug-in; null without it). */
  bytesOut: number | null;
  /** How the last socket ended. */
  lastClose: CloseInfo | null;
  /** The last heartbeat round trip in ms. */
  rtt: number | null;
  queueLength: number;
  queueBytes: number;
  /**
   * Plain mode: messages written on the current socket that the server has not yet confirmed (by a pong); they are
   * reported as `drop` ('unconfirmed') if the socket closes uncleanly. 0 under `delivery` or `unconfirmed: false`.
   */
  unconfirmedMessages: number;
  /** Messages no longer tracked because `unconfirmed.maxMessages`/`maxBytes` was reached, ever: not reportable. */
  unconfirmedUntracked: number;
  /** Messages received during the last full second (metrics plug-in; null without it). */
  messagesInLastSecond: number | null;
  /** Messages sent during the last full second (metrics plug-in; null without it). */
  messagesOutLastSecond: number | null;
  /** Bytes received during the last full second, counted as `bytesIn` is (metrics plug-in; null without it). */
  bytesInLastSecond: number | null;
  /** Bytes sent during the last full second (metrics plug-in; null without it). */
  bytesOutLastSecond: number | null;
}

/** The traffic figures of `ConnectionMetrics`: what the metrics plug-in counts. */
export type TrafficMetrics = Pick<
  ConnectionMetrics,
  'messagesIn' | 'messagesOut' | 'bytesIn' | 'bytesOut' | 'messagesInLastSecond' | 'messagesOutLastSecond' | 'bytesInLastSecond' | 'bytesOutLastSecond'
>;

/**
 * What the metrics plug-in gives a connection: the data plane calls `countIn`/`countOut` for every message it
 * delivers or writes (only when the plug-in is there), with a clock read it shares with the message event or the
 * write that prompted it.
 */
export interface Meter {
  countIn(data: unknown, now: number): void;
  countOut(data: unknown, now: number): void;
  read(now: number): { [K in keyof TrafficMetrics]: number };
}

/**
 * The first time any connection opened: open times are kept as ms since then. Ms since the epoch are not small
 * integers, so a field holding one is a boxed number in every connection; ms since this stay small for 24 days.
 */
let origin: number | null = null;

/**
 * What the connection knows of its lifecycle whatever the plug-ins: opens, time open, the last close. Bumped on
 * state changes only, never per message.
 */
export class MetricsCounters {
  opens = 0;
  /** When the current socket opened, in ms after `origin`; null while not open. */
  #openedAt: number | null = null;
  closedUptime = 0;
  lastClose: CloseInfo | null = null;

  /** When the current socket opened (the clock's ms), or null while not open. */
  get openedAt(): number | null {
    return this.#openedAt === null ? null : this.#openedAt + (origin as number);
  }

  opened(now: number): void {
    this.opens++;
    origin ??= now;
    const offset = now - origin;
    // `| 0` makes it a small integer (a subtraction of two doubles stays a double, boxed, even when whole).
    this.#openedAt = (offset | 0) === offset ? offset | 0 : offset;
  }

  closed(now: number): void {
    const openedAt = this.openedAt;
    if (openedAt !== null) this.closedUptime += now - openedAt;
    this.#openedAt = null;
  }
}

/** What `metrics()` reads besides the counters: the outbound side, the heartbeat and the plug-in's meter. */
export interface MetricsSources {
  rtt: number | null;
  queueLength: number;
  queueBytes: number;
  unconfirmedMessages: number;
  unconfirmedUntracked: number;
  /** The metrics plug-in's counts; without it the traffic figures are null. */
  meter?: Meter | null;
}

/** The figures `conn.metrics` shows, at `now`. */
export function readMetrics(c: MetricsCounters, now: number, sources: MetricsSources): ConnectionMetrics {
  const openedAt = c.openedAt;
  const traffic = sources.meter?.read(now);
  return {
    connectedSince: openedAt,
    uptime: openedAt === null ? 0 : now - openedAt,
    totalUptime: c.closedUptime + (openedAt === null ? 0 : now - openedAt),
    reconnects: Math.max(0, c.opens - 1),
    messagesIn: traffic?.messagesIn ?? null,
    messagesOut: traffic?.messagesOut ?? null,
    bytesIn: traffic?.bytesIn ?? null,
    bytesOut: traffic?.bytesOut ?? null,
    lastClose: c.lastClose,
    rtt: sources.rtt,
    queueLength: sources.queueLength,
    queueBytes: sources.queueBytes,
    unconfirmedMessages: sources.unconfirmedMessages,
    unconfirmedUntracked: sources.unconfirmedUntracked,
    messagesInLastSecond: traffic?.messagesInLastSecond ?? null,
    messagesOutLastSecond: traffic?.messagesOutLastSecond ?? null,
    bytesInLastSecond: traffic?.bytesInLastSecond ?? null,
    bytesOutLastSecond: traffic?.bytesOutLastSecond ?? null,
  };
}

/** Size used by the counters: bytes for binary, string length for text (no UTF-8 pass on the hot path). */
export function sizeOf(data: unknown): number {
  if (typeof data === 'string') return data.length;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  if (typeof Blob !== 'undefined' && data instanceof Blob) return data.size;
  return 0;
}

/** The metrics plug-in as passed in options (`metrics: metrics()` from `socketchart/metrics`). */
export type MetricsPlugin = Plugin<'metrics', Meter>;
