import { type SendData, assertSendData } from '../data.js';
import { SocketchartError, missingPlugin } from '../errors.js';
import { InboundPipeline } from '../inbound/pipeline.js';
import { type Codec, rawCodec } from '../messages/codec.js';
import type { RequestOptions } from '../messages/requests.js';
import { type ConnectionMetrics, MetricsCounters, readMetrics } from '../metrics.js';
import type { ConnectionClock, ConnectionOptions, ResolvedOptions } from '../options.js';
import { FlowGate } from '../outbound/flowGate.js';
import { resolveFlow } from '../policies/flow.js';
import { checkFrame, encodeMessage, writeMessage } from '../outbound/frames.js';
import { PlainDelivery } from '../outbound/plain.js';
import type { Batcher, PluginHost, Router, Timers } from '../plugins/types.js';
import type { OutboundQueue, QueueTag } from '../policies/queue.js';
import type { ReceiptTracker } from '../policies/unconfirmed.js';
import type { BinaryType, Transport, TransportSocket } from '../transports/types.js';
import { AuthExchange } from './authExchange.js';
import type { HandlerSlots } from './events.js';
import { HeartbeatProbe } from './heartbeat.js';
import { timersOf } from './policy.js';

/** The real clock's reading for the inbound messages of the current task; -1 until the first needs it. */
let arrivalInstant = -1;

function endArrivalInstant(): void {
  arrivalInstant = -1;
}

/**
 * The data plane of a connection: the sockets messages travel on, the outbound side (encode, batch, chunk, a
 * delivery layer behind the flow gate: src/outbound/) on top of the inbound pipeline (its base, src/inbound/), and
 * the contract the message plug-ins use (`PluginHost`). No XState event per message: the chart hears only of pongs
 * and auth verdicts.
 *
 * The base of `ConnectionRuntime`, which adds the control plane (the chart's actor and what its actions call). One
 * object per connection, so splitting the two costs no heap and no hop per message.
 */
export abstract class DataPlane extends InboundPipeline implements PluginHost {
  /** Private, like everything an inspector must not walk into: `toJSON` reads its name while one serializes. */
  readonly #transport: Transport;
  readonly counters = new MetricsCounters();

  protected readonly clock: ConnectionClock | undefined;
  /** null for no limit (Infinity, the default, would be a boxed number in every connection). */
  readonly #maxMessageSize: number | null;
  protected readonly batcher: Batcher | null;
  /**
   * The flow gate. With flow limits set it is made at once (the rate bucket starts full now); without, only when a
   * write has to wait (a socket that refused one): most connections never need it.
   */
  #gate: FlowGate | null;
  /** Plain mode's unconfirmed-write tracking (the heartbeat's pongs confirm writes too); null when off. */
  protected readonly receipts: ReceiptTracker | null;

  /** The socket `send()` writes to: set exactly while the chart is in `open`. */
  protected liveSocket: TransportSocket | null = null;
  /** True while the open sequence writes restore messages: they go to the socket ahead of the queue. */
  protected restoringNow = false;
  #binaryType: BinaryType;

  constructor(facade: HandlerSlots, options: ConnectionOptions, resolved: ResolvedOptions) {
    super(facade);
    this.#transport = resolved.transport;
    this.clock = options.clock;
    this.#binaryType = options.binaryType ?? resolved.transport.defaultBinaryType;
    this.codec = (options.codec ?? rawCodec) as Codec<unknown, unknown>;
    this.#maxMessageSize = resolved.maxMessageSize === Infinity ? null : resolved.maxMessageSize;
    const flow = resolved.flow;
    this.#gate = flow.highWaterMark !== Infinity || flow.rateLimit !== null ? new FlowGate(flow, this) : null;
    if (options.delivery !== undefined) {
      // The layer brings its adapter (socketchart/delivery): the core never imports it.
      this.outbound = options.delivery.outbound(this, resolved.queue);
      this.receipts = null;
    } else {
      const plain = new PlainDelivery(this, resolved.queue, resolved.unconfirmed, resolved.transport.canPing === true, this.raw);
      this.outbound = plain;
      this.receipts = plain.receipts;
    }
    this.chunker = resolved.chunking?.create(this) ?? null;
    this.batcher = resolved.batching?.create(this) ?? null;
    this.requester = resolved.requests?.create(this) ?? null;
    const validator = resolved.schema?.create(this) ?? null;
    this.routerPlugin = resolved.router?.create(this) ?? null;
    this.meter = resolved.metrics?.create(this) ?? null;
    this.heartbeat = resolved.heartbeat ? new HeartbeatProbe(resolved.heartbeat) : null;
    this.auth = resolved.auth ? new AuthExchange(resolved.auth, this) : null;
    this.wireInbound(this.batcher, validator, resolved.queue);
  }

  abstract closedError(): SocketchartError;

  get transport(): Transport {
    return this.#transport;
  }

  /** The outbound queue (what inspectors and tests see of the host). */
  get queue(): OutboundQueue {
    return this.outbound.queue;
  }

  /** True when the codec is `rawCodec`: messages are their frames. */
  get raw(): boolean {
    return this.codec === rawCodec;
  }

  now(): number {
    if (this.clock?.now) return this.clock.now();
    const now = Date.now();
    // A later reading in the same task (a listener that read metrics, a drop) carries the arrival instant with it:
    // the next messages of the task must not be stamped, or counted, before it (the meter takes that for a clock
    // going back).
    if (arrivalInstant >= 0 && now > arrivalInstant) arrivalInstant = now;
    return now;
  }

  /**
   * The arrival time of an inbound message: `now()`, read once per task on the real clock. The frames of one socket
   * read arrive in one instant, and a burst of them would otherwise read the clock once each (the largest single
   * share of the inbound path's own CPU, measured with bench/bursts.ts). An injected clock is read every time.
   */
  arrivalNow(): number {
    if (this.clock?.now) return this.clock.now();
    if (arrivalInstant < 0) {
      arrivalInstant = Date.now();
      queueMicrotask(endArrivalInstant);
    }
    return arrivalInstant;
  }

  timers(): Timers {
    return timersOf(this.clock);
  }

  // ---- the sockets --------------------------------------------------------------------------------------------

  get live(): TransportSocket | null {
    return this.liveSocket;
  }

  get announced(): TransportSocket | null {
    return this.announcedSocket;
  }

  /** The current attempt's socket. */
  get socket(): TransportSocket | null {
    return this.current;
  }

  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(type: BinaryType) {
    if (!this.#transport.binaryTypes.includes(type)) {
      throw new SocketchartError(
        'ERR_INVALID_OPTION',
        `binaryType must be one of ${this.#transport.binaryTypes.map((t) => `'${t}'`).join(', ')} with the ${this.#transport.name} transport; got ${JSON.stringify(type)}.`,
      );
    }
    this.#binaryType = type;
    if (this.current) this.current.binaryType = this.wireBinaryType();
  }

  /** The binaryType sockets are opened with (see `Outbound.wireBinaryType`). */
  wireBinaryType(): BinaryType {
    return this.outbound.wireBinaryType(this.#binaryType);
  }

  get bufferedAmount(): number {
    return (this.current?.bufferedAmount ?? 0) + this.outbound.bytesHeld;
  }

  /** The last round-trip time measured by the heartbeat, in ms (null before the first pong). */
  get rtt(): number | null {
    return this.heartbeat?.rtt ?? null;
  }

  /** `conn.metrics`: the lifecycle counts, the outbound side, the heartbeat, and the metrics plug-in's traffic. */
  readMetrics(): ConnectionMetrics {
    const receipts = this.receipts;
    const outbound = this.outbound;
    return readMetrics(this.counters, this.now(), {
      rtt: this.rtt,
      queueLength: outbound.queueLength,
      queueBytes: outbound.queueBytes,
      unconfirmedMessages: receipts?.length ?? 0,
      unconfirmedUntracked: receipts?.untracked ?? 0,
      meter: this.meter,
    });
  }

  // ---- outbound -----------------------------------------------------------------------------------------------

  send(message: unknown): void {
    const data = this.codec === rawCodec ? (message as SendData) : this.encode(message);
    if (typeof data !== 'string') assertSendData(data);
    this.checkOutbound(data);
    if (this.batcher !== null && this.state < 2 && !this.restoringNow) {
      this.batcher.add(data, message);
      return;
    }
    this.outbound.send(data, message);
  }

  request<R>(body: unknown, options: RequestOptions): Promise<R> {
    if (this.requester === null) return Promise.reject(missingPlugin('request()', 'requests', 'requests()'));
    return this.requester.request(body, options) as Promise<R>;
  }

  get restoring(): boolean {
    return this.restoringNow;
  }

  get delivering(): boolean {
    return !(this.outbound instanceof PlainDelivery);
  }

  /** Subprotocols the delivery layer needs offered. */
  get deliveryProtocols(): readonly string[] {
    return this.outbound.protocols;
  }

  /** The frame for an app message (the codec); throws ERR_INVALID_DATA. */
  encode(message: unknown): SendData {
    return encodeMessage(this.codec, message);
  }

  checkOutbound(data: SendData): void {
    checkFrame(data, this.#maxMessageSize ?? Infinity, this.chunker);
  }

  /**
   * Writes `data` now if it can, else hands it to the delivery layer or the queue (or reports it dropped).
   * Returns true only when it was written to the live socket now.
   */
  sendFrame(data: SendData, request: QueueTag | undefined, origin: unknown): boolean {
    return this.outbound.send(data, origin, request) === true;
  }

  /** Writes one message on `socket` (split if chunking is on) and counts it; false if the socket refused. */
  writeFrame(socket: TransportSocket, data: SendData): boolean {
    if (!writeMessage(socket, data, this.chunker)) return false;
    if (this.meter !== null) this.countWrite(data);
    return true;
  }

  /**
   * A message written, for the metrics plug-in (if any; a delivery layer's writes count too). Inside a message's
   * dispatch it shares that message's clock read.
   */
  countWrite(data: SendData): void {
    const meter = this.meter;
    if (meter === null) return;
    let at = this.dispatchAt;
    if (at < 0) at = this.now();
    meter.countOut(data, at);
  }

  /** For plug-ins: requests are never tracked as unconfirmed (an unanswered request already ends loudly). */
  write(socket: TransportSocket, data: SendData, _tracked: boolean): boolean {
    return this.writeFrame(socket, data);
  }

  enqueue(data: SendData, message: unknown): void {
    this.outbound.enqueue(data, message);
  }

  /** Whether the flow limits let one more message onto `socket` now (takes a rate token if so). */
  mayWrite(socket: TransportSocket): boolean {
    const gate = this.#gate;
    return gate === null || gate.mayWrite(socket);
  }

  /** Messages wait: the gate's pump lets them go in turn. */
  waitToWrite(): void {
    (this.#gate ??= new FlowGate(resolveFlow(undefined), this)).schedule();
  }

  /** The socket opened: what waits goes now, as far as the limits allow. */
  protected pumpWrites(): void {
    if (this.#gate !== null) this.#gate.pump();
    else if (this.liveSocket !== null) this.outbound.resume();
  }

  /** The socket left `open`: no pump, and no drain owed. */
  protected stopWrites(): void {
    this.#gate?.stop();
  }

  /** The flow gate lets writes go again: the outbound side writes what it holds. */
  resumeWrites(): boolean | void {
    return this.outbound.resume();
  }

  // ---- inbound ------------------------------------------------------------------------------------------------

  /** The router plug-in behind `on/once/off`. */
  get router(): Router {
    if (this.routerPlugin === null) throw missingPlugin('on/once/off(type, handler)', 'router', 'router()');
    return this.routerPlugin;
  }
}
