/**
 * The leader's side of the data plane: it writes followers' sends on its socket and runs their requests through
 * its own tracker, answering each tab alone.
 *
 * A follower's send is acknowledged only once it is written (or handed to the connection when the session is over,
 * so the connection reports it): while the socket is not open it is held here, and its tab keeps it too, so a
 * leader that dies while holding it loses nothing. Held sends are written in arrival order when the socket opens,
 * after the leader's own queue.
 *
 * Under acknowledged delivery shared by the tabs (session.ts) a send goes to the connection at once: its delivery
 * layer holds it, numbered, whatever the socket does, and the session's `log` entry is the acknowledgement.
 */
import type { Connection } from '../connection.js';
import type { SendData } from '../data.js';
import type { DropReason } from '../policies/queue.js';
import { type Origin, OriginLog } from './origins.js';
import { type WireMessage, toWireError } from './protocol.js';

export interface RelayHost<Out> {
  readonly conn: Connection<unknown, Out>;
  readonly tab: string;
  epoch(): number;
  post(msg: WireMessage): void;
  encode(message: Out): SendData;
  /** Whether the tabs share the delivery session: its log acknowledges sends (see above). */
  logged(): boolean;
  /** Whether the session numbered send `seq` of tab `from` (one it refused, e.g. as too large, is acknowledged here). */
  numbered(from: string, seq: number): boolean;
  /** Post what the session numbered so far (before an ack, which must not overtake it). */
  flushSession(): void;
}

export class LeaderRelay<Out> {
  readonly #host: RelayHost<Out>;
  /** Follower sends that arrived while the socket was not open, in arrival order. */
  #held: Array<{ from: string; seq: number; message: unknown }> = [];
  /** Per follower tab, the highest seq received (a resend of one already here is ignored). */
  readonly #received = new Map<string, number>();
  readonly #origins = new OriginLog();
  /** Follower requests in flight, by `tab:rid`. */
  readonly #requests = new Map<string, AbortController>();
  /** The follower send being handed to the connection now (the session logs it as that tab's). */
  sending: { from: string; seq: number } | null = null;
  /** Plain mode: per follower tab, the highest send acknowledged, and the highest it was told is settled. */
  readonly #acked = new Map<string, number>();
  readonly #settled = new Map<string, number>();
  #settling = false;

  constructor(host: RelayHost<Out>) {
    this.#host = host;
  }

  /** A follower's `seq`-th send. */
  send(from: string, seq: number, message: unknown): void {
    if (seq <= (this.#received.get(from) ?? 0)) return;
    this.#received.set(from, seq);
    if (this.#host.logged()) return this.#write(from, seq, message);
    const r = this.#host.conn.readyState;
    if (this.#held.length === 0 && (r === 1 || r === 3)) this.#write(from, seq, message);
    else this.#held.push({ from, seq, message });
  }

  /** The socket opened or the session ended: write (or hand over for reporting) what was held. */
  flush(): void {
    for (const entry of this.#held.splice(0)) this.#write(entry.from, entry.seq, entry.message);
  }

  /** A session taken over: what each tab had numbered in it is not taken again, and drops of its messages go to it. */
  adopt(tabs: ReadonlyMap<string, number>, held: Iterable<{ from: string; message?: unknown; data: SendData }>): void {
    for (const [tab, seq] of tabs) if (seq > (this.#received.get(tab) ?? 0)) this.#received.set(tab, seq);
    for (const entry of held) if (entry.from !== this.#host.tab) this.#origins.add('message' in entry ? entry.message : entry.data, entry.from);
  }

  /** Where a dropped message came from (undefined: the leader's own). */
  originOf(message: unknown): Origin | undefined {
    return this.#origins.take(message);
  }

  /**
   * Plain mode: once the connection holds nothing unconfirmed and nothing queued, every send it was given is
   * confirmed or was reported (a drop, which reached its tab before this), so each follower may forget the sends
   * this leader acknowledged (`settled`). Checked a microtask after what can change that: a write, an inbound
   * message (a pong may confirm), a drop, a statechange (a socket that ended settled its writes).
   */
  checkSettled(): void {
    if (this.#settling || this.#host.logged() || this.#acked.size === 0) return;
    this.#settling = true;
    queueMicrotask(() => {
      this.#settling = false;
      const { unconfirmedMessages, queueLength } = this.#host.conn.metrics;
      if (unconfirmedMessages > 0 || queueLength > 0) return;
      for (const [to, seq] of this.#acked) {
        if (seq <= (this.#settled.get(to) ?? 0)) continue;
        this.#settled.set(to, seq);
        this.#host.post({ t: 'settled', from: this.#host.tab, epoch: this.#host.epoch(), to, seq });
      }
    });
  }

  request(from: string, rid: number, message: unknown, timeout: number | undefined): void {
    const key = `${from}:${rid}`;
    if (this.#requests.has(key)) return;
    const abort = new AbortController();
    this.#requests.set(key, abort);
    const { tab } = this.#host;
    const epoch = this.#host.epoch();
    const reply = (result: { ok: true; value: unknown } | { ok: false; error: unknown }) => {
      // Cut short by this tab resigning: the asking tab asks the next leader, so no answer from here.
      if (this.#requests.get(key) !== abort) return;
      this.#requests.delete(key);
      if (result.ok) this.#host.post({ t: 'reply', from: tab, epoch, to: from, rid, ok: true, value: result.value });
      else this.#host.post({ t: 'reply', from: tab, epoch, to: from, rid, ok: false, error: toWireError(result.error) });
    };
    let pending: Promise<unknown>;
    try {
      pending = this.#host.conn.request(message as Out, { signal: abort.signal, ...(timeout === undefined ? {} : { timeout }) });
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then((value) => reply({ ok: true, value }), (error: unknown) => reply({ ok: false, error }));
  }

  cancel(from: string, rid: number): void {
    this.#requests.get(`${from}:${rid}`)?.abort();
  }

  /** This tab stops leading: its followers ask the next leader again. */
  resign(): void {
    const requests = [...this.#requests.values()];
    this.#requests.clear();
    for (const abort of requests) abort.abort();
    this.#held = [];
  }

  #write(from: string, seq: number, message: unknown): void {
    const { conn, tab } = this.#host;
    this.#origins.add(message, from, seq);
    this.sending = { from, seq };
    try {
      conn.send(message as Out);
      // A send the layer refused (over its bounds, the session over) was reported dropped: it needs an ack instead.
      if (this.#host.logged() && this.#host.numbered(from, seq)) return;
    } catch (error) {
      // The follower checked it with its own options; a leader whose options differ refuses it, never silently.
      this.#origins.take(message);
      const reason: DropReason = (error as { code?: string }).code === 'ERR_MESSAGE_TOO_LARGE' ? 'too-large' : 'closed';
      let data: SendData;
      try {
        data = this.#host.encode(message as Out);
      } catch {
        data = String(message);
      }
      this.#host.post({ t: 'drop', from: tab, epoch: this.#host.epoch(), to: from, reason, data, message, seq });
    } finally {
      this.sending = null;
    }
    this.#host.flushSession();
    this.#host.post({ t: 'ack', from: tab, epoch: this.#host.epoch(), to: from, seq });
    if (!this.#host.logged()) {
      this.#acked.set(from, seq);
      this.checkSettled();
    }
  }
}
