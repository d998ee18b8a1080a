import { SocketchartError, describe } from '../errors.js';

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
   * Consecutive failed attempts after which the connection gives up (`closed`, reason `giveup`). Reset by every
   * successful open.
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

export type ResolvedBackoff = Required<BackoffOptions>;

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

/** True while another attempt is allowed after `failedAttempts` consecutive failures. */
export function mayRetry(failedAttempts: number, options: ResolvedBackoff): boolean {
  return failedAttempts < options.maxAttempts;
}
