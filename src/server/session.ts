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
 */
import { WebSocket } from 'ws';
import { ACK_CLOSE_CODES, BINARY_HEADER_BYTES, ackFrame, welcomeFrame, writeSeq } from '../delivery/protocol.js';
import { AckBatcher, type SequenceVerdict, classifySeq } from '../delivery/sequencing.js';
import { EXPIRY_RETRIES, EXPIRY_RETRY_MS } from './options.js';
import type { SharedContext } from './sharedContext.js';
import { isThenable } from './memorySession.js';
import { type EffectFailure, type Refusal, type SessionGap, type StoreEffect, type UnackedMessage, isGap } from './store.js';
import { SocketchartError } from '../errors.js';
import {
  type AckMessage,
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
  /** Client messages: the highest processed here, the highest whose mark the store recorded, the highest acked. */
  #lastIn = 0;
  readonly #acks: AckBatcher;
  #expiryTimer: unknown = null;
  /** Client frames waiting for the fence check and `onMessage`, in order. */
  #inbound: Array<[number, AckPayload]> = [];
  /** Bytes in `#inbound`, bounded by `maxBacklogBytes` (a store slower than the client's frames). */
  #inboundBytes = 0;
  #processing = false;
  /** One trim in flight at a time; acks meanwhile only raise `#trimTo` (a flood of acks is one call per round trip). */
  #trimming = false;
  #trimTo = 0;
  /** Server messages the store holds and the client has not acknowledged, by seq (consecutive from `#firstOut`). */
  readonly #out = new Map<number, string | Uint8Array>();
  #firstOut = 1;
  /** One past the highest seq this node knows was stored. */
  #nextOut = 1;
  #bytes = 0;
  /** Accepted by `send()`, not yet answered by the store. */
  #appending = 0;
  /** Failed attempts to remove this session from the store at expiry (the store was unreachable). */
  #expiryFailures = 0;
  #appendingBytes = 0;
  #nextToWrite = 1;
  #blocked = false;
  #filling = false;
  /**
   * A socket whose frames are no longer processed: a mark of one of them failed, so the store refuses the marks
   * after it (not the next seq) and the client replays them all on its next socket.
   */
  #halted: Link | null = null;
  /** An async onMessage running, settled once its mark is sent. */
  #inFlight: Promise<unknown> | null = null;
  /** A claim of this node for this session is on its way: frames of the old socket are no longer processed. */
  claiming = 0;
  readonly #flushed = (): void => {
    if (!this.#blocked) return;
    this.#blocked = false;
    this.#pump();
  };

  constructor(id: string, context: SharedContext) {
    this.id = id;
    this.#c = context;
    // Acks cover only what the store recorded (`advance` is called when a mark is confirmed).
    this.#acks = new AckBatcher(context.clock, context.limits.ackEvery, context.limits.ackDelay, (ack) => {
      const ws = this.link?.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return false;
      ws.send(ackFrame(ack));
      return true;
    });
  }

  get connected(): boolean {
    return this.state === 'attached';
  }

  get socket(): WebSocket | null {
    return this.link?.ws ?? null;
  }

  get pending(): { count: number; bytes: number } {
    return { count: this.#out.size + this.#appending, bytes: this.#bytes + this.#appendingBytes };
  }

  /** Take the state the store gave this node's claim (never a local copy: it may be stale) and attach `link`. */
  attach(link: Link, claim: { resumed: boolean; epoch: number; lastIn: number; nextOut: number; unacked: UnackedMessage[] }, sid: string): void {
    const previous = this.link;
    if (previous && previous !== link) {
      previous.session = null;
      this.#c.stats.refused++;
      this.#c.fail(previous, ACK_CLOSE_CODES.sessionTakenOver, 'session resumed on another socket', true);
    }
    this.#clearExpiry();
    this.claiming = 0;
    this.epoch = claim.epoch;
    this.#lastIn = claim.lastIn;
    this.#acks.reset(claim.lastIn);
    this.#trimTo = claim.unacked[0] ? claim.unacked[0].seq - 1 : claim.nextOut - 1;
    this.#dropInbound();
    this.#out.clear();
    this.#bytes = 0;
    for (const m of claim.unacked) {
      this.#out.set(m.seq, m.payload);
      this.#bytes += bytesOfPayload(m.payload);
    }
    this.#firstOut = claim.unacked[0]?.seq ?? claim.nextOut;
    this.#nextOut = claim.nextOut;
    this.state = 'attached';
    this.link = link;
    link.session = this;
    link.ws.send(welcomeFrame(sid, claim.resumed, claim.lastIn, this.#firstOut));
    if (claim.resumed) this.#c.stats.resumed++;
    else this.#c.stats.created++;
    this.#c.stats.replayed += this.#out.size;
    this.#nextToWrite = this.#firstOut;
    this.#blocked = false;
    this.#pump();
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
      this.#learn(seq, stored);
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
    const undelivered = [...this.#out.values()].map(toPayload);
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
    const local = new Map(this.#out);
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
    const undelivered = [...this.#out.values()].map(toPayload);
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
    this.#acks.cancel();
    this.#dropInbound();
    if (this.state !== 'attached') return;
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
    if (this.state !== 'attached' || this.#halted === this.link) return;
    this.#inboundBytes += frameBytes(payload);
    if (this.#inboundBytes > this.#c.limits.maxBacklogBytes) {
      this.#dropInbound();
      this.#c.fail(this.link as Link, ACK_CLOSE_CODES.tryAgainLater, 'session store too slow');
      return;
    }
    this.#inbound.push([seq, payload]);
    if (!this.#processing) void this.#process(this.link as Link);
  }

  acked(link: Link, ack: number): void {
    if (ack > this.#nextOut - 1) {
      this.#c.fail(link, ACK_CLOSE_CODES.protocolError, `ack ${ack} beyond the last seq sent (${this.#nextOut - 1})`);
      return;
    }
    if (ack < this.#firstOut) return;
    for (let seq = this.#firstOut; seq <= ack; seq++) {
      const payload = this.#out.get(seq);
      if (payload !== undefined) this.#bytes -= bytesOfPayload(payload);
      this.#out.delete(seq);
    }
    this.#firstOut = ack + 1;
    if (ack > this.#trimTo) this.#trimTo = ack;
    this.#trim();
  }

  #dropInbound(): void {
    this.#inbound = [];
    this.#inboundBytes = 0;
  }

  #trim(): void {
    if (this.#trimming || this.state !== 'attached') return;
    const epoch = this.epoch;
    const ack = this.#trimTo;
    this.#trimming = true;
    this.#c.store.trim(this.id, epoch, ack).then(
      (result) => {
        this.#trimming = false;
        if (result === 'stale') this.staleAt(epoch);
        else if (result === 'missing') this.missingAt(epoch);
        else if (this.#trimTo > ack) this.#trim();
      },
      (error) => {
        this.#trimming = false;
        this.#c.storeFailure(error, this);
      },
    );
  }

  /** A message stored by another node (`server.sendTo`) for this attached session: fetch it and write it. */
  noticeOut(seq: number): void {
    if (this.state !== 'attached') return;
    if (seq >= this.#nextOut) this.#nextOut = seq + 1;
    this.#pump();
  }

  /** Another node claimed the session: stop acting for it at once (no more processing, no more writes). */
  lose(): void {
    if (this.state === 'lost' || this.state === 'expired') return;
    const link = this.link;
    this.#over('lost');
    if (link) {
      link.session = null;
      this.#c.stats.refused++;
      this.#c.fail(link, ACK_CLOSE_CODES.sessionTakenOver, 'session resumed on another node', true);
    }
  }

  dispose(): void {
    this.#acks.cancel();
    this.#clearExpiry();
  }

  #over(state: 'expired' | 'lost'): void {
    this.state = state;
    if (this.link) this.link.session = null;
    this.link = null;
    this.#dropInbound();
    this.#out.clear();
    this.#bytes = 0;
    this.dispose();
    this.#c.forget(this);
  }

  async #expire(): Promise<void> {
    this.#expiryTimer = null;
    if (this.state !== 'detached') return;
    let result: UnackedMessage[] | Refusal | SessionGap;
    try {
      result = await this.#c.store.remove(this.id, this.epoch);
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
      result = [...this.#out].map(([seq, payload]) => ({ seq, payload }));
    }
    if (this.state !== 'detached') return;
    if (isGap(result)) {
      this.storeLost(result);
      return;
    }
    if (result === 'stale') {
      // Claimed elsewhere meanwhile: that node owns it, nothing to report here.
      this.lose();
      return;
    }
    // Already gone from the store (Redis dropped the keys first, or lost its data): this node's copy is all there is.
    if (result === 'missing') result = [...this.#out].map(([seq, payload]) => ({ seq, payload }));
    this.#over('expired');
    this.#c.stats.expired++;
    this.#c.onExpire(this, result.map((m) => toPayload(m.payload)));
  }

  /**
   * Processes the waiting client frames in order: a fence check per batch, then `onMessage` and a mark per message.
   * An async `onMessage` is awaited before the next message, and the rest of the batch gets a new fence check.
   */
  async #process(link: Link): Promise<void> {
    this.#processing = true;
    try {
      while (this.#inbound.length > 0 && this.#processes(link) && this.claiming === 0) {
        const epoch = this.epoch;
        let fenced: number | Refusal;
        try {
          fenced = await this.#c.store.fence(this.id, epoch);
        } catch (error) {
          this.#storeFailed(link, error);
          return;
        }
        if (fenced === 'stale') {
          this.staleAt(epoch);
          return;
        }
        if (fenced === 'missing') {
          this.missingAt(epoch);
          return;
        }
        // A claim sent meanwhile would refuse the marks: leave the frames to the client's replay on its new socket.
        if (!this.#processes(link) || this.claiming > 0) return;
        const batch = this.#inbound;
        this.#dropInbound();
        for (let i = 0; i < batch.length; i++) {
          // onMessage may have ended the session, or another node may have taken it, since the last message.
          if (!this.#processes(link)) return;
          const [seq, payload] = batch[i] as [number, AckPayload];
          const done = this.#one(link, seq, payload);
          if (done === false) return;
          if (done !== true) {
            if (!(await done)) return;
            if (this.#processes(link)) this.#requeue(batch, i + 1);
            break;
          }
        }
      }
    } finally {
      this.#processing = false;
      // Frames of a socket that attached while this loop awaited an async onMessage have nothing else to start them.
      const current = this.link;
      if (current !== null && current !== link && this.#inbound.length > 0) void this.#process(current);
    }
  }

  /** Whether frames of `link` are still processed here. */
  #processes(link: Link): boolean {
    return this.link === link && this.state === 'attached' && this.#halted !== link;
  }

  /** Puts the frames of `batch` from `from` on back at the head of the queue. */
  #requeue(batch: Array<[number, AckPayload]>, from: number): void {
    const rest = batch.slice(from);
    for (const [, payload] of rest) this.#inboundBytes += frameBytes(payload);
    this.#inbound = rest.concat(this.#inbound);
  }

  /**
   * One client message: skipped if a duplicate, else `onMessage` and its mark. Answers whether to go on, or a
   * promise of it when `onMessage` is async (the mark is sent when it settles).
   */
  #one(link: Link, seq: number, payload: AckPayload): boolean | Promise<boolean> {
    const verdict: SequenceVerdict = classifySeq(seq, this.#lastIn);
    if (verdict === 'duplicate') {
      this.#c.stats.duplicates++;
      this.#acks.duplicate();
      return true;
    }
    if (verdict === 'gap') {
      this.#c.stats.refused++;
      this.#c.fail(link, ACK_CLOSE_CODES.sequenceGap, `expected seq ${this.#lastIn + 1}, got ${seq}`);
      return false;
    }
    this.#lastIn = seq;
    this.#c.stats.processed++;
    // The mark carries the epoch this message was fenced with: if the session was claimed again meanwhile, it is
    // refused, and the message goes to whoever holds the session now, whose state does not have it processed.
    const epoch = this.epoch;
    const effects: StoreEffect[] = [];
    let open = true;
    const store = this.#c.store;
    const message: AckMessage = {
      key: `${this.id}:${seq}`,
      seq,
      commit(effect) {
        if (!open) throw new SocketchartError('ERR_INVALID_DATA', 'message.commit() only works while onMessage runs.');
        store.checkEffect?.(effect);
        effects.push(effect);
      },
    };
    // A handler that failed counts as processed (no replay loop), without the effects it committed: as in memory.
    const failed = (error: unknown): true => {
      open = false;
      this.#c.report(error, this);
      this.#mark(link, epoch, seq, payload, []);
      return true;
    };
    let result: unknown;
    try {
      result = this.#c.onMessage(this, payload, message);
    } catch (error) {
      return failed(error);
    }
    if (isThenable(result)) {
      const done = Promise.resolve(result).then(() => {
        open = false;
        this.#mark(link, epoch, seq, payload, effects);
        return true;
      }, failed);
      const inFlight = (this.#inFlight = done.finally(() => {
        if (this.#inFlight === inFlight) this.#inFlight = null;
      }));
      return done;
    }
    open = false;
    this.#mark(link, epoch, seq, payload, effects);
    return true;
  }

  /**
   * Settles once no async onMessage runs (its mark sent). A resume on this node claims the session only then, so
   * the mark lands before the claim (one connection, in order) and the message is not processed a second time.
   */
  idle(): Promise<unknown> | null {
    return this.#inFlight;
  }

  /** Records message `seq` as processed (with `effects`); the ack covers it once the store answered. */
  #mark(link: Link, epoch: number, seq: number, payload: AckPayload, effects: readonly StoreEffect[]): void {
    this.#c.store.mark(this.id, epoch, seq, effects).then(
      (result) => {
        if (result === 'stale') this.staleAt(epoch);
        else if (result === 'missing') this.missingAt(epoch);
        else if (result !== 'ok') this.#effectFailed(link, epoch, seq, payload, result);
        else if (this.epoch === epoch && this.state === 'attached') this.#acks.advance(seq);
      },
      (error) => {
        // After a failed mark on this socket the store refuses the later ones (not the next seq): already handled.
        if (this.#halted !== link) this.#storeFailed(link, error);
      },
    );
  }

  /**
   * The store could not run message `seq`'s effects, so it is not recorded. The socket stops being processed and
   * is closed with 1011: the client replays the message (and the later ones, whose marks the store now refuses).
   * An effect that always fails would have it replayed forever: after `maxEffectFailures` failures in a row
   * (counted in the store, whichever node ran them) the message is reported (onDeadLetter), then recorded
   * without its effects. Reported first: if this node dies in between, the next attempt reports it again.
   */
  #effectFailed(link: Link, epoch: number, seq: number, payload: AckPayload, failure: EffectFailure): void {
    this.#halt(link);
    this.#c.storeFailure(failure.failed, this);
    if (failure.attempts < this.#c.limits.maxEffectFailures) {
      this.#c.fail(link, ACK_CLOSE_CODES.serverError, 'message effects failed');
      return;
    }
    this.#c.deadLetter(this, payload, { key: `${this.id}:${seq}`, seq }, failure.failed);
    this.#c.store.mark(this.id, epoch, seq, []).then(
      (result) => {
        if (result === 'stale') this.staleAt(epoch);
        else if (result === 'missing') this.missingAt(epoch);
        this.#c.fail(link, ACK_CLOSE_CODES.serverError, 'message effects failed');
      },
      (error) => {
        this.#c.storeFailure(error, this);
        this.#c.fail(link, ACK_CLOSE_CODES.serverError, 'session store failed');
      },
    );
  }

  /** Frames of `link` are no longer processed (it is being closed; the client replays them). */
  #halt(link: Link): void {
    this.#halted = link;
    if (this.link === link) this.#dropInbound();
  }

  #storeFailed(link: Link, error: unknown): void {
    this.#c.storeFailure(error, this);
    // Nothing more can be recorded: the client replays what was not acknowledged on its next socket.
    this.#halt(link);
    this.#c.fail(link, ACK_CLOSE_CODES.serverError, 'session store failed');
  }

  #learn(seq: number, stored: string | Uint8Array): void {
    if (seq < this.#firstOut || this.#out.has(seq)) return;
    this.#out.set(seq, stored);
    this.#bytes += bytesOfPayload(stored);
    if (seq >= this.#nextOut) this.#nextOut = seq + 1;
    this.#pump();
  }

  /**
   * Writes stored messages in seq order while the socket's buffer is under `maxSocketBuffer`. A seq this node has
   * not got (stored by another node) is fetched from the store first.
   */
  #pump(): void {
    const ws = this.link?.ws;
    if (this.state !== 'attached' || !ws || ws.readyState !== WebSocket.OPEN) return;
    if (this.#nextToWrite < this.#firstOut) this.#nextToWrite = this.#firstOut;
    while (this.#nextToWrite < this.#nextOut) {
      const payload = this.#out.get(this.#nextToWrite);
      if (payload === undefined) {
        this.#fill();
        return;
      }
      if (ws.bufferedAmount >= this.#c.limits.maxSocketBuffer) {
        this.#blocked = true;
        return;
      }
      const seq = this.#nextToWrite++;
      if (typeof payload === 'string') ws.send(`${seq}:${payload}`, this.#flushed);
      else {
        const frame = Buffer.allocUnsafe(BINARY_HEADER_BYTES + payload.byteLength);
        writeSeq(frame, seq);
        frame.set(payload, BINARY_HEADER_BYTES);
        ws.send(frame, this.#flushed);
      }
    }
  }

  #fill(): void {
    if (this.#filling) return;
    this.#filling = true;
    const from = this.#nextToWrite;
    const to = this.#nextOut - 1;
    const epoch = this.epoch;
    this.#c.store.read(this.id, epoch, from, to).then(
      (messages) => {
        this.#filling = false;
        if (messages === 'stale') {
          this.staleAt(epoch);
          return;
        }
        if (messages === 'missing') {
          this.missingAt(epoch);
          return;
        }
        if (isGap(messages)) {
          // Read with the epoch this node holds: it owned the session when the store removed it.
          if (epoch === this.epoch) this.storeLost(messages);
          return;
        }
        for (const m of messages) {
          if (m.seq >= this.#firstOut && !this.#out.has(m.seq)) {
            this.#out.set(m.seq, m.payload);
            this.#bytes += bytesOfPayload(m.payload);
          }
        }
        if (this.#out.has(this.#nextToWrite)) this.#pump();
      },
      (error) => {
        this.#filling = false;
        this.#c.storeFailure(error, this);
      },
    );
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

/** What a waiting frame counts against `maxBacklogBytes` (a string at its largest UTF-8 size). */
const frameBytes = (payload: AckPayload): number => (typeof payload === 'string' ? payload.length * 3 : payload.byteLength);
