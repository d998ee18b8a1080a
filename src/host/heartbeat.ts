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
  /** Recognizes a pong message (mode `message`); null in the other modes. */
  readonly isPong: ((data: unknown) => boolean) | null;
  readonly #config: ResolvedHeartbeat;
  readonly #host: ProbeHost;
  /** Plain mode: the server's pongs also confirm the writes made before their ping. */
  readonly #receipts: ReceiptTracker | null;
  #pingSentAt = -1;
  /** The last round-trip time measured, in ms (null before the first pong on this socket). */
  rtt: number | null = null;

  constructor(config: ResolvedHeartbeat, host: ProbeHost, receipts: ReceiptTracker | null) {
    this.isPong = config.isPong;
    this.#config = config;
    this.#host = host;
    this.#receipts = receipts;
  }

  /** Probe `socket`: a ping frame, an app-level ping message, or nothing (passive mode). */
  send(socket: TransportSocket): void {
    const config = this.#config;
    this.#pingSentAt = this.#host.now();
    // The server answers a ping after reading everything written before it: its pong confirms those writes.
    if (config.mode === 'protocol') socket.ping?.(this.#receipts?.heartbeatPing());
    else if (config.mode === 'message') {
      try {
        if (socket.send(config.ping())) this.#receipts?.messagePingSent();
      } catch (error) {
        // No ping goes out, so the probe times out and the socket is replaced: loud, not stuck.
        this.#host.reportCallbackError('heartbeat.ping', error);
      }
    }
  }

  /** True when `data` is the heartbeat's pong message (it is then not delivered); needs `isPong`. */
  tookPong(isPong: (data: unknown) => boolean, data: unknown): boolean {
    let matched: boolean;
    try {
      matched = isPong(data);
    } catch (error) {
      this.#host.reportCallbackErrorNow('heartbeat.isPong', error);
      return false;
    }
    if (matched) this.#receipts?.messagePonged();
    return matched;
  }

  /** A pong arrived: the round trip of the last probe, if one is out. */
  answered(): void {
    if (this.#pingSentAt >= 0) {
      this.rtt = this.#host.now() - this.#pingSentAt;
      this.#pingSentAt = -1;
    }
  }

  /** A new socket, a new path: no round trip measured on it yet. */
  reset(): void {
    this.rtt = null;
  }
}
