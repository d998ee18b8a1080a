import type { Timers } from '../plugins/types.js';
import type { ResolvedFlow } from '../policies/flow.js';
import { TokenBucket } from '../policies/rateLimit.js';
import type { TransportSocket } from '../transports/types.js';

/** What the gate needs of the connection. */
export interface FlowHost {
  /** The socket writes go to (null while not open: the gate then does nothing). */
  readonly live: TransportSocket | null;
  now(): number;
  timers(): Timers;
  /** The limits allow writing again: the outbound side writes what it holds. False: the socket refused a write. */
  resumeWrites(): boolean | void;
  /** Sends had to wait for the socket's buffer, and it is below the low-water mark again. */
  drained(bufferedAmount: number): void;
}

/** Writes flow freely. */
const FLOWING = 0;
/** A write waited for the socket's buffer: a `drain` is owed once it is below the low-water mark. */
const BACKPRESSURED = 1;

/**
 * The flow limits between the outbound side and the socket (`flow.highWaterMark`, `flow.rateLimit`): it answers
 * whether one more message may be written now, and while messages wait it runs the pump that lets them go in turn
 * (on a timer: sockets have no portable drain signal) and says when the buffer drained. Shaped like ws's
 * `Sender`: one small state and one timer, owned here.
 */
export class FlowGate {
  readonly #host: FlowHost;
  /** The resolved limits, shared by every connection without flow control (no figures copied per connection). */
  readonly #flow: ResolvedFlow;
  readonly #bucket: TokenBucket | null;
  #state: typeof FLOWING | typeof BACKPRESSURED = FLOWING;
  #timer: unknown = null;

  constructor(flow: ResolvedFlow, host: FlowHost) {
    this.#host = host;
    this.#flow = flow;
    this.#bucket = flow.rateLimit ? new TokenBucket(flow.rateLimit, host.now()) : null;
  }

  /** Whether the limits let one more message onto `socket` now (takes a rate token if so). */
  mayWrite(socket: TransportSocket): boolean {
    const highWaterMark = this.#flow.highWaterMark;
    if (highWaterMark !== Infinity && socket.bufferedAmount >= highWaterMark) {
      this.#state = BACKPRESSURED;
      return false;
    }
    return this.#bucket === null || this.#bucket.take(this.#host.now());
  }

  /** Something waits: run the pump once the limits may allow it (at once if nothing but order holds it). */
  schedule(): void {
    if (this.#timer !== null) return;
    const backpressured = this.#state === BACKPRESSURED;
    const waitForToken = this.#bucket && !backpressured ? this.#bucket.wait(this.#host.now()) : 0;
    // The socket has no portable drain signal, so a backpressured pump polls its buffer at frame rate.
    const delay = backpressured ? Math.max(16, waitForToken) : waitForToken;
    this.#timer = this.#host.timers().setTimeout(() => this.pump(), delay);
  }

  /** Lets waiting messages go while the limits allow; re-arms itself until nothing waits and the buffer drained. */
  pump(): void {
    this.#timer = null;
    const host = this.#host;
    const socket = host.live;
    if (socket === null) return;
    if (host.resumeWrites() === false || this.#timer !== null) return;
    // Nothing waits any more: if sends had to wait for the socket's buffer, say when it is low again.
    if (this.#state === BACKPRESSURED) {
      if (socket.bufferedAmount <= this.#flow.lowWaterMark) {
        this.#state = FLOWING;
        host.drained(socket.bufferedAmount);
      } else this.schedule();
    }
  }

  /** The socket left `open`: no pump, and no drain owed. */
  stop(): void {
    if (this.#timer !== null) this.#host.timers().clearTimeout(this.#timer);
    this.#timer = null;
    this.#state = FLOWING;
  }
}
