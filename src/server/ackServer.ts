import type { IncomingMessage } from 'node:http';
import { type RawData, WebSocket, type WebSocketServer } from 'ws';
import { SocketchartError, invalidOption } from '../errors.js';
import {
  ACK_CLOSE_CODES,
  ACK_PROTOCOL,
  BINARY_HEADER_BYTES,
  MAX_SEQ,
  ackFrame,
  isDataShaped,
  parseControl,
  parseTextSeq,
  readSeq,
  welcomeFrame,
  writeSeq,
} from '../delivery/protocol.js';
import { randomBytes } from 'node:crypto';
import {
  type AckMessage,
  type AckPayload,
  type AckSendData,
  type AckSession,
  type Link,
  type LinkedSession,
  SharedSession,
  type SharedContext,
  type UndeliveredReason,
  bytesOfPayload,
  storedPayload,
  toPayload,
  validateEnd,
} from './session.js';
import {
  type SessionRecord,
  type SessionStore,
  type SharedSessionStore,
  type StoreEffect,
  type StoreNotice,
  createMemorySessionStore,
  isSharedStore,
} from './store.js';

export type { AckMessage, AckPayload, AckSendData, AckSession, UndeliveredReason } from './session.js';

export interface AckServerOptions {
  /**
   * Each client message, once (a replayed duplicate is acknowledged and skipped), in order. `message.key` is its
   * idempotency key; `message.commit(effect)` records an effect together with the processed mark.
   */
  onMessage(session: AckSession, payload: AckPayload, message: AckMessage): void;
  /** A socket attached to a session: new (`resumed: false`) or resumed. Messages sent here follow the replay. */
  onSession?(session: AckSession, info: { resumed: boolean; request: IncomingMessage }): void;
  /** A session expired (no socket for `sessionTtl` ms) with these messages never acknowledged: report them. */
  onExpire?(session: AckSession, undelivered: AckPayload[]): void;
  /**
   * Messages `send()` accepted that a shared store then refused (`'taken-over'`: another node owns the session now;
   * `'full'`; `'store-failed'`). Never called with the memory store, whose `send()` answers at once.
   * @default reported to `onError` as an `ERR_QUEUE_FULL` / `ERR_CONNECTION_CLOSED` SocketchartError
   */
  onUndelivered?(session: AckSession, undelivered: AckPayload[], reason: UndeliveredReason): void;
  /** A frame outside the protocol (auth messages, app-level pings): not sequenced, not acknowledged. */
  onUnsequenced?(socket: WebSocket, payload: AckPayload, session: AckSession | null): void;
  /**
   * A socket that did not negotiate `socketchart.ack.v1`. If it throws, the error goes to `onError` and the socket
   * is closed with 1011.
   * @default it is closed with 1002
   */
  onPlainConnection?(socket: WebSocket, request: IncomingMessage): void;
  /**
   * `onMessage` (or another hook) threw, or the store failed. Also told (when given) why `sessionKey()` refused a
   * socket; that refusal is never rethrown.
   * @default rethrown from a microtask, as an EventEmitter listener would
   */
  onError?(error: unknown, session: AckSession | null): void;
  /**
   * Maps the client's session id to the store key, e.g. prefixing the authenticated user so one user can never
   * resume another's session. Throwing refuses the socket (1008); the error goes to `onError` if given, and is
   * otherwise dropped (a refusal is not a crash).
   * @default the session id as is
   */
  sessionKey?(sessionId: string, request: IncomingMessage): string;
  /**
   * Where sessions live: `createMemorySessionStore()` (this process), a `SessionStore` of your own, or a
   * `SharedSessionStore` such as `redisSessionStore({ client })` from `socketchart/server/redis` (several nodes).
   * @default createMemorySessionStore()
   */
  store?: SessionStore | SharedSessionStore;
  /**
   * Ms a session is kept with no socket attached; then it expires (`onExpire`). `Infinity` keeps it forever.
   * @default 120000
   */
  sessionTtl?: number;
  /** @default 10000 */
  maxUnacked?: number;
  /** @default 8388608 (8 MiB) */
  maxUnackedBytes?: number;
  /** New sessions beyond this are refused with 1013 (try again later). @default 100000 */
  maxSessions?: number;
  /** Acknowledge after this many client messages... @default 32 */
  ackEvery?: number;
  /** ...or this many ms after the first unacknowledged one. @default 20 */
  ackDelay?: number;
  /** Answer `{"type":"ping"}` text frames with `{"type":"pong"}` (socketchart's `heartbeat: { mode: 'message' }`). @default true */
  answerPings?: boolean;
  /**
   * Data messages are written to a socket only while its `bufferedAmount` is below this many bytes; the rest wait
   * (held, as unacknowledged messages are) and go out as the socket drains. This bounds what one socket that does
   * not read can pin in memory, including a replay on resume.
   * @default 1048576 (1 MiB)
   */
  maxSocketBuffer?: number;
  /**
   * Ms a socket may stay open without a session: from the upgrade until its `hello` was answered (the store
   * included). Then it is closed with 1013.
   * @default 10000
   */
  helloTimeout?: number;
  /** Sockets open without a session yet (no `hello` answered). One more is closed at once with 1013. @default 10000 */
  maxPreHelloSockets?: number;
  /**
   * Bytes of frames one socket may send while its session loads from an async store; past it the socket is closed
   * with 1013.
   * @default 1048576 (1 MiB)
   */
  maxBacklogBytes?: number;
  /** Timers and time (tests pass xstate's `SimulatedClock`). @default the real clock, timers unref'd */
  clock?: { now(): number; setTimeout(fn: () => void, ms: number): unknown; clearTimeout(id: unknown): void };
}

/** Counters since `attachAckServer`, for metrics and tests. */
export interface AckServerStats {
  /** Sessions created (a hello with an unknown session id). */
  created: number;
  /** Sockets that resumed an existing session. */
  resumed: number;
  /** Sessions that expired with no socket attached. */
  expired: number;
  /** Client messages processed (each once). */
  processed: number;
  /** Client messages received again after they were processed, and skipped. */
  duplicates: number;
  /** Server messages written again on resume. */
  replayed: number;
  /** Sockets closed for a protocol error, a sequence gap, a takeover or a bound. */
  refused: number;
}

export interface AckServer {
  /** Sessions this process holds (attached, or detached and not yet expired). */
  readonly sessions: ReadonlyMap<string, AckSession>;
  /** This node's id (the channel a shared store sends its notices to). */
  readonly node: string;
  /**
   * Send to a session wherever its client is: on this node, on another node (through a shared store), or nowhere
   * now (kept for replay). Resolves true once the store holds the message, false when it was refused (no such
   * session, or it does not fit `maxUnacked` / `maxUnackedBytes`); rejects when the store failed (the message may
   * or may not have been stored).
   */
  sendTo(sessionId: string, data: AckSendData): Promise<boolean>;
  readonly stats: Readonly<AckServerStats>;
  /** Stop speaking the protocol on `wss`: listeners removed, timers cleared. Does not close `wss` or its sockets. */
  close(): void;
}

export const ACK_SERVER_DEFAULTS = Object.freeze({
  sessionTtl: 120_000,
  maxUnacked: 10_000,
  maxUnackedBytes: 8_388_608,
  maxSessions: 100_000,
  ackEvery: 32,
  ackDelay: 20,
  maxSocketBuffer: 1_048_576,
  helloTimeout: 10_000,
  maxPreHelloSockets: 10_000,
  maxBacklogBytes: 1_048_576,
});

/**
 * Pong answers written but not yet flushed to the kernel on one socket: a client that sends pings and never reads
 * is closed with 1008 at this many.
 */
export const MAX_UNFLUSHED_PONGS = 64;

type Clock = NonNullable<AckServerOptions['clock']>;

/** The longest delay setTimeout honours (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Runs `call` (a store method: sync, async, or throwing synchronously) and continues with its result. */
function thenOrNow<T>(call: () => T | Promise<T>, next: (value: T) => void, fail: (error: unknown) => void): void {
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
 * Speaks `socketchart.ack.v1` (PROTOCOL.md) on a `ws` `WebSocketServer`: sessions that survive reconnects, in-order
 * exactly-once processing of client messages (dedupe by sequence), replay of unacknowledged server messages on
 * resume, batched acknowledgements, and session expiry.
 *
 * ```ts
 * const wss = new WebSocketServer({ port: 8080 });
 * attachAckServer(wss, { onMessage: (session, payload) => session.send(`echo:${payload}`) });
 * ```
 */
export function attachAckServer(wss: WebSocketServer, options: AckServerOptions): AckServer {
  if (typeof wss !== 'object' || wss === null || typeof (wss as { on?: unknown }).on !== 'function' || typeof wss.options !== 'object') {
    throw invalidOption('wss', 'a ws WebSocketServer', wss);
  }
  const o = resolveServerOptions(options);
  const sharedStore = isSharedStore(o.store) ? o.store : null;
  // The record-at-a-time path below serves SessionStore; a SharedSessionStore gets SharedSession (session.ts).
  const store = o.store as SessionStore;
  const node = `${process.pid.toString(36)}-${randomBytes(6).toString('base64url')}`;
  const shared = new Map<string, SharedSession>();
  const clock = o.clock;
  const sessions = new Map<string, Session>();
  const loading = new Map<string, Promise<Session | undefined>>();
  let closed = false;
  const stats: AckServerStats = { created: 0, resumed: 0, expired: 0, processed: 0, duplicates: 0, replayed: 0, refused: 0 };

  /** Sockets open and not yet attached to a session (bounded by `maxPreHelloSockets`). */
  let preHello = 0;

  const rethrow = (error: unknown) =>
    queueMicrotask(() => {
      throw error;
    });
  const report = (error: unknown, session: AckSession | null) => {
    if (!options.onError) {
      rethrow(error);
      return;
    }
    try {
      options.onError(error, session);
    } catch (thrown) {
      rethrow(thrown);
    }
  };

  /**
   * Closes a socket the server refuses. A socket that does not drain what it was sent (over `maxSocketBuffer`), or
   * one that must let go of its buffers at once (`now`), is terminated right after the close frame is queued: a
   * polite close would hold its buffers for ws's 30 s close timeout.
   */
  const shut = (ws: WebSocket, code: number, reason: string, now = false) => {
    if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
    if (now || ws.bufferedAmount >= o.maxSocketBuffer) ws.terminate();
  };

  const leavePreHello = (link: Link) => {
    if (!link.preHello) return;
    link.preHello = false;
    preHello--;
    if (link.helloTimer !== null) clock.clearTimeout(link.helloTimer);
    link.helloTimer = null;
  };

  class Session implements LinkedSession {
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

    constructor(record: SessionRecord) {
      this.record = record;
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
      if (this.ended || r.unacked.length >= o.maxUnacked || this.#bytes + bytes > o.maxUnackedBytes || r.nextOut > MAX_SEQ) {
        return false;
      }
      const seq = r.nextOut++;
      r.unacked.push({ seq, payload: stored });
      this.#bytes += bytes;
      if (!this.#blocked) this.#pump();
      return true;
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
        stats.refused++;
        // Terminated, not closed politely: a displaced socket is usually one that stopped reading, and a polite
        // close would keep its replay buffered for ws's 30 s close timeout (one full replay per resume).
        shut(previous.ws, ACK_CLOSE_CODES.sessionTakenOver, 'session resumed on another socket', true);
      }
      this.#clearExpiry();
      this.#clearAck();
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
      if (resumed) stats.resumed++;
      else stats.created++;
      stats.replayed += r.unacked.length;
      this.#nextToWrite = oldest;
      this.#blocked = false;
      this.#pump();
      this.#persist(() => undefined);
      if (options.onSession) {
        try {
          options.onSession(this, { resumed, request: link.request });
        } catch (error) {
          report(error, this);
        }
      }
    }

    detach(link: Link): void {
      if (this.link !== link) return;
      this.link = null;
      this.#clearAck();
      if (this.ended) return;
      const ttl = o.sessionTtl;
      this.record.expiresAt = ttl === Infinity ? Infinity : clock.now() + ttl;
      this.#persist(() => undefined);
      if (ttl !== Infinity) this.#expiryTimer = clock.setTimeout(() => this.#expire(), ttl);
    }

    data(seq: number, payload: AckPayload): void {
      const r = this.record;
      if (seq <= r.lastIn) {
        // A replay of something processed: the client missed our ack.
        stats.duplicates++;
        this.#ackForced = true;
        this.#scheduleAck();
        return;
      }
      if (seq !== r.lastIn + 1) {
        stats.refused++;
        this.link?.ws.close(ACK_CLOSE_CODES.sequenceGap, `expected seq ${r.lastIn + 1}, got ${seq}`);
        return;
      }
      r.lastIn = seq;
      stats.processed++;
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
      try {
        options.onMessage(this, payload, message);
        open = false;
        for (const effect of effects) effect();
      } catch (error) {
        report(error, this);
      }
      open = false;
      this.#scheduleAck();
    }

    /** Whether `hello` may resume this session: it cannot acknowledge more than was ever exchanged. */
    resumable(hello: { ack: number; next: number }): string | null {
      if (hello.ack > this.record.nextOut - 1) return `hello.ack ${hello.ack} beyond the last seq sent (${this.record.nextOut - 1})`;
      if (hello.next - 1 > this.record.lastIn) return `hello.next ${hello.next} beyond the last seq acknowledged + 1 (${this.record.lastIn + 1})`;
      return null;
    }

    acked(link: Link, ack: number): void {
      if (ack > this.record.nextOut - 1) {
        fail(link, ACK_CLOSE_CODES.protocolError, `ack ${ack} beyond the last seq sent (${this.record.nextOut - 1})`);
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
        if (ws.bufferedAmount >= o.maxSocketBuffer) {
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
      if (this.record.lastIn - this.#ackedIn >= o.ackEvery) this.#sendAck();
      else if (this.#ackTimer === null) this.#ackTimer = clock.setTimeout(() => this.#sendAck(), o.ackDelay);
    }

    #sendAck(): void {
      this.#clearAck();
      const link = this.link;
      if (link === null) return;
      if (this.#persisting) {
        // An async store is still writing: try again shortly.
        this.#ackTimer = clock.setTimeout(() => this.#sendAck(), o.ackDelay);
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
        () => store.set(this.record),
        (ok) => {
          this.#persisting = false;
          if (ok === false) {
            // A newer socket resumed this session on another node: this copy is stale.
            const link = this.link;
            this.link = null;
            this.dispose();
            if (sessions.get(this.id) === this) sessions.delete(this.id);
            if (link) {
              link.session = null;
              stats.refused++;
              link.ws.close(ACK_CLOSE_CODES.sessionTakenOver, 'session resumed on another node');
            }
            return;
          }
          then();
        },
        (error) => {
          this.#persisting = false;
          report(error, this);
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
        () => store.get(this.id),
        (stored) => {
          if (this.link !== null || this.ended) return;
          if (stored !== undefined && stored !== this.record && stored.epoch > this.record.epoch) {
            this.ended = true;
            this.dispose();
            if (sessions.get(this.id) === this) sessions.delete(this.id);
            return;
          }
          this.#expireNow();
        },
        (error) => {
          report(error, this);
          this.#expireNow();
        },
      );
    }

    #expireNow(): void {
      const undelivered = this.#forget();
      stats.expired++;
      if (options.onExpire) {
        try {
          options.onExpire(this, undelivered);
        } catch (error) {
          report(error, this);
        }
      }
    }

    /** Ends the session's state: removed here and from the store; gives back what was never acknowledged. */
    #forget(): AckPayload[] {
      this.ended = true;
      this.dispose();
      if (sessions.get(this.id) === this) sessions.delete(this.id);
      thenOrNow(() => store.delete(this.id, this.record.epoch), () => undefined, (error) => report(error, this));
      const undelivered = this.record.unacked.map((m) => toPayload(m.payload));
      this.record.unacked = [];
      this.#bytes = 0;
      return undelivered;
    }

    #clearAck(): void {
      if (this.#ackTimer !== null) clock.clearTimeout(this.#ackTimer);
      this.#ackTimer = null;
    }

    #clearExpiry(): void {
      if (this.#expiryTimer !== null) clock.clearTimeout(this.#expiryTimer);
      this.#expiryTimer = null;
    }
  }

  const fail = (link: Link, code: number, reason: string, now = false) => {
    link.backlog = null;
    if (link.ws.readyState !== WebSocket.OPEN) return;
    stats.refused++;
    shut(link.ws, code, reason, now);
  };

  function hello(link: Link, frame: { sid: string; ack: number; next: number }): void {
    let key: string;
    try {
      key = options.sessionKey ? options.sessionKey(frame.sid, link.request) : frame.sid;
      if (typeof key !== 'string' || key === '') throw new TypeError('sessionKey() must return a non-empty string');
    } catch (error) {
      // The documented way to refuse a socket: told to onError when there is one, never rethrown.
      if (options.onError) report(error, null);
      fail(link, ACK_CLOSE_CODES.policyViolation, 'session refused');
      return;
    }
    if (sharedStore) {
      sharedHello(link, key, frame, sharedStore);
      return;
    }
    const proceed = (found: Session | undefined) => {
      if (link.closed || closed || link.ws.readyState !== WebSocket.OPEN) return;
      // The session this process holds wins over a copy loaded meanwhile; an ended one is gone.
      let session: Session | undefined = sessions.get(key) ?? found;
      if (session?.ended) session = undefined;
      const resumed = session !== undefined;
      if (session !== undefined) {
        const refused = session.resumable(frame);
        if (refused !== null) {
          fail(link, ACK_CLOSE_CODES.protocolError, refused);
          return;
        }
      } else {
        if (sessions.size >= o.maxSessions) {
          fail(link, ACK_CLOSE_CODES.tryAgainLater, 'too many sessions');
          return;
        }
        session = new Session({ id: key, epoch: 0, lastIn: 0, nextOut: 1, unacked: [], expiresAt: null });
      }
      sessions.set(key, session);
      leavePreHello(link);
      session.attach(link, frame, resumed);
      const backlog = link.backlog;
      link.backlog = null;
      if (backlog === null) return;
      for (const [data, isBinary] of backlog) {
        if (link.closed || link.session === null) break;
        onFrame(link, data, isBinary);
      }
    };
    const storeFailed = (error: unknown) => {
      report(error, null);
      fail(link, ACK_CLOSE_CODES.serverError, 'session store failed');
    };
    if (sessions.has(key)) {
      proceed(undefined);
      return;
    }
    let load = loading.get(key);
    if (load === undefined) {
      let result: ReturnType<SessionStore['get']>;
      try {
        result = store.get(key);
      } catch (error) {
        storeFailed(error);
        return;
      }
      if (!isThenable(result)) {
        // A synchronous store (the default) answers at once: no backlog, nothing in between.
        proceed(result ? new Session(result) : undefined);
        return;
      }
      load = Promise.resolve(result).then((record) => (record ? new Session(record) : undefined));
      loading.set(key, load);
      const done = () => {
        if (loading.get(key) === load) loading.delete(key);
      };
      load.then(done, done);
    }
    link.backlog = [];
    link.backlogBytes = 0;
    load.then(proceed, storeFailed);
  }

  const sharedContext: SharedContext = {
    store: sharedStore as SharedSessionStore,
    clock,
    limits: o,
    stats,
    onMessage: (session, payload, message) => options.onMessage(session, payload, message),
    onSession(session, info) {
      if (!options.onSession) return;
      try {
        options.onSession(session, info);
      } catch (error) {
        report(error, session);
      }
    },
    onExpire(session, undelivered) {
      if (!options.onExpire) return;
      try {
        options.onExpire(session, undelivered);
      } catch (error) {
        report(error, session);
      }
    },
    undelivered(session, payloads, reason) {
      if (options.onUndelivered) {
        try {
          options.onUndelivered(session, payloads, reason);
        } catch (error) {
          report(error, session);
        }
        return;
      }
      report(
        new SocketchartError(
          reason === 'full' ? 'ERR_QUEUE_FULL' : 'ERR_CONNECTION_CLOSED',
          `${payloads.length} message(s) accepted by session.send() were not delivered (${reason}); pass onUndelivered to handle them.`,
        ),
        session,
      );
    },
    report,
    fail,
    forget(session) {
      if (shared.get(session.id) === session) shared.delete(session.id);
    },
  };

  /**
   * `hello` with a shared store: one atomic claim in the store (never a local copy, which may be stale), then the
   * session attaches with the state the store gave. Frames wait in the backlog meanwhile.
   */
  function sharedHello(link: Link, key: string, frame: { sid: string; ack: number; next: number }, sharedStore: SharedSessionStore): void {
    if (!sharedStore.available()) {
      fail(link, ACK_CLOSE_CODES.serverError, 'session store unavailable');
      return;
    }
    const existing = shared.get(key);
    if (existing === undefined && shared.size >= o.maxSessions) {
      fail(link, ACK_CLOSE_CODES.tryAgainLater, 'too many sessions');
      return;
    }
    if (existing) existing.claiming++;
    link.backlog = [];
    link.backlogBytes = 0;
    sharedStore.claim(key, node, frame, o.sessionTtl).then(
      (result) => {
        if (existing && existing.claiming > 0) existing.claiming--;
        if ('refused' in result) {
          fail(link, ACK_CLOSE_CODES.protocolError, result.refused);
          return;
        }
        if (link.closed || closed || link.ws.readyState !== WebSocket.OPEN) {
          // Claimed for a socket that is gone: let the session expire as if it had detached at once.
          sharedStore.release(key, result.epoch, o.sessionTtl).catch((error: unknown) => report(error, null));
          return;
        }
        let session = shared.get(key);
        if (session === undefined || session.state === 'lost' || session.state === 'expired') {
          session = new SharedSession(key, sharedContext);
          shared.set(key, session);
        }
        leavePreHello(link);
        session.attach(link, result, frame.sid);
        const backlog = link.backlog;
        link.backlog = null;
        if (backlog === null) return;
        for (const [data, isBinary] of backlog) {
          if (link.closed || link.session === null) break;
          onFrame(link, data, isBinary);
        }
      },
      (error: unknown) => {
        if (existing && existing.claiming > 0) existing.claiming--;
        report(error, null);
        fail(link, ACK_CLOSE_CODES.serverError, 'session store failed');
      },
    );
  }

  const onNotice = (notice: StoreNotice) => {
    const session = shared.get(notice.id);
    if (session === undefined) return;
    if (notice.type === 'lost') {
      if (notice.epoch > session.epoch && session.claiming === 0) session.lose();
    } else session.noticeOut(notice.seq);
  };
  let stopListening: Promise<(() => Promise<void>) | null> = Promise.resolve(null);
  // An attached session's keys carry a lease (sessionTtl + the store's grace) that this node renews, so the
  // sessions of a node that died expire like detached ones.
  let leaseTimer: unknown = null;
  const renewLeases = () => {
    leaseTimer = clock.setTimeout(renewLeases, Math.max(1000, Math.floor(o.sessionTtl / 3)));
    if (!sharedStore?.available()) return;
    for (const session of shared.values()) {
      if (session.state !== 'attached') continue;
      const epoch = session.epoch;
      sharedStore.touch(session.id, epoch, o.sessionTtl).then(
        (result) => {
          if (result === 'stale') session.staleAt(epoch);
        },
        (error: unknown) => report(error, session),
      );
    }
  };
  if (sharedStore && o.sessionTtl !== Infinity) leaseTimer = clock.setTimeout(renewLeases, Math.max(1000, Math.floor(o.sessionTtl / 3)));
  if (sharedStore) {
    stopListening = sharedStore.listen(node, onNotice, (error) => report(error, null)).catch((error: unknown) => {
      report(error, null);
      return null;
    });
  }

  const sendTo = async (sessionId: string, data: AckSendData): Promise<boolean> => {
    const stored = storedPayload(data);
    if (!sharedStore) return sessions.get(sessionId)?.send(stored) ?? false;
    const local = shared.get(sessionId);
    if (local && local.state === 'attached') {
      const result = await local.append(stored);
      if (result === true) return true;
      if (result !== 'taken-over') return false;
      // It moved to another node meanwhile: store it for wherever it is now.
    }
    const seq = await sharedStore.append(sessionId, null, stored, o);
    return typeof seq === 'number' && seq > 0;
  };

  const rawBytes = (data: RawData): number =>
    Array.isArray(data) ? data.reduce((n, b) => n + b.byteLength, 0) : (data as Buffer | ArrayBuffer).byteLength;

  function onFrame(link: Link, data: RawData, isBinary: boolean): void {
    if (link.backlog !== null) {
      link.backlogBytes += rawBytes(data);
      if (link.backlogBytes > o.maxBacklogBytes) {
        fail(link, ACK_CLOSE_CODES.tryAgainLater, 'session store too slow');
        return;
      }
      link.backlog.push([data, isBinary]);
      return;
    }
    const session = link.session;
    if (!isBinary) {
      const text = Buffer.isBuffer(data) ? data.toString() : toBuffer(data).toString();
      if (isDataShaped(text)) {
        const seq = parseTextSeq(text);
        if (seq === null) fail(link, ACK_CLOSE_CODES.protocolError, 'malformed sequence number');
        else if (session === null) fail(link, ACK_CLOSE_CODES.protocolError, 'data before hello');
        else session.data(seq.seq, text.slice(seq.start));
        return;
      }
      const control = parseControl(text);
      if (control === 'invalid') {
        fail(link, ACK_CLOSE_CODES.protocolError, 'malformed control frame');
        return;
      }
      if (control === null) {
        if (o.answerPings && text === '{"type":"ping"}') {
          if (link.unflushedPongs >= MAX_UNFLUSHED_PONGS) {
            fail(link, ACK_CLOSE_CODES.policyViolation, 'pongs not read', true);
            return;
          }
          link.unflushedPongs++;
          link.ws.send('{"type":"pong"}', () => link.unflushedPongs--);
        }
        if (options.onUnsequenced) {
          try {
            options.onUnsequenced(link.ws, text, session);
          } catch (error) {
            report(error, session);
          }
        }
        return;
      }
      if (control.type === 'hello') {
        if (session !== null) fail(link, ACK_CLOSE_CODES.protocolError, 'second hello');
        else hello(link, control);
      } else if (control.type === 'ack') {
        if (session === null) fail(link, ACK_CLOSE_CODES.protocolError, 'ack before hello');
        else session.acked(link, control.ack);
      } else fail(link, ACK_CLOSE_CODES.protocolError, 'welcome from a client');
      return;
    }
    const bytes = toBuffer(data);
    if (session === null) {
      fail(link, ACK_CLOSE_CODES.protocolError, 'data before hello');
      return;
    }
    const seq = readSeq(bytes);
    if (seq < 0) {
      fail(link, ACK_CLOSE_CODES.protocolError, 'malformed binary frame');
      return;
    }
    session.data(seq, bytes.subarray(BINARY_HEADER_BYTES));
  }

  const originalHandleProtocols = wss.options.handleProtocols;
  const handleProtocols = (protocols: Set<string>, request: IncomingMessage): string | false => {
    if (protocols.has(ACK_PROTOCOL)) return ACK_PROTOCOL;
    if (originalHandleProtocols) return originalHandleProtocols(protocols, request);
    return protocols.values().next().value ?? false;
  };
  wss.options.handleProtocols = handleProtocols;

  const onConnection = (ws: WebSocket, request: IncomingMessage) => {
    if (ws.protocol !== ACK_PROTOCOL) {
      if (!options.onPlainConnection) {
        ws.close(ACK_CLOSE_CODES.protocolError, `${ACK_PROTOCOL} required`);
        return;
      }
      try {
        options.onPlainConnection(ws, request);
      } catch (error) {
        report(error, null);
        shut(ws, ACK_CLOSE_CODES.serverError, 'onPlainConnection failed');
      }
      return;
    }
    ws.on('error', () => {}); // 'close' follows; the session lives on
    if (preHello >= o.maxPreHelloSockets) {
      stats.refused++;
      shut(ws, ACK_CLOSE_CODES.tryAgainLater, 'too many sockets waiting for hello', true);
      return;
    }
    const link: Link = {
      ws,
      request,
      session: null,
      backlog: null,
      backlogBytes: 0,
      closed: false,
      preHello: true,
      helloTimer: null,
      unflushedPongs: 0,
    };
    preHello++;
    link.helloTimer = clock.setTimeout(() => {
      link.helloTimer = null;
      if (!closed && link.session === null) fail(link, ACK_CLOSE_CODES.tryAgainLater, 'no hello in time', true);
    }, o.helloTimeout);
    ws.on('message', (data, isBinary) => {
      // Frames still arriving after this end began closing the socket (a protocol error, a takeover) are stale.
      if (!closed && !link.closed && ws.readyState === WebSocket.OPEN) onFrame(link, data, isBinary);
    });
    ws.on('close', () => {
      link.closed = true;
      link.backlog = null;
      leavePreHello(link);
      link.session?.detach(link);
      link.session = null;
    });
  };
  const dispose = () => {
    if (closed) return;
    closed = true;
    wss.off('connection', onConnection);
    wss.off('close', dispose);
    if (wss.options.handleProtocols === handleProtocols) wss.options.handleProtocols = originalHandleProtocols;
    for (const session of sessions.values()) session.dispose();
    for (const session of shared.values()) session.dispose();
    if (leaseTimer !== null) clock.clearTimeout(leaseTimer);
    void stopListening.then((stop) => stop?.()).catch((error: unknown) => report(error, null));
  };
  wss.on('connection', onConnection);
  wss.on('close', dispose);
  return { sessions: sharedStore ? shared : sessions, node, stats, sendTo, close: dispose };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function resolveServerOptions(options: AckServerOptions) {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', 'an object with onMessage', options);
  if (typeof options.onMessage !== 'function') throw invalidOption('onMessage', 'a function (session, payload) => void', options.onMessage);
  for (const name of ['onSession', 'onExpire', 'onUndelivered', 'onUnsequenced', 'onPlainConnection', 'onError', 'sessionKey'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw invalidOption(name, 'a function', options[name]);
  }
  const store = options.store ?? createMemorySessionStore();
  if (
    typeof store !== 'object' ||
    store === null ||
    (isSharedStore(store)
      ? (['available', 'claim', 'touch', 'fence', 'append', 'mark', 'trim', 'release', 'read', 'remove', 'listen'] as const).some((m) => typeof store[m] !== 'function')
      : (['get', 'set', 'delete'] as const).some((m) => typeof (store as SessionStore)[m] !== 'function'))
  ) {
    throw invalidOption('store', 'a SessionStore { get, set, delete } or a SharedSessionStore', store);
  }
  const clock = options.clock ?? realClock;
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function') {
    throw invalidOption('clock', 'an object with now(), setTimeout() and clearTimeout()', clock);
  }
  const d = ACK_SERVER_DEFAULTS;
  const number = (name: keyof typeof d, min: number, integer: boolean, allowInfinity: boolean, timer = false): number => {
    const value = options[name];
    if (value === undefined) return d[name];
    const ok =
      typeof value === 'number' &&
      value >= min &&
      ((integer ? Number.isInteger(value) : Number.isFinite(value)) || (allowInfinity && value === Infinity)) &&
      // Timers cannot wait longer (a longer setTimeout fires at once).
      (!timer || value === Infinity || value <= MAX_TIMER_MS);
    if (!ok) {
      const range = `${min}${timer ? ` and <= ${MAX_TIMER_MS}` : ''}`;
      throw invalidOption(name, `a ${integer ? 'whole ' : ''}number >= ${range}${allowInfinity ? ' (or Infinity)' : ''}`, value);
    }
    return value;
  };
  if (options.answerPings !== undefined && typeof options.answerPings !== 'boolean') throw invalidOption('answerPings', 'a boolean', options.answerPings);
  return {
    store,
    clock,
    sessionTtl: number('sessionTtl', 0, false, true, true),
    maxUnacked: number('maxUnacked', 1, true, true),
    maxUnackedBytes: number('maxUnackedBytes', 1, true, true),
    maxSessions: number('maxSessions', 1, true, true),
    ackEvery: number('ackEvery', 1, true, false),
    ackDelay: number('ackDelay', 0, false, false, true),
    maxSocketBuffer: number('maxSocketBuffer', 1, true, true),
    helloTimeout: number('helloTimeout', 1, false, false, true),
    maxPreHelloSockets: number('maxPreHelloSockets', 1, true, true),
    maxBacklogBytes: number('maxBacklogBytes', 0, true, true),
    answerPings: options.answerPings ?? true,
  };
}
