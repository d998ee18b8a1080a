import { SocketchartError, describe, invalidOption } from '../errors.js';
import { type Assert, type ListsAllKeys, delay, finite, group, whole } from '../validate.js';

/**
 * Reconnect delays: exponential growth with full jitter, then a cap.
 *
 * Full jitter (a uniform draw from [0, window)) is what keeps 1,000 clients dropped by one server restart from
 * coming back in one burst; the small first window keeps the first retry after a healthy connection drops fast.
 */
export interface BackoffOptions {
  /**
   * Width in ms of the jitter window for the first retry. Later windows grow by `factor`.
   * @default 400
   */
  initialDelay?: number;
  /**
   * Growth of the window per failed attempt.
   * @default 2
   */
  factor?: number;
  /**
   * Largest window in ms, whatever the attempt number.
   * @default 30000
   */
  maxDelay?: number;
  /**
   * Retries after a failed attempt before the connection gives up (`closed`, `closedBy.kind === 'giveup'`): with
   * `maxRetries: 2` the third failed attempt in a row is final, and `0` makes the first failure final. Counted
   * since the connection was last healthy (see `resetAfter`), like graphql-ws's `retryAttempts` and
   * reconnecting-websocket's `maxRetries`.
   * @default Infinity
   */
  maxRetries?: number;
  /**
   * The former name of `maxRetries`, with the same meaning: it always counted retries, so `maxAttempts: 2` allows
   * 3 failed attempts. Setting both is refused.
   * @deprecated Use `maxRetries`.
   * @default Infinity
   */
  maxAttempts?: number;
  /**
   * An open connection that stays up this long (ms) counts as healthy: the retry count starts again from zero, so
   * its next drop gets the fast first retry. A connection that flaps (opens and drops sooner) keeps backing off.
   * @default 5000
   */
  resetAfter?: number;
  /**
   * Smallest window in ms after the server closed with 1013 (Try Again Later): it asked us to stay away.
   * @default 5000
   */
  tryAgainLaterDelay?: number;
}

export type ResolvedBackoff = Required<Omit<BackoffOptions, 'maxAttempts'>>;

export const BACKOFF_DEFAULTS = Object.freeze({
  initialDelay: 400,
  factor: 2,
  maxDelay: 30_000,
  maxRetries: Infinity,
  resetAfter: 5_000,
  tryAgainLaterDelay: 5_000,
}) satisfies ResolvedBackoff;

const KEYS = ['initialDelay', 'factor', 'maxDelay', 'maxRetries', 'maxAttempts', 'resetAfter', 'tryAgainLaterDelay'] as const;
type _Keys = Assert<ListsAllKeys<BackoffOptions, typeof KEYS>>;

export function resolveBackoff(options: BackoffOptions | undefined): ResolvedBackoff {
  const o = group('backoff', options, KEYS);
  // Connections with default backoff share the frozen defaults instead of each holding a copy.
  if (o === undefined) return BACKOFF_DEFAULTS;
  const d = BACKOFF_DEFAULTS;
  if (o.maxRetries !== undefined && o.maxAttempts !== undefined) {
    throw invalidOption('backoff.maxAttempts', 'unset when backoff.maxRetries is set (it is its former name)', o.maxAttempts);
  }
  const retries = o.maxRetries === undefined ? 'maxAttempts' : 'maxRetries';
  return {
    initialDelay: delay('backoff.initialDelay', o.initialDelay, d.initialDelay),
    factor: finite('backoff.factor', o.factor, d.factor, 1),
    maxDelay: delay('backoff.maxDelay', o.maxDelay, d.maxDelay),
    maxRetries: whole(`backoff.${retries}`, o[retries], d.maxRetries, 0, true),
    resetAfter: delay('backoff.resetAfter', o.resetAfter, d.resetAfter),
    tryAgainLaterDelay: delay('backoff.tryAgainLaterDelay', o.tryAgainLaterDelay, d.tryAgainLaterDelay),
  };
}

/** Close policy verdict that the delay depends on. */
export type RetryPace = 'normal' | 'later';

/**
 * Delay in ms before reconnect attempt `attempt` (1 for the first retry).
 * `random` returns a number in [0, 1); injected so tests can pin the jitter.
 */
export function backoffDelay(
  attempt: number,
  options: ResolvedBackoff,
  pace: RetryPace = 'normal',
  random: () => number = Math.random,
): number {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new SocketchartError('ERR_INVALID_OPTION', `backoffDelay(attempt) takes a whole number >= 1; got ${describe(attempt)}.`);
  }
  if (typeof options !== 'object' || options === null || typeof options.initialDelay !== 'number' || typeof options.factor !== 'number' || typeof options.maxDelay !== 'number') {
    throw new SocketchartError('ERR_INVALID_OPTION', `backoffDelay(attempt, options) takes resolved backoff options (e.g. DEFAULTS.backoff); got ${describe(options)}.`);
  }
  const growth = options.initialDelay * options.factor ** Math.max(0, attempt - 1);
  const window = Math.min(options.maxDelay, growth);
  if (pace === 'later') {
    // Equal jitter here: half the window is a floor, so "try again later" is never answered within milliseconds.
    const laterWindow = Math.max(window, options.tryAgainLaterDelay);
    return Math.floor(laterWindow / 2 + random() * (laterWindow / 2));
  }
  return Math.floor(random() * window);
}

/**
 * True while another retry is allowed after `retries` retries (since the connection was last healthy) that all
 * failed: the attempt that just failed was attempt `retries + 1`.
 */
export function mayRetry(retries: number, options: ResolvedBackoff): boolean {
  return retries < options.maxRetries;
}
