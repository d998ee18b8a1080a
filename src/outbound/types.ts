import type { SendData } from '../data.js';
import type { DeliveryFactory, DeliveryLayer } from '../delivery/types.js';
import type { OutboundQueue, QueueTag, ResolvedQueue } from '../policies/queue.js';
import type { LayeredHost } from './layered.js';
import type { BinaryType } from '../transports/types.js';

/**
 * The outbound end of a connection as the runtime drives it: a `DeliveryLayer` (plain mode's `PlainDelivery`, or
 * the app's layer behind `LayeredDelivery`) plus what the runtime needs of either without asking which it is.
 */
export interface Outbound extends DeliveryLayer {
  /**
   * An app message (or a request's, with its `tag`). True only when it was written on the live socket now, so a
   * request knows which socket carries it.
   */
  send(data: SendData, message: unknown, tag?: QueueTag): boolean | void;
  /** The session ended; `cleanClose`: by a closing handshake the client started and the server answered. */
  ended(cleanClose?: boolean): void;
  /** The flow limits allow writing again. False: the socket refused a write (past OPEN before the chart knows). */
  resume(): boolean | void;
  /** A message for the queue, behind what is already there (a batch still collecting when the socket opened). */
  enqueue(data: SendData, message: unknown): void;
  /** The binaryType sockets are opened with, given the app's. */
  wireBinaryType(binaryType: BinaryType): BinaryType;
  /** The connection's outbound queue (under an app's layer it only ever holds a batch collecting at open). */
  readonly queue: OutboundQueue;
  /** Messages waiting in the outbound queue (`metrics.queueLength`). */
  readonly queueLength: number;
  /** Their bytes (`metrics.queueBytes`). */
  readonly queueBytes: number;
  /** Bytes accepted but not yet handed to the socket (part of `bufferedAmount`). */
  readonly bytesHeld: number;
}

/**
 * What the `delivery` option takes: a layer factory that brings its own adapter to the connection (`outbound`), so
 * the adapter's code reaches a bundle only through `socketchart/delivery` (`atLeastOnce()`, or `deliveryLayer()` around
 * a factory of your own).
 */
export interface DeliveryPlugin extends DeliveryFactory {
  /** Fits the layer this factory builds to one connection. */
  readonly outbound: (host: LayeredHost, queue: ResolvedQueue) => Outbound;
}
