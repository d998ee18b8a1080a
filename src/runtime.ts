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
import { SocketchartError } from './errors.js';
import {
  GiveupEvent,
  OpenEvent,
  ReconnectingEvent,
  SocketCloseEvent,
  SocketErrorEvent,
  type SocketchartEvent,
} from './events.js';
import type { ConnectionClock, ConnectionOptions, PerAttempt, ResolvedOptions } from './options.js';
import type { EnvironmentSource } from './policies/environment.js';
import type { QueueTag } from './policies/queue.js';
import { type Codec, rawCodec } from './messages/codec.js';
import type { RequestOptions } from './messages/requests.js';
import type { Batcher, Chunker, PluginHost, Requester, Router, Timers } from './plugins/types.js';
import { type ConnectionMetrics, MetricsCounters, readMetrics, sizeOf } from './metrics.js';
import { readyStateOf, statePathOf } from './statePath.js';
import { ConnectionEvents, type HandlerSlots } from './host/events.js';
import type { BinaryType, CloseInfo, OpenRequest, Transport, TransportSocket } from './transports/types.js';
import { FlowGate } from './outbound/flowGate.js';
import { LayeredDelivery } from './outbound/layered.js';
import { PlainDelivery } from './outbound/plain.js';
import type { Outbound } from './outbound/types.js';
import { InboundPipeline } from './inbound/pipeline.js';
import { AuthExchange } from './host/authExchange.js';
import { guarded, jitter } from './host/guards.js';
import { HeartbeatProbe } from './host/heartbeat.js';
import { OpenRequestSource } from './host/openRequest.js';
import { OpenWaiters } from './host/openWaiters.js';

export type { HandlerSlots } from './host/events.js';

/** The shared empty list: per-connection lists are allocated only when something goes in them. */
const NONE = Object.freeze([]) as never[];

/**
 * The host of one `Connection`: it bridges the facade and the chart's actor (sockets, policy, notifications),
 * fires the events the chart causes, and wires the parts that carry messages: the outbound side (a delivery layer,
 * plain or the app's, behind a flow gate: src/outbound/), the inbound pipeline (src/inbound/), the heartbeat probe,
 * the open request and the auth exchange (src/host/). Its events and the state the facade shows are its base,
 * `ConnectionEvents` (src/host/events.ts).
 */
export class ConnectionRuntime extends ConnectionEvents implements ConnectionHost, PluginHost {
  readonly transport: Transport;
  readonly policy: ConnectionPolicy;
  readonly actor: Actor<ConnectionMachine>;
  readonly counters = new MetricsCounters();
  /** The app's hook, run by the backoff's invoked `retryWait` actor (see the chart). */
  readonly retryWait: ConnectionOptions['retryWait'];
  readonly raw: boolean;

  readonly #startClosed: boolean;
  readonly #clock: ConnectionClock | undefined;
  readonly #environment: EnvironmentSource;
  readonly #request: OpenRequestSource;
  readonly #codec: Codec<unknown, unknown>;
  readonly #maxMessageSize: number;
  /** The message plug-ins the app passed (null: not imported); see plugins/types.ts for where each is called. */
  readonly #chunker: Chunker | null;
  readonly #batcher: Batcher | null;
  readonly #requester: Requester | null;
  readonly #router: Router | null;
  readonly #gate: FlowGate;
  /** Where app messages go: plain mode or the app's delivery layer, the same to this class. */
  readonly #outbound: Outbound;
  /** Plain mode's unconfirmed-write tracking (the heartbeat's pongs confirm writes too); null when off. */
  readonly #receipts: PlainDelivery['receipts'];
  readonly #inbound: InboundPipeline;
  readonly #heartbeat: HeartbeatProbe | null;
  readonly #auth: AuthExchange | null;

  /** The current attempt's socket, from creation to the end of the attempt. */
  #socket: TransportSocket | null = null;
  /** The socket `send()` writes to: set exactly while the chart is in `open`. */
  #live: TransportSocket | null = null;
  /** The socket whose `open` was announced and whose `close` was not yet: inbound messages come only from it. */
  #announced: TransportSocket | null = null;
  #binaryType: BinaryType;
  #protocol = '';
  #extensions = '';
  #waiters: OpenWaiters | null = null;
  #stopEnvironment: (() => void) | null = null;
  #closedBy: ClosedReason | null = null;
  /** `onEveryOpen` hooks (joins, subscriptions), run on every open before the queue is flushed. */
  #everyOpen: Array<() => void> = NONE;
  /** True while the open sequence writes restore messages: they go to the socket ahead of the queue. */
  #restoring = false;

  constructor(
    facade: HandlerSlots,
    url: PerAttempt<string | URL>,
    options: ConnectionOptions,
    resolved: ResolvedOptions,
    environment: EnvironmentSource,
  ) {
    super(facade);
    this.#startClosed = resolved.startClosed;
    this.transport = resolved.transport;
    this.#clock = options.clock;
    this.#environment = environment;
    this.retryWait = options.retryWait;
    this.#request = new OpenRequestSource(url, options, resolved.auth);
    this.#binaryType = options.binaryType ?? resolved.transport.defaultBinaryType;
    const report = (name: string, error: unknown) => this.reportCallbackError(name, error);
    this.policy = {
      backoff: resolved.backoff,
      closeCodes: guarded('closeCodes', options.closeCodes, undefined, report),
      shouldReconnect: guarded('shouldReconnect', options.shouldReconnect, true, report),
      connectTimeout: resolved.connectTimeout,
      closeTimeout: resolved.closeTimeout,
      waitsForRetryHook: options.retryWait !== undefined,
      random: options.random ? jitter(options.random, report) : Math.random,
      auth: resolved.auth
        ? { byMessage: resolved.auth.mode === 'message', timeout: resolved.auth.timeout, refreshCodes: resolved.auth.refreshCodes }
        : null,
      // The resolved group carries the chart's two figures (interval, timeout) itself: no copy per connection.
      heartbeat: resolved.heartbeat,
    };
    this.#codec = (options.codec ?? rawCodec) as Codec<unknown, unknown>;
    this.raw = this.#codec === rawCodec;
    this.#maxMessageSize = resolved.maxMessageSize;
    this.#gate = new FlowGate(resolved.flow, this);
    if (options.delivery !== undefined) {
      this.#outbound = new LayeredDelivery(options.delivery, this, this.#gate, resolved.queue);
      this.#receipts = null;
    } else {
      const plain = new PlainDelivery(this, this.#gate, resolved.queue, resolved.unconfirmed, resolved.transport.canPing === true, this.raw);
      this.#outbound = plain;
      this.#receipts = plain.receipts;
    }
    this.#chunker = resolved.chunking?.create(this) ?? null;
    this.#batcher = resolved.batching?.create(this) ?? null;
    this.#requester = resolved.requests?.create(this) ?? null;
    const validator = resolved.schema?.create(this) ?? null;
    this.#router = resolved.router?.create(this) ?? null;
    this.#heartbeat = resolved.heartbeat ? new HeartbeatProbe(resolved.heartbeat, this, this.#receipts) : null;
    this.#auth = resolved.auth ? new AuthExchange(resolved.auth, this) : null;
    this.#inbound = new InboundPipeline(this, facade, this.listeners, this.#outbound, {
      codec: this.#codec,
      chunker: this.#chunker,
      batcher: this.#batcher,
      validator,
      requester: this.#requester,
      router: this.#router,
      heartbeat: this.#heartbeat,
      auth: this.#auth,
      queue: resolved.queue,
    });
    const userInspect = options.inspect;
    this.actor = createActor(connectionMachine, {
      input: { host: this },
      ...(options.clock ? { clock: options.clock } : {}),
      inspect: (event: InspectionEvent) => {
        if (event.type === '@xstate.snapshot' && event.actorRef === this.actor) this.committed(this.actor.getSnapshot(), event.event);
        if (typeof userInspect === 'function') userInspect(event);
        else userInspect?.next?.(event);
      },
    });
    this.statePath = statePathOf(this.actor.getSnapshot());
    this.state = readyStateOf(this.actor.getSnapshot());
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
    this.abandoned();
    this.#live = null;
    this.#announced = null;
    this.#inbound.ended();
    this.#gate.stop();
    this.#stopEnvironment?.();
    this.#stopEnvironment = null;
    const reason: ClosedReason = { kind: 'error', code: 1006, reason: `Internal error: ${cause.message}`, wasClean: false, error: cause };
    this.#closedBy = reason;
    this.#outbound.ended(false);
    this.#requester?.ended(this.closedError());
    this.#batcher?.drop();
    this.queueEvent(new SocketErrorEvent(cause, this.now()));
    this.queueEvent(new SocketCloseEvent(reason, reason, this.now()));
    this.flush();
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

  get url(): string {
    return this.#request.url;
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
    if (this.#socket) this.#socket.binaryType = this.wireBinaryType();
  }

  get bufferedAmount(): number {
    return (this.#socket?.bufferedAmount ?? 0) + this.#outbound.bytesHeld;
  }

  /** The last round-trip time measured by the heartbeat, in ms (null before the first pong). */
  get rtt(): number | null {
    return this.#heartbeat?.rtt ?? null;
  }

  now(): number {
    return this.#clock?.now ? this.#clock.now() : Date.now();
  }

  /**
   * What inspectors and loggers see of the host in the chart's context: a summary, never sockets, listeners or
   * tokens (JSON.stringify calls this).
   */
  toJSON(): { url: string; transport: string } {
    return { url: this.#request.url, transport: this.transport.name };
  }

  metrics(): ConnectionMetrics {
    const receipts = this.#receipts;
    return readMetrics(this.counters, this.now(), {
      rtt: this.rtt,
      queueLength: this.#outbound.queueLength,
      queueBytes: this.#outbound.queueBytes,
      unconfirmedMessages: receipts?.length ?? 0,
      unconfirmedUntracked: receipts?.untracked ?? 0,
    });
  }

  timers(): Timers {
    const clock = this.#clock;
    if (clock) return { setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (id) => clock.clearTimeout(id as never) };
    return { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>) };
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
    if (this.state === 2 || this.state === 3) return;
    // What was sent before close() goes out before the close frame.
    this.#batcher?.flush();
    this.actor.send({ type: 'CLOSE', code, reason });
  }

  send(message: unknown): void {
    const data = this.#codec === rawCodec ? (message as SendData) : this.encode(message);
    if (typeof data !== 'string') assertSendData(data);
    this.checkOutbound(data);
    if (this.#batcher !== null && this.state < 2 && !this.#restoring) {
      this.#batcher.add(data, message);
      return;
    }
    this.#outbound.send(data, message);
  }

  request<R>(body: unknown, options: RequestOptions): Promise<R> {
    if (this.#requester === null) return Promise.reject(missingPlugin('request()', 'requests', 'requests()'));
    return this.#requester.request(body, options) as Promise<R>;
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

  whenOpen(timeout: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    if (this.state === 1) return Promise.resolve();
    if (this.state === 3) return Promise.reject(this.closedError());
    return (this.#waiters ??= new OpenWaiters(this.#clock)).wait(timeout, signal, () => this.statePath);
  }

  // ---- PluginHost, and the outbound side's host ---------------------------------------------------------------

  get live(): TransportSocket | null {
    return this.#live;
  }

  get announced(): TransportSocket | null {
    return this.#announced;
  }

  /** The current attempt's socket. */
  get socket(): TransportSocket | null {
    return this.#socket;
  }

  get restoring(): boolean {
    return this.#restoring;
  }

  get delivering(): boolean {
    return this.#outbound instanceof LayeredDelivery;
  }

  /** Subprotocols the delivery layer needs offered. */
  get deliveryProtocols(): readonly string[] {
    return this.#outbound.protocols;
  }

  /** The binaryType sockets are opened with (see `Outbound.wireBinaryType`). */
  wireBinaryType(): BinaryType {
    return this.#outbound.wireBinaryType(this.#binaryType);
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

  /**
   * Writes `data` now if it can, else hands it to the delivery layer or the queue (or reports it dropped).
   * Returns true only when it was written to the live socket now.
   */
  sendFrame(data: SendData, request: QueueTag | undefined, origin: unknown): boolean {
    return this.#outbound.send(data, origin, request) === true;
  }

  /**
   * Writes one message on `socket`: as one frame, or, with chunking, as its chunks, and counts it. A message is
   * split only here, at the moment it is written, so the queue and its drop reports always deal in whole messages.
   */
  writeFrame(socket: TransportSocket, data: SendData): boolean {
    const frames = this.#chunker?.split(data);
    if (!frames) {
      if (!socket.send(data)) return false;
    } else {
      for (const frame of frames) {
        if (!socket.send(frame)) return false;
      }
    }
    const at = this.#inbound.dispatchAt;
    this.counters.countOut(sizeOf(data), at >= 0 ? at : this.now());
    return true;
  }

  /** For plug-ins: requests are never tracked as unconfirmed (an unanswered request already ends loudly). */
  write(socket: TransportSocket, data: SendData, _tracked: boolean): boolean {
    return this.writeFrame(socket, data);
  }

  enqueue(data: SendData, message: unknown): void {
    this.#outbound.enqueue(data, message);
  }

  /** The flow gate lets writes go again: the outbound side writes what it holds. */
  resumeWrites(): boolean | void {
    return this.#outbound.resume();
  }

  invalid(data: unknown, problem: unknown): void {
    this.#inbound.invalid(data, problem);
  }

  route(message: unknown, at: number): void {
    this.#inbound.route(message, at);
  }

  closedError(): SocketchartError {
    const by = this.#closedBy;
    const detail = by ? ` (${by.kind}: ${by.code}${by.reason ? ` ${by.reason}` : ''})` : '';
    return new SocketchartError('ERR_CONNECTION_CLOSED', `The connection is closed${detail}; call reconnect() to start again.`);
  }

  // ---- ConnectionHost: sockets --------------------------------------------------------------------------------

  openRequest(): OpenRequest | Promise<OpenRequest> {
    return this.#request.request(this);
  }

  attach(socket: TransportSocket): void {
    this.#socket = socket;
    this.#inbound.attached();
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
    this.#inbound.deliver(socket, frame);
  }

  pong(socket: TransportSocket, data?: Uint8Array): void {
    if (socket !== this.#announced) return;
    // A confirmation pong answers the data plane's ping, not the heartbeat's.
    if (this.#receipts?.pong(data)) return;
    this.ponged();
  }

  ponged(): void {
    this.#heartbeat?.answered();
    this.actor.send({ type: 'PONG' });
  }

  // ---- ConnectionHost: notifications (called by the machine's actions, mid-transition) ------------------------

  authenticate(report: (verdict: AuthVerdict) => void): () => void {
    return this.#auth?.start(report, this.#request.takeToken(), this.#socket) ?? (() => {});
  }

  sendPing(): void {
    const socket = this.#announced;
    if (socket !== null) this.#heartbeat?.send(socket);
  }

  inboundCount(): number {
    return this.#inbound.count;
  }

  isOnline(): boolean {
    return this.#environment.isOnline();
  }

  opened(): void {
    this.transitioning();
    const socket = this.#socket as TransportSocket;
    this.#announced = socket;
    this.#live = socket;
    this.#heartbeat?.reset();
    this.#inbound.ended(); // normally done when the last socket ended; a new socket never inherits partial messages
    this.counters.opened(this.now());
    // The open sequence, in order: session restore (joins, subscriptions), pending requests, the queue; all before
    // anything an `open` listener sends.
    this.#outbound.opened();
    // A batch still collecting from before the open is part of the queue: it must not overtake the restore.
    this.#batcher?.intoQueue();
    this.#restoring = true;
    for (const hook of this.#everyOpen) this.#runHook(hook);
    this.#requester?.opened(socket);
    this.#restoring = false;
    this.#gate.pump();
    this.queueEvent(new OpenEvent(this.now()));
    // Messages the server sent around its auth ack are released right after the `open` event (see #flush).
  }

  leftOpen(): void {
    this.#live = null;
    this.#gate.stop();
  }

  disconnected(close: CloseInfo): void {
    this.transitioning();
    this.#live = null;
    this.#outbound.lost();
    this.counters.closed(this.now());
    this.counters.lastClose = close;
    this.#requester?.lost(close);
    if (this.#announced !== null) {
      this.#announced = null;
      this.#inbound.ended();
      this.emit(new SocketCloseEvent(close, undefined, this.now()));
    }
  }

  retrying(retry: number, delay: number): void {
    this.transitioning();
    this.emit(new ReconnectingEvent(retry, delay, this.now()));
  }

  closed(reason: ClosedReason): void {
    this.transitioning();
    this.#live = null;
    this.#announced = null;
    this.#inbound.ended();
    this.#closedBy = reason;
    // A closing handshake the client started and the server answered proves receipt of everything written.
    this.#outbound.ended(reason.kind === 'user' && reason.wasClean);
    this.counters.closed(this.now());
    this.counters.lastClose = { code: reason.code, reason: reason.reason, wasClean: reason.wasClean };
    this.#requester?.ended(this.closedError());
    this.#batcher?.drop();
    this.#stopEnvironment?.();
    this.#stopEnvironment = null;
    if (reason.kind === 'giveup') this.emit(new GiveupEvent(reason, this.now()));
    this.emit(new SocketCloseEvent(reason, reason, this.now()));
  }

  failed(error: Error): void {
    this.transitioning();
    this.emit(new SocketErrorEvent(error, this.now()));
  }

  // ---- events -----------------------------------------------------------------------------------------------

  protected firing(event: SocketchartEvent): void {
    if (event.type === 'open') this.#waiters?.settle(null);
    else if (event.type === 'close' && (event as SocketCloseEvent).closedBy) this.#waiters?.settle(this.closedError());
  }

  protected fired(event: SocketchartEvent): void {
    if (event.type === 'open') this.#inbound.releaseHeld();
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
