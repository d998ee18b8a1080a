import type { ResolvedHeartbeat } from '../policies/heartbeat.js';
import type { ReceiptTracker } from '../policies/unconfirmed.js';
import type { TransportSocket } from '../transports/types.js';

/** What the probe needs of the connection. */
export interface ProbeHost {
  now(): number;
  /** An `error` event saying the app's callback threw. */
  reportCallbackError(name: string, error: unknown): void;
  /** The same, fired now (outside a transition). */
  reportCallbackErrorNow(name: string, error: unknown): void;
}

/**
 * The sending side of the heartbeat (the chart times the probes: a parallel region of `open`): writes the probe,
 * recognizes a message-mode pong, and measures the round trip. Made only when the heartbeat is on.
 */
export class HeartbeatProbe {
  readonly #config: ResolvedHeartbeat;
  #pingSentAt = -1;
  /** The last round-trip time measured, in ms (null before the first pong on this socket). */
  rtt: number | null = null;

  // The connection and its receipts are passed to each call rather than kept: one object per connection, kept small.
  constructor(config: ResolvedHeartbeat) {
    this.#config = config;
  }

  /** Recognizes a pong message (mode `message`); null in the other modes. */
  get isPong(): ((data: unknown) => boolean) | null {
    return this.#config.isPong;
  }

  /**
   * Probe `socket`: a ping frame, an app-level ping message, or nothing (passive mode). `receipts` (plain mode):
   * the server's pongs also confirm the writes made before their ping.
   */
  send(socket: TransportSocket, host: ProbeHost, receipts: ReceiptTracker | null): void {
    const config = this.#config;
    this.#pingSentAt = host.now();
    // The server answers a ping after reading everything written before it: its pong confirms those writes.
    if (config.mode === 'protocol') socket.ping?.(receipts?.heartbeatPing());
    else if (config.mode === 'message') {
      try {
        if (socket.send(config.ping())) receipts?.messagePingSent();
      } catch (error) {
        // No ping goes out, so the probe times out and the socket is replaced: loud, not stuck.
        host.reportCallbackError('heartbeat.ping', error);
      }
    }
  }

  /** True when `data` is the heartbeat's pong message (it is then not delivered); needs `isPong`. */
  tookPong(isPong: (data: unknown) => boolean, data: unknown, host: ProbeHost, receipts: ReceiptTracker | null): boolean {
    let matched: boolean;
    try {
      matched = isPong(data);
    } catch (error) {
      host.reportCallbackErrorNow('heartbeat.isPong', error);
      return false;
    }
    if (matched) receipts?.messagePonged();
    return matched;
  }

  /** A pong arrived: the round trip of the last probe, if one is out. */
  answered(now: number): void {
    if (this.#pingSentAt >= 0) {
      this.rtt = now - this.#pingSentAt;
      this.#pingSentAt = -1;
    }
  }

  /** A new socket, a new path: no round trip measured on it yet. */
  reset(): void {
    this.rtt = null;
    // A ping of the last socket was never answered there: a pong on this one must not time against it.
    this.#pingSentAt = -1;
  }
}
