import type { CloseInfo } from './transports/types.js';

/** A snapshot of what the connection has done; `conn.metrics` builds a fresh one on each read. */
export interface ConnectionMetrics {
  /** When the current connection opened (ms since the epoch, or the injected clock), null when not open. */
  connectedSince: number | null;
  /** Ms the current connection has been open. */
  uptime: number;
  /** Ms spent open over the connection's whole life. */
  totalUptime: number;
  /** Opens after the first one. */
  reconnects: number;
  messagesIn: number;
  messagesOut: number;
  /** Bytes received: exact for binary frames; text frames count their string length (exact for ASCII). */
  bytesIn: number;
  /** Bytes sent, counted as `bytesIn` is. */
  bytesOut: number;
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
  /** Messages received during the last full second. */
  messagesInLastSecond: number;
  /** Messages sent during the last full second. */
  messagesOutLastSecond: number;
  /** Bytes received during the last full second (counted as `bytesIn` is). */
  bytesInLastSecond: number;
  /** Bytes sent during the last full second. */
  bytesOutLastSecond: number;
}

/**
 * Counters the data plane bumps; kept to plain number fields so that costs nanoseconds. Every method takes the time
 * from its caller instead of reading a clock: the caller shares one read with whatever else needs it (the message
 * event's timeStamp, the write it just made), so counting adds no clock read of its own.
 */
export class MetricsCounters {
  opens = 0;
  openedAt = -1;
  closedUptime = 0;
  messagesIn = 0;
  messagesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  lastClose: CloseInfo | null = null;
  /**
   * Per-second buckets: the second being counted (`#second`: ms / 1000, a small integer where ms since the epoch
   * would be a boxed number per connection), its counts, and the previous second's.
   */
  #second = -1;
  #inThis = 0;
  #outThis = 0;
  #inLast = 0;
  #outLast = 0;
  #bytesInThis = 0;
  #bytesOutThis = 0;
  #bytesInLast = 0;
  #bytesOutLast = 0;

  countIn(bytes: number, now: number): void {
    this.messagesIn++;
    this.bytesIn += bytes;
    this.#roll(now);
    this.#inThis++;
    this.#bytesInThis += bytes;
  }

  countOut(bytes: number, now: number): void {
    this.messagesOut++;
    this.bytesOut += bytes;
    this.#roll(now);
    this.#outThis++;
    this.#bytesOutThis += bytes;
  }

  opened(now: number): void {
    this.opens++;
    this.openedAt = now;
  }

  closed(now: number): void {
    if (this.openedAt >= 0) this.closedUptime += now - this.openedAt;
    this.openedAt = -1;
  }

  lastSecond(now: number): { messagesIn: number; messagesOut: number; bytesIn: number; bytesOut: number } {
    this.#roll(now);
    return { messagesIn: this.#inLast, messagesOut: this.#outLast, bytesIn: this.#bytesInLast, bytesOut: this.#bytesOutLast };
  }

  #roll(now: number): void {
    // Two comparisons on the hot path; the division only once a second (or when the clock jumps back).
    const start = this.#second * 1000;
    if (now < start + 1000 && now >= start) return;
    const second = Math.floor(now / 1000);
    const adjacent = second === this.#second + 1;
    this.#inLast = adjacent ? this.#inThis : 0;
    this.#outLast = adjacent ? this.#outThis : 0;
    this.#bytesInLast = adjacent ? this.#bytesInThis : 0;
    this.#bytesOutLast = adjacent ? this.#bytesOutThis : 0;
    this.#inThis = 0;
    this.#outThis = 0;
    this.#bytesInThis = 0;
    this.#bytesOutThis = 0;
    this.#second = second;
  }
}

/** What `metrics()` reads besides the counters: the outbound side and the heartbeat. */
export interface MetricsSources {
  rtt: number | null;
  queueLength: number;
  queueBytes: number;
  unconfirmedMessages: number;
  unconfirmedUntracked: number;
}

/** The figures `conn.metrics` shows, at `now`. */
export function readMetrics(c: MetricsCounters, now: number, sources: MetricsSources): ConnectionMetrics {
  const open = c.openedAt >= 0;
  const lastSecond = c.lastSecond(now);
  return {
    connectedSince: open ? c.openedAt : null,
    uptime: open ? now - c.openedAt : 0,
    totalUptime: c.closedUptime + (open ? now - c.openedAt : 0),
    reconnects: Math.max(0, c.opens - 1),
    messagesIn: c.messagesIn,
    messagesOut: c.messagesOut,
    bytesIn: c.bytesIn,
    bytesOut: c.bytesOut,
    lastClose: c.lastClose,
    rtt: sources.rtt,
    queueLength: sources.queueLength,
    queueBytes: sources.queueBytes,
    unconfirmedMessages: sources.unconfirmedMessages,
    unconfirmedUntracked: sources.unconfirmedUntracked,
    messagesInLastSecond: lastSecond.messagesIn,
    messagesOutLastSecond: lastSecond.messagesOut,
    bytesInLastSecond: lastSecond.bytesIn,
    bytesOutLastSecond: lastSecond.bytesOut,
  };
}

/** Size used by the counters: bytes for binary, string length for text (no UTF-8 pass on the hot path). */
export function sizeOf(data: unknown): number {
  if (typeof data === 'string') return data.length;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  if (typeof Blob !== 'undefined' && data instanceof Blob) return data.size;
  return 0;
}
