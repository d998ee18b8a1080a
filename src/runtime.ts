import { type Actor, type InspectionEvent, createActor } from 'xstate';
import {
  type AuthVerdict,
  type ClosedReason,
  type ConnectionHost,
  type ConnectionMachine,
  type ConnectionPolicy,
  connectionMachine,
} from '../machines/connection.js';
import { SocketchartError } from './errors.js';
import {
  GiveupEvent,
  OpenEvent,
  ReconnectingEvent,
  SocketCloseEvent,
  SocketErrorEvent,
  type SocketchartEvent,
} from './events.js';
import type { ConnectionOptions, PerAttempt, ResolvedAuth, ResolvedOptions } from './options.js';
import type { EnvironmentSource } from './policies/environment.js';
import { type ConnectionMetrics, readMetrics } from './metrics.js';
import { readyStateOf, statePathOf } from './statePath.js';
import type { CloseInfo, OpenRequest, TransportSocket } from './transports/types.js';
import { DataPlane } from './host/dataPlane.js';
import type { HandlerSlots } from './host/events.js';
import { OpenRequestSource } from './host/openRequest.js';
import { OpenWaiters } from './host/openWaiters.js';
import { connectionPolicy, watchEnvironment } from './host/policy.js';
import { RestoreHooks } from './host/restore.js';

export type { HandlerSlots } from './host/events.js';

/**
 * The host of one `Connection`: the bridge between the facade and the chart's actor. It gives the chart its
 * sockets and policy, hears what the chart's actions call (`opened`, `disconnected`, `closed`, ...) and turns
 * them into the facade's events, fired after the commit (its base `ConnectionEvents`, src/host/events.ts). The data
 * plane (sockets, outbound, inbound, plug-ins) is its other base, `DataPlane` (src/host/dataPlane.ts).
 */
export class ConnectionRuntime extends DataPlane implements ConnectionHost {
  readonly policy: ConnectionPolicy;
  readonly actor: Actor<ConnectionMachine>;
  /** The app's hook, run by the backoff's invoked `retryWait` actor (see the chart). */
  readonly retryWait: ConnectionOptions['retryWait'];

  readonly #startClosed: boolean;
  readonly #environment: EnvironmentSource;
  readonly #request: OpenRequestSource;
  #protocol = '';
  #extensions = '';
  /** `opened()` promises; made on the first. */
  #waiters: OpenWaiters | null = null;
  /** `onEveryOpen` hooks; made on the first. */
  #restore: RestoreHooks | null = null;
  #stopEnvironment: (() => void) | null = null;
  #closedBy: ClosedReason | null = null;

  constructor(
    facade: HandlerSlots,
    url: PerAttempt<string | URL>,
    options: ConnectionOptions,
    resolved: ResolvedOptions,
    environment: EnvironmentSource,
  ) {
    super(facade, options, resolved);
    this.#startClosed = resolved.startClosed;
    this.#environment = environment;
    this.retryWait = options.retryWait;
    this.#request = new OpenRequestSource(url, options);
    this.policy = connectionPolicy(options, resolved, (name, error) => this.reportCallbackError(name, error));
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
    this.liveSocket = null;
    this.announcedSocket = null;
    this.inboundEnded();
    this.stopWrites();
    this.#stopEnvironment?.();
    this.#stopEnvironment = null;
    const reason: ClosedReason = { kind: 'error', code: 1006, reason: `Internal error: ${cause.message}`, wasClean: false, error: cause };
    this.#closedBy = reason;
    this.outbound.ended(false);
    this.requester?.ended(this.closedError());
    this.batcher?.drop();
    this.queueEvent(new SocketErrorEvent(cause, this.now()));
    this.queueEvent(new SocketCloseEvent(reason, reason, this.now()));
    this.flush();
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

  /**
   * What inspectors and loggers see of the host in the chart's context: a summary, never sockets, listeners or
   * tokens (JSON.stringify calls this).
   */
  toJSON(): { url: string; transport: string } {
    return { url: this.#request.url, transport: this.transport.name };
  }

  metrics(): ConnectionMetrics {
    const receipts = this.receipts;
    return readMetrics(this.counters, this.now(), {
      rtt: this.rtt,
      queueLength: this.outbound.queueLength,
      queueBytes: this.outbound.queueBytes,
      unconfirmedMessages: receipts?.length ?? 0,
      unconfirmedUntracked: receipts?.untracked ?? 0,
    });
  }

  closedError(): SocketchartError {
    const by = this.#closedBy;
    const detail = by ? ` (${by.kind}: ${by.code}${by.reason ? ` ${by.reason}` : ''})` : '';
    return new SocketchartError('ERR_CONNECTION_CLOSED', `The connection is closed${detail}; call reconnect() to start again.`);
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
    this.batcher?.flush();
    this.actor.send({ type: 'CLOSE', code, reason });
  }

  /** Runs `hook` on every open from now on (and now, if open). Returns the function that stops it. */
  onEveryOpen(hook: () => void): () => void {
    return (this.#restore ??= new RestoreHooks()).add(hook, this.liveSocket !== null);
  }

  whenOpen(timeout: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    if (this.state === 1) return Promise.resolve();
    if (this.state === 3) return Promise.reject(this.closedError());
    return (this.#waiters ??= new OpenWaiters(this.clock)).wait(timeout, signal, () => this.statePath);
  }

  #watchEnvironment(): void {
    this.#stopEnvironment ??= watchEnvironment(this.#environment, this.actor);
  }

  // ---- ConnectionHost: sockets --------------------------------------------------------------------------------

  openRequest(): OpenRequest | Promise<OpenRequest> {
    return this.#request.request(this);
  }

  get authOptions(): ResolvedAuth | null {
    return this.auth?.options ?? null;
  }

  holdToken(token: string): void {
    this.auth?.holdToken(token);
  }

  attach(socket: TransportSocket): void {
    this.current = socket;
    this.inboundAttached();
  }

  handshakeDone(socket: TransportSocket, info: { protocol: string; extensions: string }): void {
    if (socket !== this.current) return;
    this.#protocol = info.protocol;
    this.#extensions = info.extensions;
  }

  detach(socket: TransportSocket): void {
    if (this.current === socket) this.current = null;
    if (this.liveSocket === socket) this.liveSocket = null;
  }

  pong(socket: TransportSocket, data?: Uint8Array): void {
    if (socket !== this.announcedSocket) return;
    // A confirmation pong answers the data plane's ping, not the heartbeat's.
    if (this.receipts?.pong(data)) return;
    this.ponged();
  }

  ponged(): void {
    this.heartbeat?.answered(this.now());
    this.actor.send({ type: 'PONG' });
  }

  authenticate(report: (verdict: AuthVerdict) => void): () => void {
    return this.auth?.start(report, this.current) ?? (() => {});
  }

  sendPing(): void {
    const socket = this.announcedSocket;
    if (socket !== null) this.heartbeat?.send(socket, this, this.receipts);
  }

  isOnline(): boolean {
    return this.#environment.isOnline();
  }

  // ---- ConnectionHost: notifications (called by the machine's actions, mid-transition) ------------------------

  opened(): void {
    this.transitioning();
    const socket = this.current as TransportSocket;
    this.announcedSocket = socket;
    this.liveSocket = socket;
    this.heartbeat?.reset();
    this.inboundEnded(); // normally done when the last socket ended; a new socket never inherits partial messages
    this.counters.opened(this.now());
    // The open sequence, in order: session restore (joins, subscriptions), pending requests, the queue; all before
    // anything an `open` listener sends.
    this.outbound.opened();
    // A batch still collecting from before the open is part of the queue: it must not overtake the restore.
    this.batcher?.intoQueue();
    this.restoringNow = true;
    this.#restore?.runAll();
    this.requester?.opened(socket);
    this.restoringNow = false;
    this.pumpWrites();
    this.queueEvent(new OpenEvent(this.now()));
    // Messages the server sent around its auth ack are released right after the `open` event (see `fired`).
  }

  leftOpen(): void {
    this.liveSocket = null;
    this.stopWrites();
  }

  disconnected(close: CloseInfo): void {
    this.transitioning();
    this.liveSocket = null;
    this.outbound.lost();
    this.counters.closed(this.now());
    this.counters.lastClose = close;
    this.requester?.lost(close);
    if (this.announcedSocket !== null) {
      this.announcedSocket = null;
      this.inboundEnded();
      this.emit(new SocketCloseEvent(close, undefined, this.now()));
    }
  }

  retrying(retry: number, delay: number): void {
    this.transitioning();
    this.emit(new ReconnectingEvent(retry, delay, this.now()));
  }

  closed(reason: ClosedReason): void {
    this.transitioning();
    this.liveSocket = null;
    this.announcedSocket = null;
    this.inboundEnded();
    this.#closedBy = reason;
    // A closing handshake the client started and the server answered proves receipt of everything written.
    this.outbound.ended(reason.kind === 'user' && reason.wasClean);
    this.counters.closed(this.now());
    this.counters.lastClose = { code: reason.code, reason: reason.reason, wasClean: reason.wasClean };
    this.requester?.ended(this.closedError());
    this.batcher?.drop();
    this.#stopEnvironment?.();
    this.#stopEnvironment = null;
    if (reason.kind === 'giveup') this.emit(new GiveupEvent(reason, this.now()));
    this.emit(new SocketCloseEvent(reason, reason, this.now()));
  }

  failed(error: Error): void {
    this.transitioning();
    this.emit(new SocketErrorEvent(error, this.now()));
  }

  // ---- events -------------------------------------------------------------------------------------------------

  protected firing(event: SocketchartEvent): void {
    if (event.type === 'open') this.#waiters?.settle(null);
    else if (event.type === 'close' && (event as SocketCloseEvent).closedBy) this.#waiters?.settle(this.closedError());
  }

  protected fired(event: SocketchartEvent): void {
    if (event.type === 'open') this.releaseHeld();
  }
}
