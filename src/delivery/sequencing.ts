/**
 * Sequencing shared by both ends of `socketchart.ack.v1` (PROTOCOL.md, "Receiving data" and "Acknowledgements"):
 * what an inbound seq means, and when a cumulative ack goes out. Browser-safe, no Node built-ins. The server's
 * shared-store session uses it; the client layer (`atLeastOnce`) implements the same rules and can adopt it.
 */

/** An inbound data message `seq` against the highest one processed (or delivered), `last`. */
export type SequenceVerdict = 'next' | 'duplicate' | 'gap';

export function classifySeq(seq: number, last: number): SequenceVerdict {
  if (seq === last + 1) return 'next';
  return seq <= last ? 'duplicate' : 'gap';
}

export interface AckTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/**
 * Batches cumulative acks: one after `every` newly ackable messages, or `delay` ms after the first one, whichever
 * comes first; a duplicate forces one soon (the sender missed the last ack). `write` returns whether the ack went
 * out (false: no socket; it is tried again on the next `reset`).
 */
export class AckBatcher {
  /** The highest seq that may be acknowledged (processed and, on the server, recorded). */
  ackable = 0;
  /** The highest seq the peer was told about on this socket. */
  acked = 0;
  #forced = false;
  #timer: unknown = null;
  readonly #timers: AckTimers;
  readonly #every: number;
  readonly #delay: number;
  readonly #write: (ack: number) => boolean;

  constructor(timers: AckTimers, every: number, delay: number, write: (ack: number) => boolean) {
    this.#timers = timers;
    this.#every = every;
    this.#delay = delay;
    this.#write = write;
  }

  /** A new socket, or a new session: `last` is what the handshake already acknowledged. */
  reset(last: number): void {
    this.cancel();
    this.ackable = this.acked = last;
    this.#forced = false;
  }

  /** Messages up to `seq` may now be acknowledged. */
  advance(seq: number): void {
    if (seq <= this.ackable) return;
    this.ackable = seq;
    this.#schedule();
  }

  /** A duplicate arrived: ack again soon, even with nothing new. */
  duplicate(): void {
    this.#forced = true;
    this.#schedule();
  }

  flush(): void {
    this.cancel();
    if (this.ackable === this.acked && !this.#forced) return;
    if (this.#write(this.ackable)) {
      this.acked = this.ackable;
      this.#forced = false;
    }
  }

  cancel(): void {
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule(): void {
    if (this.ackable - this.acked >= this.#every) this.flush();
    else if (this.#timer === null) {
      this.#timer = this.#timers.setTimeout(() => {
        this.#timer = null;
        this.flush();
      }, this.#delay);
    }
  }
}
