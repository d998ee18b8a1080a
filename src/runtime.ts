import type { Actor, InspectionEvent, SnapshotFrom } from 'xstate';
import type {
  AuthVerdict,
  ClosedReason,
  ConnectionEmitted,
  ConnectionHost,
  ConnectionMachine,
  ConnectionPolicy,
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
import type { CloseInfo, OpenRequest, TransportSocket } from './transports/types.js';
import { DataPlane } from './host/dataPlane.js';
import type { HandlerSlots } from './host/events.js';
import { OpenRequestSource } from './host/openRequest.js';
import { OpenWaiters } from './host/openWaiters.js';
import { type ChartHome, type ChartWatcher, standaloneHome } from './host/chartHome.js';
import { chartCallbacks, connectionPolicy, watchEnvironment } from './host/policy.js';
import { RestoreHooks } from './host/restore.js';

export type { HandlerSlots } from './host/events.js';

/**
 * The host of one `Connection`: the bridge between the facade and the chart's actor. It gives the chart its
 * sockets and policy, hears what the chart's actions call (`opened`, `disconnected`, `closed`, ...) and turns
 * them into the facade's events, fired after the commit (its base `ConnectionEvents`, src/host/events.ts). The data
 * plane (sockets, outbound, inbound, plug-ins) is its other base, `DataPlane` (src/host/dataPlane.ts).
 */
export class ConnectionRuntime extends DataPlane implements ConnectionHost, ChartWatcher {
  readonly actor: Actor<ConnectionMachine>;
  /** The app's hook, run by the backoff's invoked `retryWait` actor (see the chart). */
  readonly retryWait: ConnectionOptions['retryWait'];
  readonly closeCodes: ConnectionHost['closeCodes'];
  readonly shouldReconnect: ConnectionHost['shouldReconnect'];
  readonly random: () => number;

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
  readonly #home: ChartHome;
  /** The chart's last error as of its last step, and the last one it announced: see `#crashed`. */
  #steppedError: Error | null = null;
  #announcedError: Error | null = null;
  /** Why the connection ended when its chart failed (the chart's context cannot say: it is gone). */
  #crash: ClosedReason | null = null;

  constructor(
    facade: HandlerSlots,
    url: PerAttempt<string | URL>,
    options: ConnectionOptions,
    resolved: ResolvedOptions,
    environment: EnvironmentSource,
    home?: ChartHome,
  ) {
    super(facade, options, resolved);
    this.#startClosed = resolved.startClosed;
    this.#environment = environment;
    this.retryWait = options.retryWait;
    this.#request = new OpenRequestSource(url, options);
    const callbacks = chartCallbacks(options, (name, error) => this.reportCallbackError(name, error));
    this.closeCodes = callbacks.closeCodes;
    this.shouldReconnect = callbacks.shouldReconnect;
    this.random = callbacks.random;
    const policy: ConnectionPolicy = connectionPolicy(options, resolved);
    this.#home = home ?? standaloneHome;
    this.actor = this.#home.adopt({ host: this, policy }, this, options.clock, options.inspect);
    this.announceFromHere();
    this.actor.on('*', (emitted) => this.#heard(emitted as ConnectionEmitted));
    // The backstop: if the chart itself fails (a bug, or a user callback we could not guard), or the app stops its
    // actor, the connection ends visibly: an error, a final close, every queued message reported. It never hangs in
    // a dead state.
    this.actor.subscribe({
      error: (error) => this.#crashed(error),
      complete: () => this.#stopped(),
    });
  }

  /** The chart's own inspection events: a step of a transition, or its commit. */
  chartInspected(event: InspectionEvent): void {
    if (event.type === '@xstate.microstep') {
      this.stepping(event.event);
      this.#steppedError = (event.snapshot as SnapshotFrom<ConnectionMachine>).context.lastError;
    } else if (event.type === '@xstate.snapshot') this.settled();
  }

  protected snapshot(): SnapshotFrom<ConnectionMachine> {
    return this.actor.getSnapshot();
  }

  /**
   * What the chart emitted: the host's part of each moment. XState delivers it once the transition's snapshot is in
   * place, before its observers; the DOM-style events it causes wait for the commit (`settled`), where the
   * transition's `statechange` fires first. So a listener that calls back (send, close, reconnect) finds the host's
   * part done: no socket being left, no watch about to stop.
   */
  #heard(emitted: ConnectionEmitted): void {
    // The connection already ended (its host failed earlier in this same transition): nothing more is said.
    if (this.#crash !== null) return;
    if (emitted.type === 'failed') this.#announcedError = emitted.error;
    try {
      switch (emitted.type) {
        case 'opened':
          return this.opened();
        case 'leftOpen':
          return this.leftOpen();
        case 'disconnected':
          return this.disconnected(emitted.close);
        case 'retrying':
          return this.retrying(emitted.retry, emitted.delay);
        case 'closed':
          return this.closed(emitted.closedBy);
        case 'failed':
          return this.failed(emitted.error);
      }
    } catch (error) {
      // A throw here (a transport of the app's own, say) would escape through XState as an uncaught error: the
      // connection ends as it does when its chart fails, and its chart is stopped with it.
      this.#crashed(error);
      this.#home.release(this.actor);
    }
  }

  #assertAlive(): void {
    if (this.actor.getSnapshot().status === 'active') return;
    const why = this.#crash === null ? "its actor was stopped (conn.actor.stop())" : `it failed internally (${this.#crash.reason})`;
    throw new SocketchartError('ERR_CONNECTION_CLOSED', `This connection cannot start again: ${why}; create a new one.`);
  }

  /**
   * The app stopped the chart's actor (`conn.actor.stop()`): a connection that was not closed yet ends as a failed
   * chart does; a closed one has said everything already.
   */
  #stopped(): void {
    if (this.#crash !== null || this.actor.getSnapshot().value === 'closed') return;
    this.#ended(new SocketchartError('ERR_CONNECTION_CLOSED', "The connection's actor was stopped (conn.actor.stop()); use close() to end a connection."), 'Actor stopped');
  }

  #crashed(error: unknown): void {
    const cause = error instanceof Error ? error : new Error(String(error));
    // An attempt that failed in the transition the chart failed in: its error was emitted, and XState drops what a
    // failed transition emitted.
    const lost = this.#steppedError;
    if (lost !== null && lost !== this.#announcedError) this.queueEvent(new SocketErrorEvent(lost, this.now()));
    this.#ended(cause, `Internal error: ${cause.message}`);
  }

  /** The chart is gone (failed or stopped): the connection ends here, visibly, with everything it held reported. */
  #ended(cause: Error, why: string): void {
    this.abandoned();
    this.liveSocket = null;
    this.announcedSocket = null;
    this.inboundEnded();
    this.stopWrites();
    this.#stopEnvironment?.();
    this.#stopEnvironment = null;
    const reason: ClosedReason = { kind: 'error', code: 1006, reason: why, wasClean: false, error: cause };
    this.#crash = reason;
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

  /**
   * What inspectors and loggers see of the host where it is passed as an invoked actor's input: a summary, never
   * sockets, listeners or tokens (JSON.stringify calls this). The chart's context holds it under a symbol, which
   * JSON skips.
   */
  toJSON(): { url: string; transport: string } {
    return { url: this.#request.url, transport: this.transport.name };
  }

  /** Why the session last closed: the chart's context says (unless the chart itself failed). */
  get closedBy(): ClosedReason | null {
    return this.#crash ?? this.actor.getSnapshot().context.closedBy;
  }

  closedError(): SocketchartError {
    const by = this.closedBy;
    const detail = by ? ` (${by.kind}: ${by.code}${by.reason ? ` ${by.reason}` : ''})` : '';
    return new SocketchartError('ERR_CONNECTION_CLOSED', `The connection is closed${detail}; call reconnect() to start again.`);
  }

  // ---- user commands ------------------------------------------------------------------------------------------

  connect(): void {
    this.#assertAlive();
    this.actor.send({ type: 'CONNECT' });
  }

  reconnect(): void {
    this.#assertAlive();
    this.actor.send({ type: 'RECONNECT' });
  }

  close(code: number, reason: string): void {
    const state = this.state;
    if (state === 3) return;
    // Closing already: the chart only takes back an open() made meanwhile (see `reopen`).
    if (state === 2) return this.actor.send({ type: 'CLOSE', code, reason });
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
    return (this.#waiters ??= new OpenWaiters(this.clock)).wait(timeout, signal, () => this.path);
  }

  #watchEnvironment(): void {
    this.#stopEnvironment ??= watchEnvironment(this.#environment, this.actor);
  }

  // ---- ConnectionHost: sockets --------------------------------------------------------------------------------

  openRequest(): OpenRequest | Promise<OpenRequest> {
    // Every attempt starts here (the chart's socket actor asks), so the network is watched from a session's first
    // attempt until it closes, whoever started it and however (connect, reconnect, a RECONNECT from the app's machine).
    this.#watchEnvironment();
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
    if (this.current === socket) {
      this.current = null;
      this.inboundDetached();
    }
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

  // ---- what the chart emits (after its transition committed) -----------------------------------------------------

  opened(): void {
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
    this.emit(new OpenEvent(this.now()));
    // Messages the server sent around its auth ack are released right after the `open` event (see `fired`).
  }

  leftOpen(): void {
    this.liveSocket = null;
    this.stopWrites();
  }

  disconnected(close: CloseInfo): void {
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
    this.emit(new ReconnectingEvent(retry, delay, this.now()));
  }

  closed(reason: ClosedReason): void {
    this.liveSocket = null;
    this.announcedSocket = null;
    this.inboundEnded();
    this.inboundClosed();
    this.outbound.ended(this.#closeAnswered(reason));
    this.counters.closed(this.now());
    this.counters.lastClose = { code: reason.code, reason: reason.reason, wasClean: reason.wasClean };
    this.requester?.ended(this.closedError());
    this.batcher?.drop();
    this.#stopEnvironment?.();
    this.#stopEnvironment = null;
    if (reason.kind === 'giveup') this.emit(new GiveupEvent(reason, this.now()));
    this.emit(new SocketCloseEvent(reason, reason, this.now()));
  }

  /**
   * A closing handshake the client started and the server answered proves receipt of everything written before it.
   * Answered means the server's close frame carries our code back (servers echo it, RFC 6455 5.5.1): a close the
   * server started on its own (going away, crossing ours) may come from a server that never read what we wrote.
   */
  #closeAnswered(reason: ClosedReason): boolean {
    if (reason.kind !== 'user' || !reason.wasClean) return false;
    return this.snapshot().context.lastClose?.code === reason.code;
  }

  failed(error: Error): void {
    this.emit(new SocketErrorEvent(error, this.now()));
  }

  // ---- events -------------------------------------------------------------------------------------------------

  protected firing(event: SocketchartEvent): void {
    if (event.type === 'open') this.#waiters?.settle(null);
    // A session's final close: its waiters fail, unless an open() made while it was closing already began the next.
    else if (event.type === 'close' && (event as SocketCloseEvent).closedBy && this.state === 3) this.#waiters?.settle(this.closedError());
  }

  protected fired(event: SocketchartEvent): void {
    if (event.type === 'open') this.releaseHeld();
  }
}
