/**
 * A session on a record-at-a-time `SessionStore` (the in-memory default, or a store of your own): this node's
 * record is the working copy, written to the store on attach, detach and before each ack. Lifecycle:
 * attached (a socket) -> detached (none; expiry timer running) -> attached again on resume, or expired (ended).
 */
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { SocketchartError } from '../errors.js';
import { ACK_CLOSE_CODES, BINARY_HEADER_BYTES, MAX_SEQ, ackFrame, welcomeFrame, writeSeq } from '../delivery/protocol.js';
import { classifySeq } from '../delivery/sequencing.js';
import type { ResolvedServerOptions } from './options.js';
import type { SessionRecord, SessionStore, StoreEffect } from './store.js';
import {
  type AckMessage,
  type AckPayload,
  type AckSendData,
  type AckSession,
  type Link,
  type LinkedSession,
  type SessionServer,
  bytesOfPayload,
  storedPayload,
  toPayload,
  waitingFrameBytes,
  validateEnd,
} from './types.js';

/** What a memory-store session needs from the server that holds it. */
export interface LocalContext extends SessionServer {
  readonly o: ResolvedServerOptions;
  readonly store: SessionStore;
  readonly sessions: Map<string, MemorySession>;
  onSession?(session: AckSession, info: { resumed: boolean; request: IncomingMessage }): void;
  onExpire?(session: AckSession, undelivered: AckPayload[]): void;
  shut(ws: WebSocket, code: number, reason: string, now?: boolean): void;
}

/** Runs `call` (a store method: sync, async, or throwing synchronously) and continues with its result. */
export function thenOrNow<T>(call: () => T | Promise<T>, next: (value: T) => void, fail: (error: unknown) => void): void {
  let value: T | Promise<T>;
  try {
    value = call();
  } catch (error) {
    fail(error);
    return;
  }
  if (isThenable(value)) {
    (value as Promise<T>).then(next, fail);
    return;
  }
  try {
    next(value as T);
  } catch (error) {
    fail(error);
  }
}

/**
 * Runs a message's effects in order until one throws: that one is reported as `ERR_EFFECT_FAILED` (the thrown
 * error as its cause), so apps tell a failed effect from a failed handler; the later ones do not run.
 */
function runEffects(effects: ReadonlyArray<() => void>, key: string, report: (error: SocketchartError) => void): void {
  for (let i = 0; i < effects.length; i++) {
    try {
      (effects[i] as () => void)();
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      report(
        new SocketchartError(
          'ERR_EFFECT_FAILED',
          `Effect ${i + 1} of client message ${key} (message.commit()) threw: ${text}. The message counts as processed; the effects after it did not run.`,
          { cause: error },
        ),
      );
      return;
    }
  }
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

export class MemorySession implements LinkedSession {
  readonly record: SessionRecord;
  link: Link | null = null;
  #bytes = 0;
  /** The highest client seq the current socket was told about. */
  #ackedIn = 0;
  #ackForced = false;
  #ackTimer: unknown = null;
  #expiryTimer: unknown = null;
  /** An acknowledgement waits for an async `store.set`. */
  #persisting = false;
  /** The seq of the next message to write on the attached socket. */
  #nextToWrite = 0;
  /** Writing stopped at `maxSocketBuffer`: the next flushed write resumes it. */
  #blocked = false;
  readonly #flushed = (): void => {
    if (!this.#blocked) return;
    this.#blocked = false;
    this.#pump();
  };
  ended = false;
  /** An async onMessage has not settled: client frames wait in `#queue`, in order. */
  #busy = false;
  #queue: Array<[number, AckPayload]> = [];
  /** Bytes in `#queue`, bounded by `maxBacklogBytes` (a handler slower than the client's frames). */
  #queueBytes = 0;

  readonly #c: LocalContext;

  constructor(record: SessionRecord, context: LocalContext) {
    this.record = record;
    this.#c = context;
    for (const m of record.unacked) this.#bytes += bytesOfPayload(m.payload);
  }

  get id(): string {
    return this.record.id;
  }

  get connected(): boolean {
    return this.link !== null;
  }

  get state(): AckSession['state'] {
    return this.ended ? 'expired' : this.link !== null ? 'attached' : 'detached';
  }

  get socket(): WebSocket | null {
    return this.link?.ws ?? null;
  }

  get pending(): { count: number; bytes: number } {
    return { count: this.record.unacked.length, bytes: this.#bytes };
  }

  send(payload: AckSendData): boolean {
    const stored = storedPayload(payload);
    const bytes = bytesOfPayload(stored);
    const r = this.record;
    if (this.ended || r.unacked.length >= this.#c.o.maxUnacked || this.#bytes + bytes > this.#c.o.maxUnackedBytes || r.nextOut > MAX_SEQ) {
      return false;
    }
    const seq = r.nextOut++;
    r.unacked.push({ seq, payload: stored });
    this.#bytes += bytes;
    if (!this.#blocked) this.#pump();
    return true;
  }

  sendDurable(payload: AckSendData): Promise<boolean> {
    try {
      return Promise.resolve(this.send(payload));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  end(code = 1000, reason = ''): AckPayload[] {
    validateEnd(code, reason);
    const undelivered = this.#forget();
    const ws = this.link?.ws;
    if (this.link) this.link.session = null;
    this.link = null;
    if (ws && ws.readyState === WebSocket.OPEN) ws.close(code, reason);
    return undelivered;
  }

  attach(link: Link, hello: { sid: string; ack: number; next: number }, resumed: boolean): void {
    const previous = this.link;
    if (previous && previous !== link) {
      previous.session = null;
      this.#c.stats.refused++;
      // Terminated, not closed politely: a displaced socket is usually one that stopped reading, and a polite
      // close would keep its replay buffered for ws's 30 s close timeout (one full replay per resume).
      this.#c.shut(previous.ws, ACK_CLOSE_CODES.sessionTakenOver, 'session resumed on another socket', true);
    }
    this.#clearExpiry();
    this.#clearAck();
    // Frames an earlier socket sent that still wait for an async onMessage are its own: the client replays what it
    // holds on this one, and a stale gap among them would close this socket (4409) for the old one's fault.
    this.#dropQueue();
    const r = this.record;
    r.epoch++;
    r.expiresAt = null;
    this.link = link;
    link.session = this;
    // Everything below the client's oldest held message was acknowledged by an earlier socket (or session).
    r.lastIn = resumed ? Math.max(r.lastIn, hello.next - 1) : hello.next - 1;
    this.#trim(hello.ack);
    this.#ackedIn = r.lastIn;
    this.#ackForced = false;
    const oldest = r.unacked[0]?.seq ?? r.nextOut;
    link.ws.send(welcomeFrame(hello.sid, resumed, r.lastIn, oldest));
    if (resumed) this.#c.stats.resumed++;
    else this.#c.stats.created++;
    this.#c.stats.replayed += r.unacked.length;
    this.#nextToWrite = oldest;
    this.#blocked = false;
    this.#pump();
    this.#persist(() => undefined);
    if (this.#c.onSession) {
      try {
        this.#c.onSession(this, { resumed, request: link.request });
      } catch (error) {
        this.#c.report(error, this);
      }
    }
  }

  detach(link: Link): void {
    if (this.link !== link) return;
    this.link = null;
    this.#clearAck();
    if (this.ended) return;
    const ttl = this.#c.o.sessionTtl;
    this.record.expiresAt = ttl === Infinity ? Infinity : this.#c.clock.now() + ttl;
    this.#persist(() => undefined);
    if (ttl !== Infinity) this.#expiryTimer = this.#c.clock.setTimeout(() => this.#expire(), ttl);
  }

  data(seq: number, payload: AckPayload): void {
    if (this.#busy) {
      this.#queueBytes += waitingFrameBytes(payload);
      if (this.#queueBytes > this.#c.o.maxBacklogBytes) {
        this.#dropQueue();
        const link = this.link;
        if (link) this.#c.fail(link, ACK_CLOSE_CODES.tryAgainLater, 'onMessage too slow');
        return;
      }
      this.#queue.push([seq, payload]);
      return;
    }
    this.#handle(seq, payload);
  }

  #handle(seq: number, payload: AckPayload): void {
    const r = this.record;
    const verdict = classifySeq(seq, r.lastIn);
    if (verdict === 'duplicate') {
      // A replay of something processed: the client missed our ack.
      this.#c.stats.duplicates++;
      this.#ackForced = true;
      this.#scheduleAck();
      return;
    }
    if (verdict === 'gap') {
      this.#c.stats.refused++;
      this.link?.ws.close(ACK_CLOSE_CODES.sequenceGap, `expected seq ${r.lastIn + 1}, got ${seq}`);
      return;
    }
    this.#c.stats.processed++;
    // In memory the mark is recorded in this same tick, so an effect run right after onMessage is committed
    // with it: both happen, or the process died and neither is remembered.
    const effects: Array<() => void> = [];
    let open = true;
    const message: AckMessage = {
      key: `${this.id}:${seq}`,
      seq,
      commit(effect: StoreEffect) {
        if (!open) throw new SocketchartError('ERR_INVALID_DATA', 'message.commit() only works while onMessage runs.');
        if (typeof effect !== 'function') {
          throw new SocketchartError('ERR_INVALID_DATA', 'This session store commits functions: message.commit(() => { ... }).');
        }
        effects.push(effect);
      },
    };
    // The mark (lastIn) and the effects, once onMessage is done; a handler that failed counts as processed,
    // without its effects.
    const record = (failure: { error: unknown } | null) => {
      open = false;
      r.lastIn = seq;
      if (failure) this.#c.report(failure.error, this);
      else runEffects(effects, message.key, (error) => this.#c.report(error, this));
      this.#scheduleAck();
    };
    let result: unknown;
    r.lastIn = seq;
    try {
      result = this.#c.onMessage(this, payload, message);
    } catch (error) {
      record({ error });
      return;
    }
    if (!isThenable(result)) {
      record(null);
      return;
    }
    // Async: the message is not processed until its promise settles, and the next one waits. Ended meanwhile,
    // neither the mark nor the effects are recorded (the client replays it into its next session).
    r.lastIn = seq - 1;
    this.#busy = true;
    const settled = (failure: { error: unknown } | null) => {
      this.#busy = false;
      if (this.ended) {
        open = false;
        return;
      }
      record(failure);
      this.#drain();
    };
    Promise.resolve(result).then(
      () => settled(null),
      (error: unknown) => settled({ error }),
    );
  }

  /** Frames that waited for an async onMessage, in order, until the next async one. */
  #drain(): void {
    while (!this.#busy && !this.ended && this.#queue.length > 0) {
      const [seq, payload] = this.#queue.shift() as [number, AckPayload];
      this.#queueBytes -= waitingFrameBytes(payload);
      this.#handle(seq, payload);
    }
  }

  #dropQueue(): void {
    this.#queue = [];
    this.#queueBytes = 0;
  }

  /** Whether `hello` may resume this session: it cannot acknowledge more than was ever exchanged. */
  resumable(hello: { ack: number; next: number }): string | null {
    if (hello.ack > this.record.nextOut - 1) return `hello.ack ${hello.ack} beyond the last seq sent (${this.record.nextOut - 1})`;
    if (hello.next - 1 > this.record.lastIn) return `hello.next ${hello.next} beyond the last seq acknowledged + 1 (${this.record.lastIn + 1})`;
    return null;
  }

  acked(link: Link, ack: number): void {
    if (ack > this.record.nextOut - 1) {
      this.#c.fail(link, ACK_CLOSE_CODES.protocolError, `ack ${ack} beyond the last seq sent (${this.record.nextOut - 1})`);
      return;
    }
    this.#trim(ack);
  }

  dispose(): void {
    this.#clearAck();
    this.#clearExpiry();
  }

  #trim(ack: number): void {
    const unacked = this.record.unacked;
    let n = 0;
    while (n < unacked.length && (unacked[n] as { seq: number }).seq <= ack) {
      this.#bytes -= bytesOfPayload((unacked[n] as { payload: string | Uint8Array }).payload);
      n++;
    }
    if (n > 0) unacked.splice(0, n);
  }

  /**
   * Writes the held messages this socket has not had yet, in order, while its buffer is under `maxSocketBuffer`;
   * past it, the next write that flushes resumes (its send callback).
   */
  #pump(): void {
    const ws = this.link?.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const unacked = this.record.unacked;
    const first = unacked[0];
    if (first === undefined) {
      this.#nextToWrite = this.record.nextOut;
      return;
    }
    if (this.#nextToWrite < first.seq) this.#nextToWrite = first.seq;
    for (let i = this.#nextToWrite - first.seq; i < unacked.length; i++) {
      if (ws.bufferedAmount >= this.#c.o.maxSocketBuffer) {
        this.#blocked = true;
        return;
      }
      const m = unacked[i] as { seq: number; payload: string | Uint8Array };
      if (typeof m.payload === 'string') ws.send(`${m.seq}:${m.payload}`, this.#flushed);
      else {
        const frame = Buffer.allocUnsafe(BINARY_HEADER_BYTES + m.payload.byteLength);
        writeSeq(frame, m.seq);
        frame.set(m.payload, BINARY_HEADER_BYTES);
        ws.send(frame, this.#flushed);
      }
      this.#nextToWrite = m.seq + 1;
    }
  }

  #scheduleAck(): void {
    if (this.record.lastIn - this.#ackedIn >= this.#c.o.ackEvery) this.#sendAck();
    else if (this.#ackTimer === null) this.#ackTimer = this.#c.clock.setTimeout(() => this.#sendAck(), this.#c.o.ackDelay);
  }

  #sendAck(): void {
    this.#clearAck();
    const link = this.link;
    if (link === null) return;
    if (this.#persisting) {
      // An async store is still writing: try again shortly.
      this.#ackTimer = this.#c.clock.setTimeout(() => this.#sendAck(), this.#c.o.ackDelay);
      return;
    }
    const lastIn = this.record.lastIn;
    if (lastIn === this.#ackedIn && !this.#ackForced) return;
    // Acknowledge only what the store recorded as processed.
    this.#persist(() => {
      if (this.link !== link || link.ws.readyState !== WebSocket.OPEN) return;
      link.ws.send(ackFrame(lastIn));
      this.#ackedIn = lastIn;
      this.#ackForced = false;
      if (this.record.lastIn > lastIn) this.#scheduleAck();
    });
  }

  #persist(then: () => void): void {
    this.#persisting = true;
    thenOrNow(
      () => this.#c.store.set(this.record),
      (ok) => {
        this.#persisting = false;
        if (ok === false) {
          // A newer socket resumed this session on another node: this copy is stale.
          const link = this.link;
          this.link = null;
          this.dispose();
          if (this.#c.sessions.get(this.id) === this) this.#c.sessions.delete(this.id);
          if (link) {
            link.session = null;
            this.#c.stats.refused++;
            link.ws.close(ACK_CLOSE_CODES.sessionTakenOver, 'session resumed on another node');
          }
          return;
        }
        then();
      },
      (error) => {
        this.#persisting = false;
        this.#c.storeFailure(error, this);
        this.link?.ws.close(ACK_CLOSE_CODES.serverError, 'session store failed');
      },
    );
  }

  #expire(): void {
    this.#expiryTimer = null;
    if (this.link !== null || this.ended) return;
    // With a shared store the client may have resumed on another node: then that node owns the session, and
    // this copy is only stale (nothing to report, nothing to delete).
    thenOrNow(
      () => this.#c.store.get(this.id),
      (stored) => {
        if (this.link !== null || this.ended) return;
        if (stored !== undefined && stored !== this.record && stored.epoch > this.record.epoch) {
          this.ended = true;
          this.dispose();
          if (this.#c.sessions.get(this.id) === this) this.#c.sessions.delete(this.id);
          return;
        }
        this.#expireNow();
      },
      (error) => {
        this.#c.storeFailure(error, this);
        this.#expireNow();
      },
    );
  }

  #expireNow(): void {
    const undelivered = this.#forget();
    this.#c.stats.expired++;
    if (this.#c.onExpire) {
      try {
        this.#c.onExpire(this, undelivered);
      } catch (error) {
        this.#c.report(error, this);
      }
    }
  }

  /** Ends the session's state: removed here and from the store; gives back what was never acknowledged. */
  #forget(): AckPayload[] {
    this.ended = true;
    this.#dropQueue();
    this.dispose();
    if (this.#c.sessions.get(this.id) === this) this.#c.sessions.delete(this.id);
    thenOrNow(() => this.#c.store.delete(this.id, this.record.epoch), () => undefined, (error) => this.#c.storeFailure(error, this));
    const undelivered = this.record.unacked.map((m) => toPayload(m.payload));
    this.record.unacked = [];
    this.#bytes = 0;
    return undelivered;
  }

  #clearAck(): void {
    if (this.#ackTimer !== null) this.#c.clock.clearTimeout(this.#ackTimer);
    this.#ackTimer = null;
  }

  #clearExpiry(): void {
    if (this.#expiryTimer !== null) this.#c.clock.clearTimeout(this.#expiryTimer);
    this.#expiryTimer = null;
  }
}

