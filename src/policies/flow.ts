/**
 * The `flow` option group: backpressure and rate limiting of outbound messages while open. Type, defaults and
 * resolver; the gate itself runs in src/outbound/flowGate.ts (and the token bucket in `rateLimit.ts`).
 */
import { invalidOption } from '../errors.js';
import { type Assert, type ListsAllKeys, finite, group, whole } from '../validate.js';
import type { RateLimitOptions } from './rateLimit.js';

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

export interface ResolvedFlow {
  highWaterMark: number;
  lowWaterMark: number;
  rateLimit: Required<RateLimitOptions> | null;
}

export const FLOW_DEFAULTS = Object.freeze({
  highWaterMark: Infinity,
});

const OFF: ResolvedFlow = Object.freeze({ highWaterMark: Infinity, lowWaterMark: Infinity, rateLimit: null });

const KEYS = ['highWaterMark', 'lowWaterMark', 'rateLimit'] as const;
const RATE_KEYS = ['perSecond', 'burst'] as const;
type _Keys = [Assert<ListsAllKeys<FlowOptions, typeof KEYS>>, Assert<ListsAllKeys<RateLimitOptions, typeof RATE_KEYS>>];

export function resolveFlow(flow: FlowOptions | undefined): ResolvedFlow {
  const f = group('flow', flow, KEYS);
  // Connections without flow control share one frozen policy instead of each holding a copy.
  if (f === undefined) return OFF;
  // 0 would hold every message forever (a socket's buffer is never below 0).
  const highWaterMark = whole('flow.highWaterMark', f.highWaterMark, FLOW_DEFAULTS.highWaterMark, 1, true);
  const lowWaterMark = whole('flow.lowWaterMark', f.lowWaterMark, highWaterMark === Infinity ? Infinity : Math.floor(highWaterMark / 2), 0, true);
  if (lowWaterMark > highWaterMark) throw invalidOption('flow.lowWaterMark', `at most flow.highWaterMark (${highWaterMark})`, lowWaterMark);
  const r = group('flow.rateLimit', f.rateLimit, RATE_KEYS, 'an object { perSecond, burst? }');
  let rateLimit: Required<RateLimitOptions> | null = null;
  if (r !== undefined) {
    if (r.perSecond === undefined) throw invalidOption('flow.rateLimit.perSecond', 'a finite number > 0', r.perSecond);
    const perSecond = finite('flow.rateLimit.perSecond', r.perSecond, 0, 0, true);
    rateLimit = { perSecond, burst: finite('flow.rateLimit.burst', r.burst, Math.max(1, Math.floor(perSecond)), 1) };
  }
  return { highWaterMark, lowWaterMark, rateLimit };
}
