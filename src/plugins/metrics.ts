/**
 * `socketchart/metrics`: traffic counts in `conn.metrics` (messages and bytes in and out, in total and during the
 * last full second). Without it `conn.metrics` still shows uptime, reconnects, the last close, RTT and the queue,
 * and the connection does no per-message counting at all.
 *
 *   import { metrics } from 'socketchart/metrics';
 *   const conn = createConnection(url, { metrics: metrics() });
 *   conn.metrics.messagesInLastSecond;
 */

import { type Meter, type MetricsPlugin, sizeOf } from '../metrics.js';

export type { ConnectionMetrics, MetricsPlugin, TrafficMetrics } from '../metrics.js';

/** How much older than the second being counted a stamp may be and still count in it (not as a clock jump back). */
const STALE_STAMP_MS = 60_000;

/**
 * One connection's counts: plain number fields, so counting costs nanoseconds. Every method takes the time from
 * its caller, which shares one clock read with what else needs it (the message event's timeStamp, the write).
 */
class TrafficMeter implements Meter {
  messagesIn = 0;
  messagesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
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

  countIn(data: unknown, now: number): void {
    const bytes = sizeOf(data);
    this.messagesIn++;
    this.bytesIn += bytes;
    this.#roll(now);
    this.#inThis++;
    this.#bytesInThis += bytes;
  }

  countOut(data: unknown, now: number): void {
    const bytes = sizeOf(data);
    this.messagesOut++;
    this.bytesOut += bytes;
    this.#roll(now);
    this.#outThis++;
    this.#bytesOutThis += bytes;
  }

  read(now: number) {
    this.#roll(now);
    return {
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      messagesInLastSecond: this.#inLast,
      messagesOutLastSecond: this.#outLast,
      bytesInLastSecond: this.#bytesInLast,
      bytesOutLastSecond: this.#bytesOutLast,
    };
  }

  #roll(now: number): void {
    // Two comparisons on the hot path; the division only once a second (or when the clock jumps back).
    const start = this.#second * 1000;
    if (now < start + 1000 && now >= start) return;
    // A stamp a little older than the second being counted is not the clock going back: a reply sent by a listener
    // carries its message's arrival instant, read before the listener read a later one. It counts in this second.
    if (now < start && start - now < STALE_STAMP_MS) return;
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

/** The metrics plug-in for `createConnection(url, { metrics: metrics() })`: one meter per connection. */
export function metrics(): MetricsPlugin {
  return { kind: 'metrics', create: () => new TrafficMeter() };
}
