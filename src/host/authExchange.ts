import type { AuthVerdict } from '../../machines/connection.js';
import type { SendData } from '../data.js';
import type { ResolvedAuth } from '../policies/auth.js';
import type { TransportSocket } from '../transports/types.js';

/** What the exchange needs of the connection. */
export interface AuthHost {
  reportCallbackError(name: string, error: unknown): void;
  reportCallbackErrorNow(name: string, error: unknown): void;
}

/**
 * The client side of the auth exchange that `connecting.authenticating`'s invoked actor runs (mode `message`):
 * it sends the auth message, then sorts the frames that arrive before `open` into the ack, a refusal, or messages
 * to hold for after `open`. Made only when `auth` is configured.
 */
export class AuthExchange {
  readonly #auth: ResolvedAuth;
  readonly #host: AuthHost;
  /** Where the running exchange reports the verdict; null while none runs. */
  #report: ((verdict: AuthVerdict) => void) | null = null;
  /** This attempt's token for the auth message; dropped as soon as it is sent, and never put in the chart. */
  #token: string | null = null;

  constructor(auth: ResolvedAuth, host: AuthHost) {
    this.#auth = auth;
    this.#host = host;
  }

  /** The `auth` options. */
  get options(): ResolvedAuth {
    return this.#auth;
  }

  /** Keeps this attempt's token until the exchange sends it. */
  holdToken(token: string): void {
    this.#token = token;
  }

  /** True while an exchange runs: only then do frames before `open` mean anything. */
  get listening(): boolean {
    return this.#report !== null;
  }

  /** Starts the exchange on `socket` with this attempt's token; returns its end. */
  start(report: (verdict: AuthVerdict) => void, socket: TransportSocket | null): () => void {
    this.#report = report;
    const token = this.#token;
    this.#token = null;
    if (token !== null && socket !== null) {
      let message: SendData | null = null;
      try {
        message = this.#auth.message(token);
      } catch (error) {
        this.#host.reportCallbackError('auth.message', error);
        report({ type: 'AUTH.FAIL', reason: 'auth.message threw' });
      }
      if (message !== null) socket.send(message);
    }
    return () => {
      if (this.#report === report) this.#report = null;
    };
  }

  /** A frame before `open`: reports an ack or a refusal; returns true when it is neither (to be held). */
  sort(data: unknown): boolean {
    const report = this.#report;
    if (report === null) return false;
    let verdict: 'ack' | 'nack' | 'other';
    try {
      verdict = this.#auth.isAck(data) ? 'ack' : this.#auth.isNack(data) ? 'nack' : 'other';
    } catch (error) {
      this.#host.reportCallbackErrorNow('auth.isAck/isNack', error);
      verdict = 'other';
    }
    if (verdict === 'ack') report({ type: 'AUTH.OK' });
    else if (verdict === 'nack') report({ type: 'AUTH.FAIL', reason: 'Authentication refused' });
    return verdict === 'other';
  }
}
