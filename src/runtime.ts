import { type Actor, type InspectionEvent, createActor } from 'xstate';
import {
  type AuthVerdict,
  type ClosedReason,
  type ConnectionHost,
  type ConnectionMachine,
  type ConnectionPolicy,
  connectionMachine,
} from '../machines/connection.js';
import { type SendData, assertSendData, byteLengthOf } from './data.js';
import { SocketchartError, describe } from './errors.js';
import {
  DrainEvent,
  DropEvent,
  GiveupEvent,
  InvalidMessageEvent,
  ListenerRegistry,
  OpenEvent,
  ReconnectingEvent,
  SocketCloseEvent,
  SocketErrorEvent,
  SocketMessageEvent,
  type SocketchartEvent,
  StateChangeEvent,
} from './events.js';
import {
  type ConnectionClock,
  ConnectionOptions,
  PerAttempt,
  ResolvedAuth,
  ResolvedHeartbeat,
  ResolvedOptions,
} from './options.js';
import type { EnvironmentSource } from './policies/environment.js';
import { type DeliveryFactory, type DeliveryLayer, NO_MESSAGE } from './delivery/types.js';
import { BatchOrigin, type DropReason, type Dropped, MessageTrail, OutboundQueue, type QueueTag } from './policies/queue.js';
import { TokenBucket } from './policies/rateLimit.js';
import { ReceiptTracker } from './policies/unconfirmed.js';
import { HeldMessages } from './inbound/held.js';
import { type Codec, rawCodec } from './messages/codec.js';
import { type RequestOptions, abortReason } from './messages/requests.js';
import type { Batcher, Chunker, PluginHost, Requester, Router, Timers, Validator } from './plugins/types.js';
import { type ConnectionMetrics, MetricsCounters, sizeOf } from './metrics.js';
import { readyStateOf, statePathOf } from './statePath.js';
import type { BinaryType, CloseInfo, OpenRequest, Transport, TransportSocket } from './transports/types.js';
import { parseProtocols, parseSocketUrl } from './url.js';

type Handler = ((event: never) => void) | null;

/** The shared empty list: per-connection lists are allocated only when something goes in them. */
const NONE = Object.freeze([]) as never[];

/** The facade's `on*` properties, read at dispatch time. */
export interface HandlerSlots {
  onopen: Handler;
  onmessage: Handler;
  onclose: Handler;
  onerror: Handler;
}

interface OpenWaiter {
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Everything behind one `Connection`: it hosts the machine (sockets, policy, notifications), owns the queue and
 * the listeners, and carries messages directly between the live socket and the listeners.
 *
 * Events the machine causes are fired only after the machine has committed its new snapshot, so a listener
 * always sees `readyState` and `state` as they are after the transition, and may call back into the connection.
 */
export class ConnectionRuntime implements ConnectionHost, PluginHost {
  readonly transport: Transport;
  readonly policy: ConnectionPolicy;
  readonly listeners = new ListenerRegistry();
  readonly queue: OutboundQueue;
  readonly actor: Actor<ConnectionMachine>;

  /** Where the facade's events point (`event.target`) and its `on*` handlers. */
  readonly #facade: HandlerSlots;
  readonly #startClosed: boolean;
  readonly #clock: ConnectionClock | undefined;
  readonly #environment: EnvironmentSource;
  /** The app's hook, run by the backoff's invoked `retryWait` actor (see the chart). */
  readonly retryWait: ConnectionOptions['retryWait'];
  readonly #urlSource: PerAttempt<string | URL>;
  readonly #protocolsSource: PerAttempt<string | string[]>;
  readonly #headersSource: PerAttempt<Record<string, string>> | undefined;

  /** The current attempt's socket, from creation to the end of the attempt. */
  #socket: TransportSocket | null = null;
  /** The socket `send()` writes to: set exactly while the chart is in `open`. */
  #live: TransportSocket | null = null;
  /** The socket whose `open` was announced and whose `close` was not yet: inbound messages come only from it. */
  #announced: TransportSocket | null = null;
  #binaryType: BinaryType;
  #url = '';
  #protocol = '';
  #extensions = '';
  #path: string;
  #readyState: 0 | 1 | 2 | 3;
  /** Events caused by the transition in progress, fired once its snapshot is committed. */
  #pending: SocketchartEvent[] = NONE;
  /** True between a machine action calling this host and the commit of that transition's snapshot. */
  #inTransition = false;
  #openWaiters: OpenWaiter[] = NONE;
  #stopEnvironment: (() => void) | null = null;
  #closedBy: ClosedReason | null = null;
  readonly #auth: ResolvedAuth | null;
  readonly #heartbeat: ResolvedHeartbeat | null;
  /** The token for this attempt's auth message; dropped as soon as it is sent, and never put in the chart. */
  #token: string | null = null;
  /** Where the running auth exchange (`connecting.authenticating`'s actor) reports the verdict; null otherwise. */
  #authVerdict: ((verdict: AuthVerdict) => void) | null = null;
  /** Messages that arrived during `authenticating`: delivered right after `open`. Made on first use. */
  #heldDuringAuth: HeldMessages | null = null;
  readonly #holdLimits: { maxMessages: number; maxBytes: number };
  #inbound = 0;
  /** The clock read of the inbound message being dispatched (-1 outside a dispatch). */
  #dispatchAt = -1;
  #pingSentAt = -1;
  #rtt: number | null = null;
  readonly #codec: Codec<unknown, unknown>;
  readonly raw: boolean;
  readonly #maxMessageSize: number;
  /** The message plug-ins the app passed (null: not imported); see plugins/types.ts for where each is called. */
  readonly #chunker: Chunker | null;
  readonly #batcher: Batcher | null;
  readonly #requester: Requester | null;
  readonly #validator: Validator | null;
  readonly #router: Router | null;
  /** `onEveryOpen` hooks (joins, subscriptions), run on every open before the queue is flushed. */
  #everyOpen: Array<() => void> = NONE;
  /** True while the open sequence writes restore messages: they go to the socket ahead of the queue. */
  #restoring = false;
  readonly counters = new MetricsCounters();
  readonly #highWaterMark: number;
  readonly #lowWaterMark: number;
  readonly #bucket: TokenBucket | null;
  /** Set when a send waited for the socket's buffer; cleared (with a `drain` event) once it drained. */
  #backpressured = false;
  #pumpTimer: unknown = null;
  /** The acknowledged-delivery layer, when `delivery` is configured: it owns the outbound path. */
  readonly #delivery: DeliveryLayer | null;
  /** Plain mode: what the server has proven it received of the live socket's writes (see policies/unconfirmed). */
  readonly #receipts: ReceiptTracker | null;
  /** The messages behind the unconfirmed frames, for their drop reports; only with a codec (raw: message is frame). */
  readonly #trail: MessageTrail | null;

  constructor(
    facade: HandlerSlots,
    url: PerAttempt<string | URL>,
    options: ConnectionOptions,
    resolved: ResolvedOptions,
    environment: EnvironmentSource,
  ) {
    this.#facade = facade;
    this.#startClosed = resolved.startClosed;
    this.transport = resolved.transport;
    this.#clock = options.clock;
    this.#environment = environment;
    this.retryWait = options.retryWait;
    this.#urlSource = typeof url === 'function' ? url : parseSocketUrl(url);
    if (typeof url !== 'function') this.#url = this.#urlSource as string;
    this.#protocolsSource =
      typeof options.protocols === 'function' ? options.protocols : parseProtocols(options.protocols ?? []);
    this.#headersSource = options.headers;
    this.#binaryType = options.binaryType ?? resolved.transport.defaultBinaryType;
    this.policy = {
      backoff: resolved.backoff,
      closeCodes: this.#guarded('closeCodes', options.closeCodes, undefined),
      shouldReconnect: this.#guarded('shouldReconnect', options.shouldReconnect, true),
      connectTimeout: resolved.connectTimeout,
      closeTimeout: resolved.closeTimeout,
      waitsForRetryHook: options.retryWait !== undefined,
      random: options.random ? this.#jitter(options.random) : Math.random,
      auth: resolved.auth
        ? { byMessage: resolved.auth.mode === 'message', timeout: resolved.auth.timeout, refreshCodes: resolved.auth.refreshCodes }
        : null,
      heartbeat: resolved.heartbeat ? { interval: resolved.heartbeat.interval, timeout: resolved.heartbeat.timeout } : null,
    };
    this.#auth = resolved.auth;
    this.#heartbeat = resolved.heartbeat;
    this.#codec = (options.codec ?? rawCodec) as Codec<unknown, unknown>;
    this.raw = this.#codec === rawCodec;
    this.#maxMessageSize = resolved.maxMessageSize;
    this.#highWaterMark = resolved.flow.highWaterMark;
    this.#lowWaterMark = resolved.flow.lowWaterMark;
    this.#bucket = resolved.flow.rateLimit ? new TokenBucket(resolved.flow.rateLimit, this.now()) : null;
    this.#delivery = options.delivery !== undefined ? this.#createDelivery(options.delivery) : null;
    this.#holdLimits = { maxMessages: resolved.queue.maxMessages, maxBytes: resolved.queue.maxBytes };
    this.queue = new OutboundQueue(resolved.queue, this);
    this.#receipts = resolved.unconfirmed ? new ReceiptTracker(resolved.unconfirmed, resolved.transport.canPing === true) : null;
    this.#trail = this.#receipts !== null && this.#codec !== rawCodec ? new MessageTrail() : null;
    this.#chunker = resolved.chunking?.create(this) ?? null;
    this.#batcher = resolved.batching?.create(this) ?? null;
    this.#requester = resolved.requests?.create(this) ?? null;
    this.#validator = resolved.schema?.create(this) ?? null;
    this.#router = resolved.router?.create(this) ?? null;
    const userInspect = options.inspect;
    this.actor = createActor(connectionMachine, {
      input: { host: this },
      ...(options.clock ? { clock: options.clock } : {}),
      inspect: (event: InspectionEvent) => {
        if (event.type === '@xstate.snapshot' && event.actorRef === this.actor) this.#committed(event.event);
        if (typeof userInspect === 'function') userInspect(event);
        else userInspect?.next?.(event);
      },
    });
    this.#path = statePathOf(this.actor.getSnapshot());
    this.#readyState = readyStateOf(this.actor.getSnapshot());
    // The backstop: if the chart itself fails (a bug, or a user callback we could not guard), the connection
    // ends visibly: an error, a final close, every queued message reported. It never hangs in a dead state.
    this.actor.subscribe({ error: (error) => this.#crashed(error) });
  }

  #assertAlive(): void {
    if (this.actor.getSnapshot().status === 'error') {
      throw new SocketchartError('ERR_CONNECTION_CLOSED', `This connection failed internally (${this.#closedBy?.reason ?? 'unknown'}); create a new one.`);
    }
  }

  #crashed(error: unknown): void {
    const cause = error instanceof Error ? error : new Error(String(error));
    this.#inTransition = false;
    this.#live = null;
    this.#announced = null;
    this.#endInbound();
    this.#stopPump();
    this.#stopEnvironment?.();
    this.#stopEnvironment = null;
    const reason: ClosedReason = { kind: 'error', code: 1006, reason: `Internal error: ${cause.message}`, wasClean: false, error: cause };
    this.#closedBy = reason;
    this.#path = 'closed';
    this.#readyState = 3;
    this.#settleUnconfirmed(false);
    this.queue.clear('closed');
    this.#requester?.ended(this.closedError());
    this.#delivery?.ended();
    this.#batcher?.drop();
    this.#queueEvent(new SocketErrorEvent(cause, this.now()));
    this.#queueEvent(new SocketCloseEvent(reason, reason, this.now()));
    this.#flush();
  }

  /**
   * A user callback the chart's guards call, made safe: if it throws, the connection reports the error (as an
   * `error` event, after the transition) and goes on with `fallback` instead of dying mid-transition.
   */
  #guarded<A extends unknown[], R>(name: string, fn: ((...args: A) => R) | undefined | object, fallback: R): ((...args: A) => R) | undefined | never {
    if (typeof fn !== 'function') return fn as undefined;
    const call = fn as (...args: A) => R;
    return (...args: A) => {
      try {
        return call(...args);
      } catch (error) {
        this.reportCallbackError(name, error);
        return fallback;
      }
    };
  }

  #jitter(random: () => number): () => number {
    return () => {
      try {
        const r = random();
        if (typeof r === 'number' && r >= 0 && r < 1) return r;
        throw new TypeError(`random() must return a number in [0, 1); got ${describe(r)}`);
      } catch (error) {
        this.reportCallbackError('random', error);
        return 0.5;
      }
    };
  }

  reportCallbackError(name: string, error: unknown): void {
    const cause = error instanceof Error ? error : new Error(String(error));
    const reported = new SocketchartError('ERR_INVALID_OPTION', `Your \`${name}\` callback threw: ${cause.message}`, { cause });
    // Called from a guard or an action: the event goes out once the transition commits.
    this.#queueEvent(new SocketErrorEvent(reported, this.now()));
  }

  /** The router plug-in behind `on/once/off`. */
  get router(): Router {
    if (this.#router === null) throw missingPlugin('on/once/off(type, handler)', 'router', 'router()');
    return this.#router;
  }

  start(): void {
    this.actor.start();
    if (!this.#startClosed) this.connect();
  }

  // ---- state, as the facade shows it --------------------------------------------------------------------------

  get path(): string {
    return this.#path;
  }

  get readyState(): 0 | 1 | 2 | 3 {
    return this.#readyState;
  }

  get url(): string {
    return this.#url;
  }

  get protocol(): string {
    return this.#protocol;
  }

  get extensions(): string {
    return this.#extensions;
  }

  get closedBy(): ClosedReason | null {
    return this.#closedBy;
  }

  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(type: BinaryType) {
    if (!this.transport.binaryTypes.includes(type)) {
      throw new SocketchartError(
        'ERR_INVALID_OPTION',
        `binaryType must be one of ${this.transport.binaryTypes.map((t) => `'${t}'`).join(', ')} with the ${this.transport.name} transport; got ${JSON.stringify(type)}.`,
      );
    }
    this.#binaryType = type;
    if (this.#socket) this.#socket.binaryType = this.#wireBinaryType();
  }

  get bufferedAmount(): number {
    return (this.#socket?.bufferedAmount ?? 0) + this.queue.bytes + (this.#delivery?.pending.bytes ?? 0);
  }

  now(): number {
    return this.#clock?.now ? this.#clock.now() : Date.now();
  }

  /**
   * What inspectors and loggers see of the host in the chart's context: a summary, never sockets, listeners or
   * tokens (JSON.stringify calls this).
   */
  toJSON(): { url: string; transport: string } {
    return { url: this.#url, transport: this.transport.name };
  }

  /** The queue reports what it drops here. */
  dropped({ data, reason, message }: Dropped): void {
    this.#emit(new DropEvent(data, reason, this.now(), message));
  }

  // ---- user commands ------------------------------------------------------------------------------------------

  connect(): void {
    this.#assertAlive();
    this.#watchEnvironment();
    this.actor.send({ type: 'CONNECT' });
  }

  reconnect(): void {
    this.#assertAlive();
    this.#watchEnvironment();
    this.actor.send({ type: 'RECONNECT' });
  }

  close(code: number, reason: string): void {
    if (this.#readyState === 2 || this.#readyState === 3) return;
    // What was sent before close() goes out before the close frame.
    this.#batcher?.flush();
    this.actor.send({ type: 'CLOSE', code, reason });
  }

  send(message: unknown): void {
    const data = this.#codec === rawCodec ? (message as SendData) : this.encode(message);
    if (typeof data !== 'string') assertSendData(data);
    this.checkOutbound(data);
    if (this.#batcher !== null && this.#readyState < 2 && !this.#restoring) {
      this.#batcher.add(data, message);
      return;
    }
    this.sendFrame(data, undefined, message);
  }

  /** Reports messages as dropped, after the transition in progress if there is one. */
  reportDrops(frames: readonly SendData[], messages: readonly unknown[], reason: DropReason): void {
    for (let i = 0; i < frames.length; i++) this.#queueEvent(new DropEvent(frames[i] as SendData, reason, this.now(), messages[i]));
    if (!this.#inTransition) this.#flush();
  }

  enqueue(data: SendData, message: unknown): void {
    this.queue.enqueue(data, this.now(), undefined, message);
  }

  /** The frame for an app message; a codec that fails becomes ERR_INVALID_DATA (it is the message that is bad). */
  encode(message: unknown): SendData {
    if (this.#codec === rawCodec) {
      assertSendData(message);
      return message;
    }
    let data: SendData;
    try {
      data = this.#codec.encode(message) as SendData;
    } catch (error) {
      throw new SocketchartError('ERR_INVALID_DATA', `The ${this.#codec.name} codec could not encode the message: ${(error as Error).message}`, { cause: error });
    }
    assertSendData(data);
    return data;
  }

  /**
   * Writes one message on `socket`: as one frame, or, with chunking, as its chunks. A message is split only here,
   * at the moment it is written, so the queue and its drop reports always deal in whole messages.
   */
  #write(socket: TransportSocket, data: SendData, tracked: boolean, origin?: unknown): boolean {
    const frames = this.#chunker?.split(data);
    if (!frames) {
      if (!socket.send(data)) return false;
    } else {
      for (const frame of frames) {
        if (!socket.send(frame)) return false;
      }
    }
    const size = sizeOf(data);
    this.counters.countOut(size, this.#dispatchAt >= 0 ? this.#dispatchAt : this.now());
    // Requests are not tracked: an unanswered request already ends loudly (resent, or rejected).
    if (tracked && this.#receipts !== null) this.#logWrite(this.#receipts, socket, data, origin);
    return true;
  }

  write(socket: TransportSocket, data: SendData, tracked: boolean): boolean {
    return this.#write(socket, data, tracked);
  }

  /** Logs a write as unconfirmed, and with a codec its messages in the trail (see MessageTrail). */
  #logWrite(receipts: ReceiptTracker, socket: TransportSocket, data: SendData, origin: unknown): void {
    const batch = origin instanceof BatchOrigin ? origin : null;
    receipts.written(socket, batch !== null ? batch.frames : data);
    const trail = this.#trail;
    if (trail === null) return;
    if (batch !== null) for (const message of batch.messages) trail.push(message);
    else trail.push(origin);
    trail.keepLast(receipts.length);
  }

  /** The live socket is gone: what it carried that the server never confirmed is reported, one drop each. */
  #settleUnconfirmed(confirmedByHandshake: boolean): void {
    const unconfirmed = this.#receipts?.settle(confirmedByHandshake);
    // The log holds the newest writes, so the trail's newest messages are theirs, in the same order.
    const messages = this.#trail?.takeLast(unconfirmed?.length ?? 0);
    if (unconfirmed) {
      for (let i = 0; i < unconfirmed.length; i++) {
        const data = unconfirmed[i] as SendData;
        this.#emit(new DropEvent(data, 'unconfirmed', this.now(), messages ? messages[i] : data));
      }
    }
  }

  /** Reports a frame that will not be delivered: each message of a batch, or the one message it carries. */
  #reportDrop(data: SendData, origin: unknown, reason: DropReason): void {
    if (!(origin instanceof BatchOrigin)) this.#emit(new DropEvent(data, reason, this.now(), origin));
    else for (let i = 0; i < origin.frames.length; i++) this.#emit(new DropEvent(origin.frames[i] as SendData, reason, this.now(), origin.messages[i]));
  }

  /**
   * Writes `data` now if it can, else hands it to the delivery layer or the queue (or reports it dropped).
   * Returns true only when it was written to the live socket now.
   */
  sendFrame(data: SendData, request: QueueTag | undefined, origin: unknown): boolean {
    if (this.#delivery !== null) {
      if (this.#readyState >= 2) this.#reportDrop(data, origin, 'closed');
      else this.#delivery.send(data, origin);
      return false;
    }
    const live = this.#live;
    // Restore messages (subscriptions, joins) are not tracked: they are sent again on every open anyway.
    const tracked = request === undefined && !this.#restoring;
    if (live !== null && (this.#restoring || (this.queue.length === 0 && this.#mayWrite(live))) && this.#write(live, data, tracked, origin)) {
      return true;
    }
    if (this.#readyState >= 2) {
      // After close() the data has nowhere to go; say so instead of swallowing it as the DOM does.
      this.#reportDrop(data, origin, 'closed');
      return false;
    }
    // Not open yet, or the socket is already past OPEN without the chart knowing: keep it for the next socket.
    if (this.queue.enqueue(data, this.now(), request, origin) === 'rejected') {
      throw new SocketchartError(
        'ERR_QUEUE_FULL',
        `The outbound queue is full (${this.queue.length} messages, ${this.queue.bytes} bytes) and queue.overflow is 'reject'; wait for 'open' or raise queue.maxMessages / queue.maxBytes.`,
      );
    }
    // Open but held back (backpressure, rate limit, or older messages still waiting): the pump sends it in turn.
    if (live !== null) this.#schedulePump();
    return false;
  }

  /** Whether the flow limits let one more message onto `socket` now (takes a rate token if so). */
  #mayWrite(socket: TransportSocket): boolean {
    if (this.#highWaterMark !== Infinity && socket.bufferedAmount >= this.#highWaterMark) {
      this.#backpressured = true;
      return false;
    }
    return this.#bucket === null || this.#bucket.take(this.now());
  }

  /** Sends queued messages while the flow limits allow; re-arms itself until the queue is empty and drained. */
  #pump(): void {
    this.#pumpTimer = null;
    const socket = this.#live;
    if (socket === null) return;
    if (this.#delivery !== null) {
      // The delivery layer holds the messages; it writes while the limits allow, and asks again if they stop it.
      this.#delivery.resume?.();
      if (this.#pumpTimer === null) this.#drained(socket);
      return;
    }
    let stalled = false;
    const empty = this.queue.drainWhile(
      () => !stalled && this.#mayWrite(socket),
      (data, request, origin) => {
        // A request settled while it waited (timed out, aborted, failed on a lost socket) must not go out now.
        if (request?.settled) return;
        if (this.#write(socket, data, request === undefined, origin)) {
          if (request) request.sentOn = socket;
        } else {
          // The socket is past OPEN before the chart knows: keep the message for the next socket.
          stalled = true;
          this.queue.requeueFront(data, this.now(), request, origin);
        }
      },
      this.now(),
    );
    if (stalled) return;
    if (!empty) {
      this.#schedulePump();
      return;
    }
    this.#drained(socket);
  }

  /** Nothing waits any more: if sends had to wait for the socket's buffer, say when it is low again. */
  #drained(socket: TransportSocket): void {
    if (this.#backpressured) {
      if (socket.bufferedAmount <= this.#lowWaterMark) {
        this.#backpressured = false;
        this.#emit(new DrainEvent(socket.bufferedAmount, this.now()));
      } else this.#schedulePump();
    }
  }

  #schedulePump(): void {
    if (this.#pumpTimer !== null) return;
    const waitForToken = this.#bucket && !this.#backpressured ? this.#bucket.wait(this.now()) : 0;
    // The socket has no portable drain signal, so a backpressured pump polls its buffer at frame rate.
    const delay = this.#backpressured ? Math.max(16, waitForToken) : waitForToken;
    this.#pumpTimer = this.timers().setTimeout(() => this.#pump(), delay);
  }

  /**
   * The binaryType sockets are opened with: the user's, except that a delivery layer must read binary frames
   * synchronously (their sequence header), so it gets ArrayBuffers and hands the user Blobs after unwrapping.
   */
  #wireBinaryType(): BinaryType {
    return this.#delivery !== null && this.#binaryType === 'blob' ? 'arraybuffer' : this.#binaryType;
  }

  #createDelivery(factory: DeliveryFactory): DeliveryLayer {
    if (typeof factory !== 'function') {
      throw new SocketchartError('ERR_INVALID_OPTION', `Option \`delivery\` must be a factory such as atLeastOnce(); got ${describe(factory)}.`);
    }
    const layer = this.#buildDelivery(factory);
    const complete =
      typeof layer === 'object' && layer !== null &&
      (['send', 'inbound', 'opened', 'lost', 'ended'] as const).every((name) => typeof layer[name] === 'function');
    if (!complete) {
      throw new SocketchartError('ERR_INVALID_OPTION', `Option \`delivery\` must return a delivery layer (send, inbound, opened, lost, ended), e.g. atLeastOnce(); got ${describe(layer)}.`);
    }
    return layer;
  }

  #buildDelivery(factory: DeliveryFactory): DeliveryLayer {
    const timers = this.timers();
    return factory({
      write: (frame) => {
        const live = this.#live;
        if (live === null || !live.send(frame)) return false;
        this.counters.countOut(sizeOf(frame), this.now());
        return true;
      },
      mayWrite: () => this.#live !== null && this.#mayWrite(this.#live),
      waitToWrite: () => this.#schedulePump(),
      drop: (data, reason, message = data) => this.#reportDrop(data, message, reason),
      setTimeout: timers.setTimeout,
      clearTimeout: timers.clearTimeout,
    });
  }

  /** Subprotocols the delivery layer needs offered. */
  get deliveryProtocols(): readonly string[] {
    return this.#delivery?.protocols ?? [];
  }

  #stopPump(): void {
    if (this.#pumpTimer !== null) this.timers().clearTimeout(this.#pumpTimer);
    this.#pumpTimer = null;
  }

  /** The checks every outbound frame passes when it is accepted, so one written later obeys the same limits. */
  checkOutbound(data: SendData): void {
    if (this.#maxMessageSize !== Infinity) {
      const size = byteLengthOf(data);
      if (size > this.#maxMessageSize) {
        throw new SocketchartError(
          'ERR_MESSAGE_TOO_LARGE',
          `The message is ${size} bytes; maxMessageSize is ${this.#maxMessageSize}. Split it (see chunking in the README) or raise maxMessageSize.`,
        );
      }
    }
    if (this.#chunker !== null && typeof data !== 'string') this.#chunker.check(data);
  }

  request<R>(body: unknown, options: RequestOptions): Promise<R> {
    if (this.#requester === null) return Promise.reject(missingPlugin('request()', 'requests', 'requests()'));
    return this.#requester.request(body, options) as Promise<R>;
  }

  get live(): TransportSocket | null {
    return this.#live;
  }

  get announced(): TransportSocket | null {
    return this.#announced;
  }

  get delivering(): boolean {
    return this.#delivery !== null;
  }

  /** Runs `hook` on every open from now on (and now, if open). Returns the function that stops it. */
  onEveryOpen(hook: () => void): () => void {
    this.#everyOpen = [...this.#everyOpen, hook];
    if (this.#live !== null) this.#runHook(hook);
    return () => {
      this.#everyOpen = this.#everyOpen.filter((h) => h !== hook);
    };
  }

  #runHook(hook: () => void): void {
    try {
      hook();
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  metrics(): ConnectionMetrics {
    const now = this.now();
    const c = this.counters;
    const open = c.openedAt >= 0;
    const lastSecond = c.lastSecond(now);
    return {
      connectedSince: open ? c.openedAt : null,
      uptime: open ? now - c.openedAt : 0,
      totalUptime: c.closedUptime + (open ? now - c.openedAt : 0),
      reconnects: Math.max(0, c.opens - 1),
      messagesIn: c.messagesIn,
      messagesOut: c.messagesOut,
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
      lastClose: c.lastClose,
      rtt: this.#rtt,
      queueLength: this.queue.length,
      queueBytes: this.queue.bytes,
      unconfirmedMessages: this.#receipts?.length ?? 0,
      unconfirmedUntracked: this.#receipts?.untracked ?? 0,
      messagesInLastSecond: lastSecond.messagesIn,
      messagesOutLastSecond: lastSecond.messagesOut,
      bytesInLastSecond: lastSecond.bytesIn,
      bytesOutLastSecond: lastSecond.bytesOut,
    };
  }

  timers(): Timers {
    const clock = this.#clock;
    if (clock) return { setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (id) => clock.clearTimeout(id as never) };
    return { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>) };
  }

  whenOpen(timeout: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    if (this.#readyState === 1) return Promise.resolve();
    if (this.#readyState === 3) return Promise.reject(this.closedError());
    return new Promise<void>((resolve, reject) => {
      let timer: unknown;
      const settle = () => {
        if (timer !== undefined) (this.#clock ?? globalThis).clearTimeout(timer as never);
        signal?.removeEventListener('abort', onAbort);
        this.#openWaiters = this.#openWaiters.filter((w) => w !== waiter);
      };
      const waiter: OpenWaiter = {
        resolve: () => (settle(), resolve()),
        reject: (error) => (settle(), reject(error)),
      };
      const onAbort = () => waiter.reject(abortReason(signal as AbortSignal));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeout !== undefined) {
        timer = (this.#clock ?? globalThis).setTimeout(
          () =>
            waiter.reject(
              new SocketchartError('ERR_OPEN_TIMEOUT', `The connection did not open within ${timeout} ms (state: ${this.#path}).`),
            ),
          timeout,
        );
      }
      this.#openWaiters = [...this.#openWaiters, waiter];
    });
  }

  // ---- ConnectionHost: sockets --------------------------------------------------------------------------------

  openRequest(): OpenRequest | Promise<OpenRequest> {
    const url = this.#urlSource;
    const protocols = this.#protocolsSource;
    const headers = this.#headersSource;
    const auth = this.#auth;
    if (typeof url !== 'function' && typeof protocols !== 'function' && typeof headers !== 'function' && auth === null) {
      return this.#request(url as string, protocols, headers, null);
    }
    // Providers run from a microtask, never inside createConnection()/reconnect(): one that throws at once must
    // fail the attempt after the caller had the chance to attach listeners (as WHATWG fires nothing from the
    // constructor).
    return Promise.resolve().then(() => Promise.all([
      typeof url === 'function' ? url() : url,
      typeof protocols === 'function' ? protocols() : protocols,
      typeof headers === 'function' ? headers() : headers,
      auth ? auth.token() : null,
    ])).then(([u, p, h, token]) => this.#request(parseSocketUrl(u), parseProtocols(p), h, token));
  }

  #request(
    url: string,
    protocols: string | string[],
    headers: Record<string, string> | undefined,
    token: string | null,
  ): OpenRequest {
    const auth = this.#auth;
    this.#url = url;
    if (auth && token !== null) {
      if (typeof token !== 'string') {
        throw new SocketchartError('ERR_INVALID_OPTION', 'auth.token() must give a string (or a promise of one).');
      }
      if (auth.mode === 'query') {
        const withToken = new URL(url);
        withToken.searchParams.set(auth.queryParam, token);
        url = withToken.href;
        withToken.searchParams.set(auth.queryParam, 'REDACTED');
        this.#url = withToken.href; // what `conn.url` shows: never the token
      } else if (auth.mode === 'header') {
        headers = { ...headers, [auth.header]: `Bearer ${token}` };
      } else if (auth.mode === 'message') {
        this.#token = token;
      }
    }
    const offered = typeof protocols === 'string' ? [protocols] : protocols;
    const extra = this.#delivery?.protocols ?? [];
    const request: OpenRequest = {
      url,
      protocols: extra.length > 0 ? [...offered, ...extra.filter((p) => !offered.includes(p))] : offered,
      binaryType: this.#wireBinaryType(),
    };
    if (headers) request.headers = headers;
    return request;
  }

  attach(socket: TransportSocket): void {
    this.#socket = socket;
    this.#heldDuringAuth?.clear();
  }

  handshakeDone(socket: TransportSocket, info: { protocol: string; extensions: string }): void {
    if (socket !== this.#socket) return;
    this.#protocol = info.protocol;
    this.#extensions = info.extensions;
  }

  detach(socket: TransportSocket): void {
    if (this.#socket === socket) this.#socket = null;
    if (this.#live === socket) this.#live = null;
  }

  deliver(socket: TransportSocket, frame: unknown): void {
    if (socket !== this.#announced) {
      if (socket === this.#socket) this.#beforeOpen(frame);
      return;
    }
    this.#inbound++;
    let data = this.#delivery === null ? frame : this.#delivery.inbound(frame);
    if (data === NO_MESSAGE) return;
    if (this.#delivery !== null && this.#binaryType === 'blob' && data instanceof ArrayBuffer) data = new Blob([data]);
    // Messages held during auth go first: anything newer waits behind them, so arrival order holds.
    if (this.#heldDuringAuth !== null && this.#heldDuringAuth.size > 0) {
      this.#hold(data);
      return;
    }
    const isPong = this.#heartbeat?.isPong;
    if (isPong && this.#matchesPong(isPong, data)) {
      this.#receipts?.messagePonged();
      this.#ponged();
      return;
    }
    this.#dispatchMessage(data);
  }

  #dispatchMessage(frame: unknown): void {
    // One clock read per inbound message: the metrics and the event's timeStamp share it.
    const at = this.now();
    this.counters.countIn(sizeOf(frame), at);
    let data = frame;
    if (this.#chunker !== null) {
      try {
        data = this.#chunker.accept(frame);
      } catch (error) {
        this.invalid(frame, error);
        return;
      }
      if (data === undefined) return;
    }
    const split = this.#batcher?.split;
    if (split) {
      let parts: unknown[] | undefined;
      try {
        parts = split(data);
      } catch (error) {
        this.invalid(data, error);
        return;
      }
      if (parts !== undefined) {
        for (const part of parts) this.#decodeAndRoute(part, at);
        return;
      }
    }
    this.#decodeAndRoute(data, at);
  }

  #decodeAndRoute(data: unknown, at: number): void {
    let message = data;
    if (this.#codec !== rawCodec) {
      try {
        message = this.#codec.decode(data);
      } catch (error) {
        this.invalid(data, error);
        return;
      }
    }
    if (this.#validator !== null) this.#validator.accept(data, message, at);
    else this.route(message, at);
  }

  invalid(data: unknown, problem: unknown): void {
    const event = new InvalidMessageEvent(data, problem, this.now());
    event.target = this.#facade;
    this.listeners.dispatch(event, null);
  }

  /** Like #invalid, but safe mid-transition: the event waits for the commit like the chart's own. */
  reportInvalid(data: unknown, problem: unknown): void {
    this.#emit(new InvalidMessageEvent(data, problem, this.now()));
  }

  /** The announced socket is over: partial chunked messages die with it (chunk ids restart per socket). */
  #endInbound(): void {
    this.#chunker?.reset();
  }

  route(message: unknown, at: number): void {
    if (this.#requester?.settle(message)) return;
    this.#router?.route(message);
    this.#deliverMessage(message, at);
  }

  #deliverMessage(data: unknown, at: number): void {
    const facade = this.#facade;
    if (facade.onmessage === null && !this.listeners.has('message')) return;
    const event = new SocketMessageEvent(data, this.#url, at);
    event.target = facade;
    // A reply sent from the listener happens in the instant the event carries: it shares that clock read.
    const outer = this.#dispatchAt;
    this.#dispatchAt = at;
    try {
      this.listeners.dispatch(event, facade.onmessage);
    } finally {
      this.#dispatchAt = outer;
    }
  }

  pong(socket: TransportSocket, data?: Uint8Array): void {
    if (socket !== this.#announced) return;
    // A confirmation pong answers the data plane's ping, not the heartbeat's.
    if (this.#receipts?.pong(data)) return;
    this.#ponged();
  }

  /** A message on a socket that is not open yet: only the auth exchange happens there. */
  #beforeOpen(data: unknown): void {
    const auth = this.#auth;
    const report = this.#authVerdict;
    // Only the auth exchange (the invoked actor of `connecting.authenticating`) listens before `open`.
    if (auth === null || report === null) return;
    this.#inbound++;
    let verdict: 'ack' | 'nack' | 'other';
    try {
      verdict = auth.isAck(data) ? 'ack' : auth.isNack(data) ? 'nack' : 'other';
    } catch (error) {
      this.reportCallbackError('auth.isAck/isNack', error);
      this.#flush();
      verdict = 'other';
    }
    if (verdict === 'ack') report({ type: 'AUTH.OK' });
    else if (verdict === 'nack') report({ type: 'AUTH.FAIL', reason: 'Authentication refused' });
    else this.#hold(data);
  }

  /** Keeps a message that came before `open`; past the queue's bounds it is reported instead of held. */
  #hold(data: unknown): void {
    const held = (this.#heldDuringAuth ??= new HeldMessages(this.#holdLimits.maxMessages, this.#holdLimits.maxBytes));
    if (held.hold(data, sizeOf(data))) return;
    const { maxMessages, maxBytes } = this.#holdLimits;
    this.reportInvalid(
      data,
      new SocketchartError('ERR_QUEUE_FULL', `The server sent more than ${maxMessages} messages or ${maxBytes} bytes before acknowledging authentication; this one was discarded (the bounds are queue.maxMessages and queue.maxBytes).`),
    );
  }

  #matchesPong(isPong: (data: unknown) => boolean, data: unknown): boolean {
    try {
      return isPong(data);
    } catch (error) {
      this.reportCallbackError('heartbeat.isPong', error);
      this.#flush();
      return false;
    }
  }

  /** Delivers what arrived during auth after the ack: right after `open`, in arrival order. */
  #releaseHeld(): void {
    const socket = this.#announced;
    const held = this.#heldDuringAuth;
    if (held === null) return;
    // A listener may close or replace the socket mid-release: what is left belonged to a socket that is gone.
    while (held.size > 0 && this.#announced === socket) this.#dispatchMessage(held.shift());
    held.clear();
  }

  #ponged(): void {
    if (this.#pingSentAt >= 0) {
      this.#rtt = this.now() - this.#pingSentAt;
      this.#pingSentAt = -1;
    }
    this.actor.send({ type: 'PONG' });
  }

  /** The last round-trip time measured by the heartbeat, in ms (null before the first pong). */
  get rtt(): number | null {
    return this.#rtt;
  }

  // ---- ConnectionHost: notifications (called by the machine's actions, mid-transition) ------------------------

  /**
   * Runs this attempt's auth exchange for the chart's `authExchange` actor: sends the auth message, then sorts the
   * frames that arrive before `open` into the ack, a nack, or messages held for after `open`. Returns its end.
   */
  authenticate(report: (verdict: AuthVerdict) => void): () => void {
    this.#authVerdict = report;
    const token = this.#token;
    this.#token = null;
    const auth = this.#auth;
    if (auth !== null && token !== null && this.#socket !== null) {
      let message: SendData | null = null;
      try {
        message = auth.message(token);
      } catch (error) {
        this.reportCallbackError('auth.message', error);
        report({ type: 'AUTH.FAIL', reason: 'auth.message threw' });
      }
      if (message !== null) this.#socket.send(message);
    }
    return () => {
      if (this.#authVerdict === report) this.#authVerdict = null;
    };
  }

  sendPing(): void {
    const heartbeat = this.#heartbeat;
    const socket = this.#announced;
    if (!heartbeat || !socket) return;
    this.#pingSentAt = this.now();
    // The server answers a ping after reading everything written before it: its pong confirms those writes.
    if (heartbeat.mode === 'protocol') socket.ping?.(this.#receipts?.heartbeatPing());
    else if (heartbeat.mode === 'message') {
      try {
        if (socket.send(heartbeat.ping())) this.#receipts?.messagePingSent();
      } catch (error) {
        // No ping goes out, so the probe times out and the socket is replaced: loud, not stuck.
        this.reportCallbackError('heartbeat.ping', error);
      }
    }
  }

  inboundCount(): number {
    return this.#inbound;
  }


  isOnline(): boolean {
    return this.#environment.isOnline();
  }

  opened(): void {
    this.#inTransition = true;
    const socket = this.#socket as TransportSocket;
    this.#announced = socket;
    this.#live = socket;
    this.#rtt = null; // a new socket, a new path: no round trip measured on it yet
    this.#endInbound(); // normally done when the last socket ended; a new socket never inherits partial messages
    // Normally settled when the last socket ended; if some path missed that, report rather than forget.
    this.#settleUnconfirmed(false);
    this.#receipts?.opened();
    this.counters.opened(this.now());
    // The open sequence, in order: session restore (joins, subscriptions), pending requests, the queue; all before
    // anything an `open` listener sends.
    this.#delivery?.opened();
    // A batch still collecting from before the open is part of the queue: it must not overtake the restore.
    this.#batcher?.intoQueue();
    this.#restoring = true;
    for (const hook of this.#everyOpen) this.#runHook(hook);
    this.#requester?.opened(socket);
    this.#restoring = false;
    this.#pump();
    this.#queueEvent(new OpenEvent(this.now()));
    // Messages the server sent around its auth ack are released right after the `open` event (see #flush).
  }

  leftOpen(): void {
    this.#live = null;
    this.#stopPump();
    this.#backpressured = false;
  }

  disconnected(close: CloseInfo): void {
    this.#inTransition = true;
    this.#live = null;
    // Not the end of a handshake the client started (that ends in `closed`): nothing proves receipt.
    this.#settleUnconfirmed(false);
    this.#delivery?.lost();
    this.counters.closed(this.now());
    this.counters.lastClose = close;
    this.#requester?.lost(close);
    if (this.#announced !== null) {
      this.#announced = null;
      this.#endInbound();
      this.#emit(new SocketCloseEvent(close, undefined, this.now()));
    }
  }

  retrying(retry: number, delay: number): void {
    this.#inTransition = true;
    this.#emit(new ReconnectingEvent(retry, delay, this.now()));
  }

  closed(reason: ClosedReason): void {
    this.#inTransition = true;
    this.#live = null;
    this.#announced = null;
    this.#endInbound();
    this.#closedBy = reason;
    this.#settleUnconfirmed(reason.kind === 'user' && reason.wasClean);
    this.counters.closed(this.now());
    this.counters.lastClose = { code: reason.code, reason: reason.reason, wasClean: reason.wasClean };
    this.#requester?.ended(this.closedError());
    this.#delivery?.ended();
    this.#batcher?.drop();
    this.#stopEnvironment?.();
    this.#stopEnvironment = null;
    this.queue.clear('closed');
    if (reason.kind === 'giveup') this.#emit(new GiveupEvent(reason, this.now()));
    this.#emit(new SocketCloseEvent(reason, reason, this.now()));
  }

  failed(error: Error): void {
    this.#inTransition = true;
    this.#emit(new SocketErrorEvent(error, this.now()));
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  #queueEvent(event: SocketchartEvent): void {
    if (this.#pending === NONE) this.#pending = [];
    this.#pending.push(event);
  }

  /** Fire `event` now, or, while the machine is mid-transition, once its snapshot is committed. */
  #emit(event: SocketchartEvent): void {
    this.#queueEvent(event);
    if (!this.#inTransition) this.#flush();
  }

  /** The machine committed a snapshot: update what the facade shows, then fire what the transition caused. */
  #committed(cause: { type: string }): void {
    this.#inTransition = false;
    const snapshot = this.actor.getSnapshot();
    const from = this.#path;
    const to = statePathOf(snapshot);
    this.#path = to;
    this.#readyState = readyStateOf(snapshot);
    if (from !== to) {
      if (this.#pending === NONE) this.#pending = [];
      this.#pending.unshift(new StateChangeEvent(from, to, cause, this.now()));
    }
    this.#flush();
  }

  #flush(): void {
    const facade = this.#facade as unknown as Record<string, Handler>;
    while (this.#pending.length > 0) {
      const event = this.#pending.shift() as SocketchartEvent;
      event.target = facade;
      if (event.type === 'open') this.#settleWaiters(null);
      else if (event.type === 'close' && (event as SocketCloseEvent).closedBy) this.#settleWaiters(this.closedError());
      this.listeners.dispatch(event, facade[`on${event.type}`]);
      if (event.type === 'open') this.#releaseHeld();
    }
  }

  #settleWaiters(error: Error | null): void {
    const waiters = this.#openWaiters;
    this.#openWaiters = NONE;
    for (const waiter of waiters) {
      if (error) waiter.reject(error);
      else waiter.resolve();
    }
  }

  closedError(): SocketchartError {
    const by = this.#closedBy;
    const detail = by ? ` (${by.kind}: ${by.code}${by.reason ? ` ${by.reason}` : ''})` : '';
    return new SocketchartError('ERR_CONNECTION_CLOSED', `The connection is closed${detail}; call reconnect() to start again.`);
  }

  #watchEnvironment(): void {
    if (this.#stopEnvironment) return;
    this.#stopEnvironment = this.#environment.subscribe({
      online: () => this.actor.send({ type: 'NETWORK.ONLINE' }),
      offline: () => this.actor.send({ type: 'NETWORK.OFFLINE' }),
      visible: () => this.actor.send({ type: 'PAGE.VISIBLE' }),
    });
  }
}

/** A method whose plug-in the app did not pass: say which import gives it. */
function missingPlugin(method: string, option: string, call: string): SocketchartError {
  return new SocketchartError(
    'ERR_PLUGIN_MISSING',
    `${method} needs the ${option} plug-in: import { ${option} } from 'socketchart/${option}' and pass createConnection(url, { ${option}: ${call} }).`,
  );
}
