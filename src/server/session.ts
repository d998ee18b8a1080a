/**
 * A server session on a shared store (`SharedSessionStore`, e.g. Redis): the store is the truth, this node holds a
 * copy only while it owns the session. Its lifecycle is explicit:
 *
 *   attached --socket closed--> detached --sessionTtl--> expired
 *      ^                            |
 *      +------ hello (claim) -------+
 *   attached | detached --another node claimed it (notice, or a fenced call answered 'stale')--> lost
 *   attached | detached --the store no longer has it (a fenced call answered 'missing')--> expired (reported)
 *   attached | detached --the store lost some of its messages (a SessionGap; the store removed it)--> expired (reported)
 *
 * Every change goes to the store first, fenced by the epoch this node's claim got: a server message is written to
 * the client only once the store holds it; a client message is processed only after a fence check and is
 * acknowledged only once its mark (with the app's effects) is recorded.
 *
 * Its client messages (fence check, onMessage, marks, acks) are sharedInbound.ts, its server messages (the
 * unacknowledged log, writes paced by the socket, trims) sharedOutbound.ts; this module is the lifecycle and the
 * fenced calls that change it.
 */
import { WebSocket } from 'ws';
import { ACK_CLOSE_CODES, welcomeFrame } from '../delivery/protocol.js';
import { EXPIRY_RETRIES, EXPIRY_RETRY_MS } from './options.js';
import { SharedInbound } from './sharedInbound.js';
import { SharedOutbound } from './sharedOutbound.js';
import type { SharedContext } from './sharedContext.js';
import { type Refusal, type SessionGap, type UnackedMessage, isGap } from './store.js';
import { SocketchartError } from '../errors.js';
import {
  type AckPayload,
  type AckSendData,
  type Link,
  type LinkedSession,
  type UndeliveredReason,
  bytesOfPayload,
  storedPayload,
  toPayload,
  validateEnd,
} from './types.js';

export class SharedSession implements LinkedSession {
  readonly id: string;
  readonly #c: SharedContext;
  state: 'attached' | 'detached' | 'expired' | 'lost' = 'detached';
  link: Link | null = null;
  /** The fencing token: this node's claim. */
  epoch = 0;
  readonly #inbound: SharedInbound;
  readonly #outbound: SharedOutbound;
  #expiryTimer: unknown = null;
  /** Accepted by `send()`, not yet answered by the store. */
  #appending = 0;
  /** Failed attempts to remove this session from the store at expiry (the store was unreachable). */
  #expiryFailures = 0;
  #appendingBytes = 0;
  /** A claim of this node for this session is on its way: frames of the old socket are no longer processed. */
  claiming = 0;

  constructor(id: string, context: SharedContext) {
    this.id = id;
    this.#c = context;
    this.#inbound = new SharedInbound(this, context);
    this.#outbound = new SharedOutbound(this, context);
  }

  get connected(): boolean {
    return this.state === 'attached';
  }

  get socket(): WebSocket | null {
    return this.link?.ws ?? null;
  }

  get pending(): { count: number; bytes: number } {
    return { count: this.#outbound.log.size + this.#appending, bytes: this.#outbound.bytes + this.#appendingBytes };
  }

  /** Take the state the store gave this node's claim (never a local copy: it may be stale) and attach `link`. */
  attach(link: Link, claim: { resumed: boolean; epoch: number; lastIn: number; nextOut: number; unacked: UnackedMessage[] }, sid: string): void {
    const previous = this.link;
    if (previous && previous !== link) {
      previous.session = null;
      this.#c.fail(previous, ACK_CLOSE_CODES.sessionTakenOver, 'session resumed on another socket', true);
    }
    this.#clearExpiry();
    this.claiming = 0;
    this.epoch = claim.epoch;
    this.#inbound.reset(claim.lastIn);
    this.#outbound.reset(claim);
    this.state = 'attached';
    this.link = link;
    link.session = this;
    link.ws.send(welcomeFrame(sid, claim.resumed, claim.lastIn, this.#outbound.first));
    if (claim.resumed) this.#c.stats.resumed++;
    else this.#c.stats.created++;
    this.#c.stats.replayed += this.#outbound.log.size;
    this.#outbound.start();
    this.#c.onSession(this, { resumed: claim.resumed, request: link.request });
  }

  send(payload: AckSendData): boolean {
    const stored = storedPayload(payload);
    const bytes = bytesOfPayload(stored);
    const { maxUnacked, maxUnackedBytes } = this.#c.limits;
    const held = this.pending;
    if (this.state === 'expired' || this.state === 'lost' || held.count >= maxUnacked || held.bytes + bytes > maxUnackedBytes) return false;
    if (!this.#c.store.available()) return false;
    void this.append(stored, bytes).then(
      (ok) => {
        if (ok !== true) this.#c.undelivered(this, [toPayload(stored)], ok);
      },
      (error) => {
        this.#c.storeFailure(error, this);
        this.#c.undelivered(this, [toPayload(stored)], 'store-failed');
      },
    );
    return true;
  }

  async sendDurable(payload: AckSendData): Promise<boolean> {
    const stored = storedPayload(payload);
    const bytes = bytesOfPayload(stored);
    const held = this.pending;
    if (held.count >= this.#c.limits.maxUnacked || held.bytes + bytes > this.#c.limits.maxUnackedBytes) return false;
    return (await this.append(stored, bytes)) === true;
  }

  /** Store one server message (fenced), then write it: true once stored, else why not. Rejects if the store failed. */
  async append(stored: string | Uint8Array, bytes = bytesOfPayload(stored)): Promise<true | UndeliveredReason> {
    for (;;) {
      if (this.state === 'expired' || this.state === 'lost') return 'ended';
      const epoch = this.epoch;
      this.#appending++;
      this.#appendingBytes += bytes;
      let seq: number | Refusal;
      try {
        seq = await this.#c.store.append(this.id, epoch, stored, this.#c.limits);
      } finally {
        this.#appending--;
        this.#appendingBytes -= bytes;
      }
      // This node claimed the session again meanwhile (a new socket): the store refused the old epoch; retry.
      if (seq === 'stale' && this.epoch !== epoch) continue;
      if (seq === 'stale') {
        this.staleAt(epoch);
        return 'taken-over';
      }
      if (seq === 'missing') {
        this.missingAt(epoch);
        return 'ended';
      }
      if (seq === 0) return 'full';
      // end() ran while the store was answering: its REMOVE deleted the message just stored, so it was not accepted.
      if (this.#endedMeanwhile()) return 'ended';
      this.#outbound.learn(seq, stored);
      return true;
    }
  }

  /** Whether end() or an expiry ended the session (read after an await, when it may have happened). */
  #endedMeanwhile(): boolean {
    return this.state === 'expired';
  }

  /** A fenced call made with `epoch` was refused: the session moved, unless this node has claimed it again since. */
  staleAt(epoch: number): void {
    if (epoch === this.epoch) this.lose();
  }

  /**
   * A fenced call made with `epoch` found the session gone from the store (its keys expired while this node held
   * it, e.g. as lease renewals failed, or Redis lost its data): unlike a takeover, nobody else holds its messages.
   * It ends here as expired: the socket is closed with 1011 (the client starts a new session) and onExpire gets
   * this node's copy of what was unacknowledged.
   */
  missingAt(epoch: number): void {
    if (epoch !== this.epoch || this.state === 'lost' || this.state === 'expired') return;
    const link = this.link;
    const undelivered = [...this.#outbound.log.values()].map(toPayload);
    this.#over('expired');
    this.#c.stats.expired++;
    if (link) this.#c.fail(link, ACK_CLOSE_CODES.serverError, 'session expired in the store');
    this.#c.onExpire(this, undelivered);
  }

  /**
   * The store lost server messages of this session that the client had not acknowledged (Redis evicted its message
   * hash but not its state) and removed it: delivery in order cannot go on, and waiting for the lost seqs would stall
   * it. It ends here as expired: the socket (and `claimLink`, a socket whose claim found the gap) is closed with 1011
   * (`session messages missing in the store`; the client starts a new session), onExpire gets every message known
   * (what the store still had and this node's copy of the lost ones, in seq order), and onError the lost seqs, how
   * many of them this node recovered and which are gone.
   */
  storeLost(gap: SessionGap, claimLink: Link | null = null): void {
    const local = new Map(this.#outbound.log);
    const over = this.state === 'lost' || this.state === 'expired';
    const link = this.link;
    if (!over) this.#over('expired');
    for (const l of [link, claimLink]) if (l) this.#c.fail(l, ACK_CLOSE_CODES.serverError, 'session messages missing in the store');
    const known = new Map<number, string | Uint8Array>();
    for (const m of gap.held) known.set(m.seq, m.payload);
    const gone: number[] = [];
    for (const seq of gap.gap) {
      const payload = local.get(seq);
      if (payload === undefined) gone.push(seq);
      else known.set(seq, payload);
    }
    const recovered = gap.gap.length - gone.length;
    this.#c.storeFailure(
      new SocketchartError(
        'ERR_STORE_DATA_LOST',
        `Redis lost ${gap.gap.length} unacknowledged server message(s) of session ${this.id} (seq ${seqRanges(gap.gap)}): a key was evicted. ` +
          `${recovered} were recovered from this node's copy and go to onExpire with the ${gap.held.length} Redis still had; ` +
          `${gone.length} cannot be reported${gone.length > 0 ? ` (seq ${seqRanges(gone)})` : ''}. The session was removed (its client starts a new one). ` +
          'Run Redis with maxmemory-policy noeviction.',
      ),
      this,
    );
    if (over) return;
    this.#c.stats.expired++;
    this.#c.onExpire(
      this,
      [...known].sort((x, y) => x[0] - y[0]).map(([, payload]) => toPayload(payload)),
    );
  }

  end(code = 1000, reason = ''): AckPayload[] {
    validateEnd(code, reason);
    const undelivered = [...this.#outbound.log.values()].map(toPayload);
    const link = this.link;
    this.#over('expired');
    this.#c.store.remove(this.id, this.epoch).then(
      () => undefined,
      (error) => this.#c.storeFailure(error, this),
    );
    if (link && link.ws.readyState === WebSocket.OPEN) link.ws.close(code, reason);
    return undelivered;
  }

  detach(link: Link): void {
    if (this.link !== link) return;
    this.link = null;
    this.#inbound.detach();
    if (this.state !== 'attached') return;
    this.#release();
  }

  /**
   * This node claimed the session for a socket that closed before the claim was answered (a hello, then a hang-up).
   * The store's epoch is that claim's now: a socket still attached here under the older one is displaced at once
   * (`4408`, as by a resume on another socket), not at its next fenced call or lease renewal. The session stays on
   * this node, detached, with the state the claim gave: released, and expiring here (onExpire) unless a client
   * resumes it. A detached copy here takes the claim's epoch too, so its expiry is not refused as stale and dropped;
   * a session another node held (now told "lost") gets a copy here, so its expiry is reported by someone.
   */
  claimedWithoutSocket(claim: { epoch: number; lastIn: number; nextOut: number; unacked: UnackedMessage[] }): void {
    const previous = this.link;
    if (previous) {
      this.link = null;
      previous.session = null;
      this.#inbound.detach();
      this.#c.fail(previous, ACK_CLOSE_CODES.sessionTakenOver, 'session resumed on another socket', true);
    }
    this.#clearExpiry();
    this.epoch = claim.epoch;
    this.#inbound.reset(claim.lastIn);
    this.#outbound.reset(claim);
    this.#release();
  }

  /** No socket any more: the store keeps the session `sessionTtl` (its lease), and so does this node's timer. */
  #release(): void {
    this.state = 'detached';
    const ttl = this.#c.limits.sessionTtl;
    const epoch = this.epoch;
    this.#c.store.release(this.id, epoch, ttl).then(
      (result) => {
        if (result === 'stale') this.staleAt(epoch);
        else if (result === 'missing') this.missingAt(epoch);
      },
      (error) => this.#c.storeFailure(error, this),
    );
    if (ttl !== Infinity) this.#expiryTimer = this.#c.clock.setTimeout(() => this.#expire(), ttl);
  }


  data(seq: number, payload: AckPayload): void {
    this.#inbound.data(seq, payload);
  }

  /**
   * A claim of this node for this session was refused or failed, so the attached socket keeps it: its frames that
   * came while the claim was on its way (not processed meanwhile) are processed now, once no other claim is.
   */
  claimDidNotHappen(): void {
    if (this.claiming === 0) this.#inbound.resume();
  }

  acked(link: Link, ack: number): void {
    this.#outbound.acked(link, ack);
  }

  /** A message stored by another node (`server.sendTo`) for this attached session: fetch it and write it. */
  noticeOut(seq: number): void {
    this.#outbound.noticeOut(seq);
  }

  /**
   * Settles once no async onMessage runs (its mark sent). A resume on this node claims the session only then, so
   * the mark lands before the claim (one connection, in order) and the message is not processed a second time.
   */
  idle(): Promise<unknown> | null {
    return this.#inbound.idle();
  }


  /** Another node claimed the session: stop acting for it at once (no more processing, no more writes). */
  lose(): void {
    if (this.state === 'lost' || this.state === 'expired') return;
    const link = this.link;
    this.#over('lost');
    if (link) {
      link.session = null;
      this.#c.fail(link, ACK_CLOSE_CODES.sessionTakenOver, 'session resumed on another node', true);
    }
  }

  dispose(): void {
    this.#inbound.dispose();
    this.#clearExpiry();
  }

  #over(state: 'expired' | 'lost'): void {
    this.state = state;
    if (this.link) this.link.session = null;
    this.link = null;
    this.#inbound.dropInbound();
    this.#outbound.clear();
    this.dispose();
    this.#c.forget(this);
  }

  async #expire(): Promise<void> {
    this.#expiryTimer = null;
    if (this.state !== 'detached') return;
    let result: UnackedMessage[] | Refusal | SessionGap;
    const epoch = this.epoch;
    try {
      result = await this.#c.store.remove(this.id, epoch);
    } catch (error) {
      this.#c.storeFailure(error, this);
      if (this.state !== 'detached') return;
      // The store is unreachable: try again shortly, so the session does not stay in this node's map (and count
      // against maxSessions) forever. After EXPIRY_RETRIES the store's own TTL has removed the keys: the session
      // ends here, and onExpire gets this node's copy of what was unacknowledged.
      if (++this.#expiryFailures <= EXPIRY_RETRIES) {
        this.#expiryTimer = this.#c.clock.setTimeout(() => this.#expire(), EXPIRY_RETRY_MS);
        return;
      }
      result = [...this.#outbound.log].map(([seq, payload]) => ({ seq, payload }));
    }
    if (this.state !== 'detached') return;
    if (isGap(result)) {
      this.storeLost(result);
      return;
    }
    if (result === 'stale') {
      // Claimed elsewhere meanwhile: that node owns it, nothing to report here. (Claimed by this node meanwhile, for
      // a socket that hung up: the session runs a new expiry with the new epoch.)
      this.staleAt(epoch);
      return;
    }
    // Already gone from the store (Redis dropped the keys first, or lost its data): this node's copy is all there is.
    if (result === 'missing') result = [...this.#outbound.log].map(([seq, payload]) => ({ seq, payload }));
    this.#over('expired');
    this.#c.stats.expired++;
    this.#c.onExpire(this, result.map((m) => toPayload(m.payload)));
  }


  #clearExpiry(): void {
    if (this.#expiryTimer !== null) this.#c.clock.clearTimeout(this.#expiryTimer);
    this.#expiryTimer = null;
  }
}

/** "1-3, 7" for [1, 2, 3, 7]; the first 10 runs, then how many seqs more. */
function seqRanges(seqs: readonly number[]): string {
  const runs: string[] = [];
  let i = 0;
  while (i < seqs.length && runs.length < 10) {
    let j = i;
    while (j + 1 < seqs.length && (seqs[j + 1] as number) === (seqs[j] as number) + 1) j++;
    runs.push(i === j ? String(seqs[i]) : `${seqs[i]}-${seqs[j]}`);
    i = j + 1;
  }
  return i < seqs.length ? `${runs.join(', ')} and ${seqs.length - i} more` : runs.join(', ');
}
