import type { SendData } from '../data.js';
import { type DeliveryFactory, type DeliveryHost, type DeliveryLayer, NO_MESSAGE } from '../delivery/types.js';
import { SocketchartError, describe } from '../errors.js';
import type { Timers } from '../plugins/types.js';
import { type DropReason, type DropSink, OutboundQueue, type ResolvedQueue } from '../policies/queue.js';
import type { BinaryType, TransportSocket } from '../transports/types.js';
import type { DeliveryPlugin, Outbound } from './types.js';

/** What an app's delivery layer needs of the connection. */
export interface LayeredHost extends DropSink {
  readonly live: TransportSocket | null;
  readonly readyState: 0 | 1 | 2 | 3;
  readonly binaryType: BinaryType;
  /** Counts a written message for the metrics plug-in, if the app passed it. */
  countWrite(data: SendData): void;
  now(): number;
  timers(): Timers;
  reportDrop(data: SendData, origin: unknown, reason: DropReason): void;
  /** An `invalid-message` event (fired now, or after the transition in progress). */
  reportInvalid(data: unknown, problem: unknown): void;
  /** The flow gate: whether one more message may go onto `socket` now (takes a rate token if so). */
  mayWrite(socket: TransportSocket): boolean;
  /** The flow gate: messages wait; call `resume()` once they may go. */
  waitToWrite(): void;
}

/**
 * A delivery layer for `createConnection(url, { delivery })`: `factory` builds the layer for each connection, the
 * returned value also carries the adapter that fits it to the connection (`LayeredDelivery`), so the core never
 * imports the adapter. `atLeastOnce()` is made with it; so is a layer of your own:
 * `delivery: deliveryLayer((host) => myLayer(host))`.
 */
export function deliveryLayer(factory: DeliveryFactory): DeliveryPlugin {
  if (typeof factory !== 'function') {
    throw new SocketchartError('ERR_INVALID_OPTION', `deliveryLayer(factory) takes a function (host) => DeliveryLayer; got ${describe(factory)}.`);
  }
  const plugin = (host: DeliveryHost): DeliveryLayer => factory(host);
  plugin.outbound = (host: LayeredHost, queue: ResolvedQueue): Outbound => new LayeredDelivery(factory, host, queue);
  return plugin;
}

/**
 * The app's delivery layer (`delivery: atLeastOnce()`, see PROTOCOL.md) fitted to the connection: it is the
 * layer's `DeliveryHost` (writes, flow gate, drops, reports of frames it skipped, timers) and, to the runtime, the
 * same `Outbound` as plain mode. It owns the outbound path: every app message goes to the layer, which decides what is
 * written when.
 */
export class LayeredDelivery implements Outbound, DeliveryHost {
  readonly #host: LayeredHost;
  readonly #timers: Timers;
  readonly #layer: DeliveryLayer;
  readonly #queueOptions: ResolvedQueue;
  /** Only a batch still collecting at open lands here (see `enqueue`); made on first use. */
  #queue: OutboundQueue | null = null;

  constructor(factory: DeliveryFactory, host: LayeredHost, queue: ResolvedQueue) {
    this.#host = host;
    this.#timers = host.timers();
    this.#queueOptions = queue;
    const layer = factory(this);
    const complete =
      typeof layer === 'object' && layer !== null &&
      (['send', 'inbound', 'opened', 'lost', 'ended'] as const).every((name) => typeof layer[name] === 'function');
    if (!complete) {
      throw new SocketchartError('ERR_INVALID_OPTION', `Option \`delivery\` must return a delivery layer (send, inbound, opened, lost, ended), e.g. atLeastOnce(); got ${describe(layer)}.`);
    }
    this.#layer = layer;
  }

  // ---- DeliveryHost: what the layer uses ----------------------------------------------------------------------

  write(frame: SendData): boolean {
    const live = this.#host.live;
    if (live === null || !live.send(frame)) return false;
    this.#host.countWrite(frame);
    return true;
  }

  mayWrite(): boolean {
    const live = this.#host.live;
    return live !== null && this.#host.mayWrite(live);
  }

  waitToWrite(): void {
    this.#host.waitToWrite();
  }

  drop(data: SendData, reason: DropReason, message: unknown = data): void {
    this.#host.reportDrop(data, message, reason);
  }

  /** A frame the layer skipped as a protocol violation: one `invalid-message` event, `ERR_INVALID_DATA`. */
  invalid(frame: unknown, problem: string): void {
    this.#host.reportInvalid(frame, new SocketchartError('ERR_INVALID_DATA', problem));
  }

  setTimeout(fn: () => void, ms: number): unknown {
    return this.#timers.setTimeout(fn, ms);
  }

  clearTimeout(id: unknown): void {
    this.#timers.clearTimeout(id);
  }

  // ---- Outbound: what the runtime uses ------------------------------------------------------------------------

  get protocols(): readonly string[] {
    return this.#layer.protocols;
  }

  get pending(): { count: number; bytes: number } {
    return this.#layer.pending;
  }

  get queue(): OutboundQueue {
    return (this.#queue ??= new OutboundQueue(this.#queueOptions, this.#host));
  }

  get queueLength(): number {
    return this.#queue?.length ?? 0;
  }

  get queueBytes(): number {
    return this.#queue?.bytes ?? 0;
  }

  get bytesHeld(): number {
    return (this.#queue?.bytes ?? 0) + this.#layer.pending.bytes;
  }

  send(data: SendData, message: unknown): boolean {
    if (this.#host.readyState >= 2) this.#host.reportDrop(data, message, 'closed');
    else this.#layer.send(data, message);
    return false;
  }

  /**
   * The connection's queue is not used under a layer, except here: a batch still collecting when the socket opened
   * waits in it so that it does not overtake the open sequence (restore messages, requests), and is handed to the
   * layer on the pump that ends the sequence (resume).
   */
  enqueue(data: SendData, message: unknown): void {
    // Under `overflow: 'reject'` nobody is there to throw to: what does not fit is reported.
    const queue = this.queue;
    if (queue.enqueue(data, queue.timed ? this.#host.now() : 0, undefined, message) === 'rejected') this.#host.reportDrop(data, message, 'queue-full');
  }

  /** The layer holds the messages; it writes while the limits allow, and asks again if they stop it. */
  resume(): void {
    const waiting = this.#queue;
    if (waiting !== null && waiting.length > 0) {
      waiting.drainWhile(() => true, (data, _tag, message) => this.#layer.send(data, message), this.#host.now());
    }
    this.#layer.resume?.();
  }

  /**
   * The layer reads binary frames synchronously (their sequence header), so sockets give it ArrayBuffers; the app
   * gets Blobs after unwrapping if it asked for them.
   */
  wireBinaryType(binaryType: BinaryType): BinaryType {
    return binaryType === 'blob' ? 'arraybuffer' : binaryType;
  }

  inbound(frame: unknown): unknown {
    const data = this.#layer.inbound(frame);
    if (data !== NO_MESSAGE && this.#host.binaryType === 'blob' && data instanceof ArrayBuffer) return new Blob([data]);
    return data;
  }

  opened(): void {
    this.#layer.opened();
  }

  lost(): void {
    this.#layer.lost();
  }

  ended(): void {
    this.#layer.ended();
    this.#queue?.clear('closed');
  }
}
