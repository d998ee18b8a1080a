/**
 * One WebSocket for every tab of an origin: the tab that holds the Web Lock (the leader) runs a real connection and
 * relays it over a `BroadcastChannel`; every other tab (a follower) shows the leader's chart and sends through it.
 * Who leads is the leader chart (leaderMachine.ts, `conn.actor`); the data plane (messages, sends, acks) bypasses
 * it, as the connection's own data plane bypasses the connection chart.
 *
 * Every tab builds its connection at once with `startClosed` (so bad options throw in every tab, as
 * `createConnection` throws them) and only the leader opens it.
 */
import { type Actor, createActor } from 'xstate';
import type { ClosedReason } from '../../machines/connection.js';
import type { Connection, MessageOf, MessageType, OpenedOptions, Subscription } from '../connection.js';
import { type SendData, byteLengthOf, utf8Length } from '../data.js';
import { SocketchartError, describe, invalidOption } from '../errors.js';
import {
  type ConnectionEventMap,
  DropEvent,
  GiveupEvent,
  DrainEvent,
  InvalidMessageEvent,
  type Listener,
  ListenerRegistry,
  type ListenerOptions,
  OpenEvent,
  ReconnectingEvent,
  SocketCloseEvent,
  SocketErrorEvent,
  SocketMessageEvent,
  type SocketchartEvent,
  StateChangeEvent,
} from '../events.js';
import type { RequestOptions } from '../messages/requests.js';
import type { ConnectionOptions, PerAttempt } from '../options.js';
import { type DropReason, type ResolvedQueue, resolveQueue } from '../policies/queue.js';
import { MAX_CLOSE_REASON_BYTES, isValidUserCloseCode } from '../policies/closeCodes.js';
import { pathMatches, type StateNameArgument } from '../statePath.js';
import type { BinaryType } from '../transports/types.js';
import { type LeaderMachine, leaderMachine } from './leaderMachine.js';
import { OriginLog } from './origins.js';
import {
  type LeaderSnapshot,
  SHARED_PROTOCOL_VERSION,
  type WireEvent,
  type WireMessage,
  fromWireClosedReason,
  fromWireError,
  readyStateOfPath,
  toWireClosedReason,
  toWireError,
} from './protocol.js';

type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'] | null;

export interface SharedConnectionOptions<In = unknown, Out = unknown> extends ConnectionOptions<In, Out> {
  /**
   * The name of the Web Lock and the BroadcastChannel: tabs that use the same name share one socket. Give every tab
   * the same URL and options; the leader's options are the ones in force (its codec decodes for everyone).
   * @default `socketchart:` followed by the URL (required when `url` is a function)
   */
  name?: string;
}

/** Whether this page can share: Web Locks (secure contexts only) and BroadcastChannel. */
export function canShare(): boolean {
  return (
    typeof BroadcastChannel === 'function' &&
    typeof navigator !== 'undefined' &&
    typeof (navigator as { locks?: { request?: unknown } }).locks?.request === 'function' &&
    (globalThis as { isSecureContext?: boolean }).isSecureContext !== false
  );
}

interface Backlogged {
  seq: number;
  message: unknown;
  data: SendData;
}

interface AskedRequest {
  message: unknown;
  timeout: number | undefined;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  dispose(): void;
}

type Create<In, Out> = (url: PerAttempt<string | URL>, options: ConnectionOptions<In, Out>) => Connection<In, Out>;

const now = (): number => Date.now();
/** The statechange event of a tab catching up with the leader's snapshot. */
const SYNC = 'SHARED.SYNC';

export class SharedConnection<In = unknown, Out = SendData> {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  onopen: Handler<ConnectionEventMap<In>['open']> = null;
  onmessage: Handler<ConnectionEventMap<In>['message']> = null;
  onclose: Handler<ConnectionEventMap<In>['close']> = null;
  onerror: Handler<ConnectionEventMap<In>['error']> = null;

  /** False when this page cannot share (no Web Locks, no BroadcastChannel, or not a secure context): it has its own socket. */
  readonly shared: boolean;
  /** The leader chart of this tab: `electing`, `member.following`, `member.handover`, `member.leading`, `solo`, `closed`. */
  readonly actor: Actor<LeaderMachine>;

  readonly #tab: string;
  readonly #channel: BroadcastChannel | null;
  /** This tab's own connection: open only while it leads. */
  readonly #conn: Connection<In, Out>;
  readonly #listeners = new ListenerRegistry();
  readonly #routes = new Map<unknown, Array<{ handler: (message: never) => void; once: boolean }>>();
  readonly #typeField: string;
  readonly #encode: (message: Out) => SendData;
  readonly #everyOpen = new Set<() => void>();

  #state: string;
  #snap: Omit<LeaderSnapshot, 'state'> = { url: '', protocol: '', extensions: '', closedBy: null };
  #leading = false;
  #leader: string | null = null;
  #epoch = 0;
  #ended = false;
  #closeArgs: [number | undefined, string | undefined] = [undefined, undefined];
  /** Set once this tab resigned: its connection's events are its own, no longer the shared session's. */
  #mirrorOnly = false;
  readonly #queue: ResolvedQueue;

  // Follower side: sends not yet acknowledged, requests not yet answered.
  #backlog: Backlogged[] = [];
  #seq = 0;
  #asked = new Map<number, AskedRequest>();
  #rid = 0;

  // Leader side.
  /** Follower sends that arrived while the socket was not open, in arrival order (their tabs still keep them). */
  #held: Array<{ from: string; seq: number; message: unknown }> = [];
  /** Per follower tab, the highest seq received. */
  #received = new Map<string, number>();
  readonly #origins = new OriginLog();
  #relayed = new Map<string, AbortController>();

  /** @internal use `createSharedConnection` */
  constructor(url: PerAttempt<string | URL>, options: SharedConnectionOptions<In, Out>, create: Create<In, Out>) {
    if (typeof options !== 'object' || options === null) throw invalidOption('options', 'an object', options);
    const { name, ...connectionOptions } = options;
    if (name !== undefined && (typeof name !== 'string' || name === '')) throw invalidOption('name', 'a non-empty string', name);
    if (name === undefined && typeof url === 'function') {
      throw invalidOption('name', 'set when the URL is a function (tabs share by name; a function has none)', name);
    }
    const lockName = name ?? `socketchart:${String(url)}`;
    this.#conn = create(url, { ...connectionOptions, startClosed: true });
    // The field `on()` routes by: the router plug-in's, or (before plug-ins) the `typeField` option.
    const routing = options as { router?: { typeField?: string } | null; typeField?: string };
    this.#typeField = routing.router?.typeField ?? routing.typeField ?? 'type';
    this.#queue = resolveQueue(options.queue);
    const codec = options.codec;
    this.#encode = codec ? (m) => codec.encode(m) : (m) => m as unknown as SendData;
    this.#state = options.startClosed ? 'idle' : 'connecting.opening';
    this.#watch(this.#conn);

    this.shared = canShare();
    this.#tab = typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : `${now()}-${Math.random()}`;
    this.#channel = this.shared ? new BroadcastChannel(`${lockName}#v${SHARED_PROTOCOL_VERSION}`) : null;
    if (this.#channel) this.#channel.onmessage = (e: MessageEvent<WireMessage>) => this.#receive(e.data);

    this.actor = createActor(leaderMachine, {
      input: { name: lockName, tab: this.#tab, shareable: this.shared },
      ...(options.inspect ? { inspect: options.inspect as never } : {}),
    });
    this.actor.on('lead', (e) => this.#lead(e.epoch));
    this.actor.on('resign', () => this.#resign());
    this.actor.on('follow', (e) => this.#follow(e.leader, e.epoch));
    this.actor.on('lost', () => this.#showLost());
    this.actor.start();
    if (this.#channel) {
      this.#post({ t: 'hello', from: this.#tab });
      // A leader whose page goes away says so, so followers show the handover at once instead of at the next leader.
      if (typeof addEventListener === 'function') {
        addEventListener('pagehide', (e) => {
          if (!(e as PageTransitionEvent).persisted && this.#leading) this.#post({ t: 'bye', from: this.#tab, epoch: this.#epoch });
        });
      }
    }
  }

  /** `'leader'` while this tab holds the socket (always without sharing), `'follower'` otherwise. */
  get role(): 'leader' | 'follower' {
    return this.#leading ? 'leader' : 'follower';
  }

  get readyState(): 0 | 1 | 2 | 3 {
    return readyStateOfPath(this.#state);
  }

  /** The leader's chart state path, the same in every tab (`'open'`, `'reconnecting.backoff'`, ...). */
  get state(): string {
    return this.#state;
  }

  matches<P extends string>(path: StateNameArgument<P>): boolean {
    return pathMatches(this.#state, path);
  }

  get closedBy(): ClosedReason | null {
    return this.#leading ? this.#conn.closedBy : fromWireClosedReason(this.#snap.closedBy);
  }

  get url(): string {
    return this.#leading ? this.#conn.url : this.#snap.url;
  }

  get protocol(): string {
    return this.#leading ? this.#conn.protocol : this.#snap.protocol;
  }

  get extensions(): string {
    return this.#leading ? this.#conn.extensions : this.#snap.extensions;
  }

  /** Applies while this tab leads (messages reach followers as the leader received them). */
  get binaryType(): BinaryType {
    return this.#conn.binaryType;
  }

  set binaryType(type: BinaryType) {
    this.#conn.binaryType = type;
  }

  /** Leader: its socket and queue. Follower: the bytes of its sends the leader has not acknowledged yet. */
  get bufferedAmount(): number {
    if (this.#leading) return this.#conn.bufferedAmount;
    return this.#backlogBytes;
  }

  /**
   * Leader: as `Connection.send`. Follower: encoded here (so a bad message throws here), kept until the leader
   * acknowledges it, and sent again to the next leader if this one goes away first.
   */
  send(message: Out): void {
    if (this.#leading || !this.shared) return this.#conn.send(message);
    const data = this.#encode(message);
    if (this.#ended) return this.#dispatch(new DropEvent(data, 'closed', now(), message));
    if (!this.#makeRoom(data, message)) return;
    const entry = { seq: ++this.#seq, message, data };
    if (this.#leader !== null) this.#postSend(entry, true);
    this.#backlog.push(entry);
    this.#backlogBytes += byteLengthOf(data);
  }

  #backlogBytes = 0;

  /** The backlog is bounded as the queue is (`queue.maxMessages`, `maxBytes`, `overflow`): false if `data` must go. */
  #makeRoom(data: SendData, message: Out): boolean {
    const { maxMessages, maxBytes, overflow } = this.#queue;
    const bytes = byteLengthOf(data);
    const fits = () => this.#backlog.length < maxMessages && this.#backlogBytes + bytes <= maxBytes;
    if (fits()) return true;
    if (overflow === 'reject') {
      throw new SocketchartError('ERR_QUEUE_FULL', `The leader has not acknowledged ${this.#backlog.length} sends (${this.#backlogBytes} bytes) yet; queue.maxMessages is ${maxMessages}, queue.maxBytes ${maxBytes}. Wait for drain or raise them.`);
    }
    if (overflow === 'drop-newest' || bytes > maxBytes) {
      this.#dispatch(new DropEvent(data, bytes > maxBytes ? 'too-large' : 'queue-full', now(), message));
      return false;
    }
    while (!fits()) {
      const oldest = this.#backlog.shift() as Backlogged;
      this.#backlogBytes -= byteLengthOf(oldest.data);
      this.#dispatch(new DropEvent(oldest.data, 'queue-full', now(), oldest.message));
    }
    return true;
  }

  /** As `Connection.request`; in a follower the leader's tracker runs it and only this tab sees the reply. */
  request<R = In>(message: Out, options: RequestOptions = {}): Promise<R> {
    if (this.#leading || !this.shared) return this.#conn.request<R>(message, options);
    if (typeof options !== 'object' || options === null) return Promise.reject(invalidOption('request(message, options)', 'an object { timeout?, signal? }', options));
    if (this.#ended) return Promise.reject(new SocketchartError('ERR_CONNECTION_CLOSED', 'request() after close(): the connection is closed.'));
    if (typeof message !== 'object' || message === null) {
      return Promise.reject(new SocketchartError('ERR_INVALID_DATA', `request() takes an object message (it carries the correlation id); got ${describe(message)}.`));
    }
    const { signal, timeout } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const rid = ++this.#rid;
    return new Promise<R>((resolve, reject) => {
      const onAbort = () => {
        this.#asked.get(rid)?.dispose();
        if (this.#leader !== null) this.#post({ t: 'cancel', from: this.#tab, to: this.#leader, rid });
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const asked: AskedRequest = {
        message,
        timeout,
        resolve: (value) => resolve(value as R),
        reject,
        dispose: () => {
          this.#asked.delete(rid);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      this.#asked.set(rid, asked);
      if (this.#leader !== null) this.#postRequest(rid, asked);
    });
  }

  /** Handle decoded messages whose `typeField` is `type`, in every tab; handlers run before `message` listeners. */
  on<T extends MessageType<In>>(type: T, handler: (message: MessageOf<In, T>) => void): this {
    return this.#route(type, handler as (m: never) => void, false);
  }

  once<T extends MessageType<In>>(type: T, handler: (message: MessageOf<In, T>) => void): this {
    return this.#route(type, handler as (m: never) => void, true);
  }

  off<T extends MessageType<In>>(type: T, handler: (message: MessageOf<In, T>) => void): this {
    const list = this.#routes.get(type)?.filter((entry) => entry.handler !== (handler as unknown));
    if (list && list.length > 0) this.#routes.set(type, list);
    else this.#routes.delete(type);
    return this;
  }

  /** Run `hook` on every open this tab sees (now too, if open). In a follower its sends go through the leader. */
  onEveryOpen(hook: () => void): () => void {
    if (typeof hook !== 'function') throw invalidOption('onEveryOpen(hook)', 'a function', hook);
    this.#everyOpen.add(hook);
    if (this.#state === 'open') hook();
    return () => this.#everyOpen.delete(hook);
  }

  subscribe(message: Out, options: { unsubscribe?: Out } = {}): Subscription {
    const stop = this.onEveryOpen(() => this.send(message));
    return {
      unsubscribe: () => {
        stop();
        if (options.unsubscribe !== undefined && this.readyState === 1) this.send(options.unsubscribe);
      },
    };
  }

  /**
   * Close this tab's handle. A leader closes its socket and the lock passes to the next tab, which opens its own
   * (the others see a handover); a follower just leaves. Sends the leader has not acknowledged yet are reported as
   * `drop` events (reason `closed`): they may still have gone out.
   */
  close(code?: number, reason?: string): void {
    checkClose(code, reason);
    if (this.#ended) return;
    this.#ended = true;
    this.#closeArgs = [code, reason];
    const leading = this.#leading;
    // A leader resigns here: it says bye and closes its socket (its own listeners see that close).
    this.actor.send({ type: 'CLOSE' });
    this.#channel?.close();
    if (leading) return;
    this.#conn.close(code, reason); // never opened: this only ends it
    this.#backlogBytes = 0;
    for (const entry of this.#backlog.splice(0)) this.#dispatch(new DropEvent(entry.data, 'closed', now(), entry.message));
    for (const asked of [...this.#asked.values()]) {
      asked.dispose();
      asked.reject(new SocketchartError('ERR_CONNECTION_CLOSED', 'The connection closed before the reply came.'));
    }
    if (this.#state === 'closed') return;
    const closedBy: ClosedReason = { kind: 'user', code: code ?? 1000, reason: reason ?? '', wasClean: true };
    this.#snap = { ...this.#snap, closedBy: toWireClosedReason(closedBy) };
    this.#moveTo('closed', { type: 'CLOSE' });
    this.#dispatch(new SocketCloseEvent(closedBy, closedBy, now()));
  }

  /** Leave `idle` or `closed` and connect (a follower asks the leader). */
  open(): void {
    if (this.#leading || !this.shared) this.#conn.open();
    else if (this.#leader !== null) this.#post({ t: 'command', from: this.#tab, to: this.#leader, command: 'open' });
  }

  reconnect(): void {
    if (this.#leading || !this.shared) this.#conn.reconnect();
    else if (this.#leader !== null) this.#post({ t: 'command', from: this.#tab, to: this.#leader, command: 'reconnect' });
  }

  opened(options: OpenedOptions = {}): Promise<void> {
    if (this.#state === 'open') return Promise.resolve();
    if (this.#state === 'closed') return Promise.reject(new SocketchartError('ERR_CONNECTION_CLOSED', 'The connection is closed.'));
    const { timeout, signal } = options;
    return new Promise((resolve, reject) => {
      const cleanup = new AbortController();
      const settle = (error?: unknown) => {
        cleanup.abort();
        clearTimeout(timer);
        if (error === undefined) resolve();
        else reject(error);
      };
      const timer = timeout === undefined ? undefined : setTimeout(() => settle(new SocketchartError('ERR_OPEN_TIMEOUT', `Not open after ${timeout} ms.`)), timeout);
      signal?.addEventListener('abort', () => settle(signal.reason), { signal: cleanup.signal });
      this.addEventListener('statechange', (e) => {
        if (e.to === 'open') settle();
        else if (e.to === 'closed') settle(new SocketchartError('ERR_CONNECTION_CLOSED', 'The connection closed before it opened.'));
      }, { signal: cleanup.signal });
    });
  }

  closed(): Promise<ClosedReason> {
    const closedBy = this.closedBy;
    if (this.#state === 'closed' && closedBy) return Promise.resolve(closedBy);
    return new Promise((resolve) => {
      const onClose = (event: SocketCloseEvent) => {
        if (!event.closedBy) return;
        this.removeEventListener('close', onClose);
        resolve(event.closedBy);
      };
      this.addEventListener('close', onClose);
    });
  }

  addEventListener<K extends keyof ConnectionEventMap<In, Out>>(type: K, listener: Listener<ConnectionEventMap<In, Out>[K]> | null, options?: ListenerOptions | boolean): void {
    if (listener == null) return;
    if (typeof listener !== 'function' && typeof (listener as { handleEvent?: unknown }).handleEvent !== 'function') {
      throw invalidOption(`addEventListener('${String(type)}', listener)`, 'a function or an object with handleEvent()', listener);
    }
    this.#listeners.add(type, listener as Listener<never>, options);
  }

  removeEventListener<K extends keyof ConnectionEventMap<In, Out>>(type: K, listener: Listener<ConnectionEventMap<In, Out>[K]> | null): void {
    if (listener) this.#listeners.remove(type, listener as Listener<never>);
  }

  // ---- lifecycle (told by the leader chart) ----

  #lead(epoch: number): void {
    if (this.#leader !== null) this.#showLost();
    this.#leading = true;
    this.#leader = this.#tab;
    this.#epoch = epoch;
    // This tab's own unacknowledged sends go first: into the connection's queue, written on open before anything held.
    this.#backlogBytes = 0;
    for (const entry of this.#backlog.splice(0)) this.#conn.send(entry.message as Out);
    for (const [rid, asked] of [...this.#asked]) {
      this.#asked.delete(rid);
      asked.dispose();
      this.#conn.request(asked.message as Out, asked.timeout === undefined ? {} : { timeout: asked.timeout }).then(asked.resolve, asked.reject);
    }
    // A session that was idle or closed stays so until someone calls open().
    if (this.#state !== 'idle' && this.#state !== 'closed') this.#conn.open();
    if (this.#channel) this.#post({ t: 'leader', from: this.#tab, epoch, snap: this.#leaderSnapshot() });
  }

  #resign(): void {
    if (!this.#leading) return;
    this.#leading = false;
    for (const abort of this.#relayed.values()) abort.abort();
    this.#relayed.clear();
    if (this.#channel) this.#post({ t: 'bye', from: this.#tab, epoch: this.#epoch });
    this.#leader = null;
    // Followers keep every send and request until acknowledged: the next leader gets them again; only this tab's
    // own listeners hear this close.
    this.#mirrorOnly = true;
    const [code, reason] = this.#closeArgs;
    this.#conn.close(code, reason);
  }

  #follow(leader: string, epoch: number): void {
    if (this.#leader !== null && this.#leader !== leader) this.#showLost();
    this.#leader = leader;
    this.#epoch = epoch;
    // The backlog, then whatever is sent from now on, all addressed to this leader: nothing new overtakes it.
    for (const entry of this.#backlog) this.#postSend(entry, false);
    for (const [rid, asked] of this.#asked) this.#postRequest(rid, asked);
  }

  /** Nobody leads for a moment: every tab shows what a lost socket shows, and then the new leader's attempt. */
  #showLost(): void {
    if (this.#state === 'closed' || this.#state === 'idle' || this.#state.startsWith('reconnecting')) return;
    const wasOpen = this.#state === 'open';
    this.#moveTo('reconnecting.backoff', { type: 'LEADER.LOST' });
    if (wasOpen) this.#dispatch(new SocketCloseEvent({ code: 1006, reason: 'the leader tab went away', wasClean: false }, undefined, now()));
    this.#dispatch(new ReconnectingEvent(1, 0, now()));
  }

  // ---- the leader's own connection ----

  #watch(conn: Connection<In, Out>): void {
    const live = () => this.#leading || this.#mirrorOnly;
    conn.addEventListener('statechange', (e) => {
      if (!live()) return;
      this.#moveTo(e.to, e.event);
      if (!this.#leading) return;
      this.#broadcast({ t: 'state', from: this.#tab, epoch: this.#epoch, event: e.event.type, snap: this.#leaderSnapshot() });
      if (e.to === 'open' || e.to === 'closed') this.#flushHeld();
    });
    const forward = (event: WireEvent, local: SocketchartEvent) => {
      if (!live()) return;
      if (event.type === 'open') this.#runEveryOpen();
      this.#dispatch(local);
      if (this.#leading) this.#broadcast({ t: 'event', from: this.#tab, epoch: this.#epoch, event });
    };
    conn.addEventListener('open', (e) => forward({ type: 'open' }, new OpenEvent(e.timeStamp)));
    conn.addEventListener('close', (e) =>
      forward(
        { type: 'close', code: e.code, reason: e.reason, wasClean: e.wasClean, closedBy: toWireClosedReason(e.closedBy) },
        new SocketCloseEvent(e, e.closedBy, e.timeStamp),
      ),
    );
    conn.addEventListener('error', (e) => forward({ type: 'error', error: toWireError(e.error) }, new SocketErrorEvent(e.error, e.timeStamp)));
    conn.addEventListener('reconnecting', (e) => forward({ type: 'reconnecting', attempt: e.attempt, delay: e.delay }, new ReconnectingEvent(e.attempt, e.delay, e.timeStamp)));
    conn.addEventListener('giveup', (e) => forward({ type: 'giveup', closedBy: toWireClosedReason(e.closedBy) as never }, new GiveupEvent(e.closedBy, e.timeStamp)));
    conn.addEventListener('drain', (e) => forward({ type: 'drain', bufferedAmount: e.bufferedAmount }, new DrainEvent(e.bufferedAmount, e.timeStamp)));
    conn.addEventListener('invalid-message', (e) => forward({ type: 'invalid-message', data: e.data, problem: e.problem }, new InvalidMessageEvent(e.data, e.problem, e.timeStamp)));
    conn.addEventListener('message', (e) => {
      if (!live()) return;
      this.#deliver(e.data, e.origin, e.timeStamp);
      if (this.#leading) this.#broadcast({ t: 'message', from: this.#tab, epoch: this.#epoch, data: e.data, origin: e.origin });
    });
    conn.addEventListener('drop', (e) => {
      const from = this.#origins.take(e.message);
      if (from !== undefined && this.#leading) {
        this.#broadcast({ t: 'drop', from: this.#tab, epoch: this.#epoch, to: from, reason: e.reason, data: e.data, message: e.message });
      } else {
        this.#dispatch(new DropEvent(e.data, e.reason, e.timeStamp, e.message));
      }
    });
  }

  #leaderSnapshot(): LeaderSnapshot {
    return { state: this.#state, url: this.#conn.url, protocol: this.#conn.protocol, extensions: this.#conn.extensions, closedBy: toWireClosedReason(this.#conn.closedBy) };
  }

  /** Writes a follower's send now while the socket is open (or the session is over, so the connection reports it). */
  #relay(from: string, seq: number, message: unknown): void {
    this.#origins.add(message, from);
    try {
      this.#conn.send(message as Out);
    } catch (error) {
      // Checked in the follower already; a leader whose options differ refuses it: never silently.
      this.#origins.take(message);
      const reason: DropReason = (error as { code?: string }).code === 'ERR_MESSAGE_TOO_LARGE' ? 'too-large' : 'closed';
      let data: SendData;
      try {
        data = this.#encode(message as Out);
      } catch {
        data = String(message);
      }
      this.#post({ t: 'drop', from: this.#tab, epoch: this.#epoch, to: from, reason, data, message });
    }
    this.#post({ t: 'ack', from: this.#tab, epoch: this.#epoch, to: from, seq });
  }

  #flushHeld(): void {
    const held = this.#held.splice(0);
    for (const entry of held) this.#relay(entry.from, entry.seq, entry.message);
  }

  // ---- the channel ----

  #receive(msg: WireMessage): void {
    if (this.#ended || typeof msg !== 'object' || msg === null) return;
    switch (msg.t) {
      case 'hello':
        if (this.#leading) this.#post({ t: 'leader', from: this.#tab, epoch: this.#epoch, to: msg.from, snap: this.#leaderSnapshot() });
        return;
      case 'leader':
        if (msg.to !== undefined && msg.to !== this.#tab) return;
        this.actor.send({ type: 'LEADER.ANNOUNCED', leader: msg.from, epoch: msg.epoch });
        if (!this.#leading && this.#leader === msg.from && this.#epoch === msg.epoch) this.#sync(msg.snap, SYNC);
        return;
      case 'bye':
        this.actor.send({ type: 'LEADER.LEFT', leader: msg.from });
        return;
      case 'send': {
        if (msg.to !== this.#tab || !this.#leading) return;
        if (msg.seq <= (this.#received.get(msg.from) ?? 0)) return;
        this.#received.set(msg.from, msg.seq);
        const r = this.#conn.readyState;
        if (this.#held.length === 0 && (r === 1 || r === 3)) this.#relay(msg.from, msg.seq, msg.message);
        else this.#held.push({ from: msg.from, seq: msg.seq, message: msg.message });
        return;
      }
      case 'request':
        if (msg.to === this.#tab && this.#leading) this.#answer(msg.from, msg.rid, msg.message, msg.timeout);
        return;
      case 'cancel':
        if (msg.to === this.#tab) this.#relayed.get(`${msg.from}:${msg.rid}`)?.abort();
        return;
      case 'command':
        if (msg.to !== this.#tab || !this.#leading) return;
        if (msg.command === 'open') this.#conn.open();
        else this.#conn.reconnect();
        return;
    }
    // Everything below comes from the leader this tab follows.
    if (this.#leading || msg.from !== this.#leader || msg.epoch !== this.#epoch) return;
    switch (msg.t) {
      case 'state':
        this.#sync(msg.snap, msg.event);
        return;
      case 'event':
        this.#replay(msg.event);
        return;
      case 'message':
        this.#deliver(msg.data, msg.origin, now());
        return;
      case 'ack':
        if (msg.to !== this.#tab) return;
        while (this.#backlog.length > 0 && (this.#backlog[0] as Backlogged).seq <= msg.seq) {
          this.#backlogBytes -= byteLengthOf((this.#backlog.shift() as Backlogged).data);
        }
        return;
      case 'drop':
        if (msg.to === this.#tab) this.#dispatch(new DropEvent(msg.data, msg.reason, now(), msg.message));
        return;
      case 'reply': {
        const asked = msg.to === this.#tab ? this.#asked.get(msg.rid) : undefined;
        if (!asked) return;
        asked.dispose();
        if (msg.ok) asked.resolve(msg.value);
        else asked.reject(fromWireError(msg.error));
        return;
      }
    }
  }

  #answer(from: string, rid: number, message: unknown, timeout: number | undefined): void {
    const key = `${from}:${rid}`;
    if (this.#relayed.has(key)) return;
    const abort = new AbortController();
    this.#relayed.set(key, abort);
    const epoch = this.#epoch;
    const reply = (result: { ok: true; value: unknown } | { ok: false; error: unknown }) => {
      // A request cut short by this tab resigning is asked again of the next leader: no answer from here.
      if (this.#relayed.get(key) !== abort) return;
      this.#relayed.delete(key);
      if (result.ok) this.#post({ t: 'reply', from: this.#tab, epoch, to: from, rid, ok: true, value: result.value });
      else this.#post({ t: 'reply', from: this.#tab, epoch, to: from, rid, ok: false, error: toWireError(result.error) });
    };
    let pending: Promise<unknown>;
    try {
      pending = this.#conn.request(message as Out, { signal: abort.signal, ...(timeout === undefined ? {} : { timeout }) });
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then((value) => reply({ ok: true, value }), (error: unknown) => reply({ ok: false, error }));
  }

  #postSend(entry: Backlogged, fresh: boolean): void {
    try {
      this.#post({ t: 'send', from: this.#tab, to: this.#leader as string, seq: entry.seq, message: entry.message });
    } catch (error) {
      if (fresh) throw new SocketchartError('ERR_INVALID_DATA', `send() in a shared connection needs a message structured clone can copy to the leader tab: ${(error as Error).message}`);
    }
  }

  #postRequest(rid: number, asked: AskedRequest): void {
    const base = { t: 'request' as const, from: this.#tab, to: this.#leader as string, rid, message: asked.message };
    this.#post(asked.timeout === undefined ? base : { ...base, timeout: asked.timeout });
  }

  #post(msg: WireMessage): void {
    this.#channel?.postMessage(msg);
  }

  /** Like #post, but a value structured clone cannot copy still reaches the followers, as a report. */
  #broadcast(msg: WireMessage): void {
    if (!this.#channel) return;
    try {
      this.#channel.postMessage(msg);
    } catch (error) {
      const problem = toWireError(new SocketchartError('ERR_INVALID_DATA', `A ${msg.t} the leader could not copy to this tab (structured clone): ${(error as Error).message}`));
      this.#channel.postMessage({ t: 'event', from: this.#tab, epoch: this.#epoch, event: { type: 'invalid-message', data: null, problem } });
    }
  }

  // ---- what every tab shows ----

  #sync(snap: LeaderSnapshot, event: string): void {
    const { state, ...rest } = snap;
    this.#snap = rest;
    const wasOpen = this.#state === 'open';
    this.#moveTo(state, { type: event });
    // A tab that joins (or follows a new leader) while the socket is open missed its `open` event: this is its open.
    if (event === SYNC && state === 'open' && !wasOpen) this.#replay({ type: 'open' });
  }

  #replay(event: WireEvent): void {
    const t = now();
    switch (event.type) {
      case 'open':
        this.#runEveryOpen();
        return this.#dispatch(new OpenEvent(t));
      case 'close': {
        const closedBy = fromWireClosedReason(event.closedBy) ?? undefined;
        return this.#dispatch(new SocketCloseEvent(event, closedBy, t));
      }
      case 'error': {
        const error = fromWireError(event.error);
        return this.#dispatch(new SocketErrorEvent(error, t));
      }
      case 'reconnecting':
        return this.#dispatch(new ReconnectingEvent(event.attempt, event.delay, t));
      case 'giveup':
        return this.#dispatch(new GiveupEvent(fromWireClosedReason(event.closedBy) as ClosedReason, t));
      case 'drain':
        return this.#dispatch(new DrainEvent(event.bufferedAmount, t));
      case 'invalid-message':
        return this.#dispatch(new InvalidMessageEvent(event.data, event.problem, t));
    }
  }

  #moveTo(to: string, event: { type: string }): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#dispatch(new StateChangeEvent(from, to, event, now()));
  }

  #runEveryOpen(): void {
    for (const hook of [...this.#everyOpen]) hook();
  }

  #route(type: unknown, handler: (message: never) => void, once: boolean): this {
    if (typeof handler !== 'function') throw invalidOption(`on('${String(type)}', handler)`, 'a function', handler);
    this.#routes.set(type, [...(this.#routes.get(type) ?? []), { handler, once }]);
    return this;
  }

  #deliver(data: unknown, origin: string, timeStamp: number): void {
    if (this.#routes.size > 0 && typeof data === 'object' && data !== null) {
      const type = (data as Record<string, unknown>)[this.#typeField];
      const list = this.#routes.get(type);
      if (list) {
        if (list.some((entry) => entry.once)) {
          const keep = list.filter((entry) => !entry.once);
          if (keep.length > 0) this.#routes.set(type, keep);
          else this.#routes.delete(type);
        }
        for (const entry of list) {
          try {
            entry.handler(data as never);
          } catch (error) {
            // As listeners: a throwing handler is reported, and the others still run.
            queueMicrotask(() => {
              throw error;
            });
          }
        }
      }
    }
    this.#dispatch(new SocketMessageEvent(data as In, origin, timeStamp));
  }

  #dispatch(event: SocketchartEvent): void {
    event.target = this;
    const slot = (this as unknown as Record<string, unknown>)[`on${event.type}`];
    this.#listeners.dispatch(event, typeof slot === 'function' ? (slot as (event: never) => void) : null);
  }
}

/** The checks `Connection.close` makes, made before a leader resigns (they must not throw halfway through). */
function checkClose(code: number | undefined, reason: string | undefined): void {
  if (code !== undefined && !isValidUserCloseCode(code)) {
    throw new SocketchartError('ERR_INVALID_CLOSE_CODE', `close() takes code 1000 or 3000-4999 (4000-4999 for your application); got ${describe(code)}.`);
  }
  if (reason !== undefined && typeof reason !== 'string') {
    throw new SocketchartError('ERR_INVALID_CLOSE_CODE', `close() takes a string reason; got ${describe(reason)}.`);
  }
  if (reason !== undefined && utf8Length(reason) > MAX_CLOSE_REASON_BYTES) {
    throw new SocketchartError('ERR_REASON_TOO_LONG', `The close reason is ${utf8Length(reason)} UTF-8 bytes; the protocol allows ${MAX_CLOSE_REASON_BYTES}. Shorten it.`);
  }
}

for (const [name, value] of [['CONNECTING', 0], ['OPEN', 1], ['CLOSING', 2], ['CLOSED', 3]] as const) {
  Object.defineProperty(SharedConnection.prototype, name, { value, enumerable: true });
}

/** Builds `createSharedConnection` over an entry's `createConnection`. */
export function sharedConnectionFactory(create: <In, Out>(url: PerAttempt<string | URL>, options: ConnectionOptions<In, Out>) => Connection<In, Out>) {
  return function createSharedConnection<In = unknown, Out = SendData>(url: PerAttempt<string | URL>, options: SharedConnectionOptions<In, Out> = {}): SharedConnection<In, Out> {
    return new SharedConnection<In, Out>(url, options, create);
  };
}
