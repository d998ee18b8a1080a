/**
 * A token bucket: `perSecond` tokens refill per second up to `burst`; each message takes one. Pure arithmetic on
 * the time it is given, so the injected clock drives it in tests.
 */
export interface RateLimitOptions {
  /** Sustained messages per second. */
  perSecond: number;
  /**
   * Messages that may go at once after a quiet period.
   * @default perSecond rounded down, at least 1
   */
  burst?: number;
}

export class TokenBucket {
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #at: number;

  constructor(options: Required<RateLimitOptions>, now: number) {
    this.#perMs = options.perSecond / 1000;
    this.#burst = options.burst;
    this.#tokens = options.burst;
    this.#at = now;
  }

  /** Takes a token if one is there. */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Ms until the next token. */
  wait(now: number): number {
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) / this.#perMs);
  }

  #refill(now: number): void {
    if (now > this.#at) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#perMs);
      this.#at = now;
    }
  }
}
