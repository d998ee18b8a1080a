/**
 * A tab's end of the shared `BroadcastChannel` (none where the page cannot share). It stays usable after the tab's
 * handle closed for as long as the tab still has something to tell: a leader's connection reports its last drops
 * as it ends, to the tabs that sent those messages.
 */
import type { Connection } from '../connection.js';
import { SocketchartError } from '../errors.js';
import { type WireMessage, toWireError } from './protocol.js';

export class TabChannel {
  readonly #channel: BroadcastChannel | null;
  #closed = false;

  constructor(name: string | null, receive: (msg: WireMessage) => void) {
    this.#channel = name === null ? null : new BroadcastChannel(name);
    if (this.#channel) this.#channel.onmessage = (e: MessageEvent<WireMessage>) => receive(e.data);
  }

  /** Whether this page shares (a channel exists, open or closed since). */
  get exists(): boolean {
    return this.#channel !== null;
  }

  post(msg: WireMessage): void {
    if (!this.#closed) this.#channel?.postMessage(msg);
  }

  /** Like `post`, but a value structured clone cannot copy still reaches the followers, as a report. */
  broadcast(msg: WireMessage, tab: string, epoch: number): void {
    if (!this.#channel || this.#closed) return;
    try {
      this.#channel.postMessage(msg);
    } catch (error) {
      const problem = toWireError(new SocketchartError('ERR_INVALID_DATA', `A ${msg.t} the leader could not copy to this tab (structured clone): ${(error as Error).message}`));
      this.#channel.postMessage({ t: 'event', from: tab, epoch, event: { type: 'invalid-message', data: null, problem } });
    }
  }

  close(): void {
    this.#closed = true;
    this.#channel?.close();
  }

  /** Closes once `conn` has ended and reported its drops (a task after it reached `closed`). */
  closeWhenEnded(conn: Connection<unknown, never>): void {
    const later = () => setTimeout(() => this.close(), 0);
    if (conn.state === 'closed') return void later();
    const onChange = (e: { to: string }) => {
      if (e.to !== 'closed') return;
      conn.removeEventListener('statechange', onChange);
      later();
    };
    conn.addEventListener('statechange', onChange);
  }
}
