import type { SendData } from '../data.js';
import { SocketchartError, counted } from '../errors.js';
import { type DropReason, type DropSink, OutboundQueue, type QueueTag, type ResolvedQueue } from '../policies/queue.js';
import { ReceiptTracker } from '../policies/unconfirmed.js';
import type { ResolvedUnconfirmed } from '../policies/unconfirmedOptions.js';
import type { BinaryType, TransportSocket } from '../transports/types.js';
import type { Outbound } from './types.js';

/** What plain mode needs of the connection. */
export interface PlainHost extends DropSink {
  /** The socket `send()` writes to: set exactly while the chart is in `open`. */
  readonly live: TransportSocket | null;
  /** True while the open sequence writes restore messages: they go to the socket ahead of the queue. */
  readonly restoring: boolean;
  readonly readyState: 0 | 1 | 2 | 3;
  now(): number;
  /** Writes one message on `socket` (split if chunking is on) and counts it; false if the socket refused. */
  writeFrame(socket: TransportSocket, data: SendData): boolean;
  /** Reports a message that will not be delivered (each message of a batch frame). */
  reportDrop(data: SendData, origin: unknown, reason: DropReason): void;
  /** The flow gate: whether one more message may go onto `socket` now (takes a rate token if so). */
  mayWrite(socket: TransportSocket): boolean;
  /** The flow gate: messages wait; call `resume()` once they may go. */
  waitToWrite(): void;
}

const NO_PROTOCOLS: readonly string[] = Object.freeze([]);
const NOTHING = Object.freeze({ count: 0, bytes: 0 });

/**
 * Plain mode (no `delivery` option) as a delivery layer: a message goes to the live socket if the flow gate lets
 * it and nothing older waits, else into the bounded queue (flushed in order on open, or by the pump), or, once the
 * session is over, to a drop report. What it wrote and the server has not proven it received is logged
 * (`unconfirmed`) and reported if the socket dies.
 */
export class PlainDelivery implements Outbound {
  /** Made on the first message that has to wait: most connections write everything at once and never queue. */
  #queue: OutboundQueue | null = null;
  readonly #queueOptions: ResolvedQueue;
  /** What the server has proven it received of the live socket's writes (see policies/unconfirmed); null when off. */
  readonly receipts: ReceiptTracker | null;
  readonly #host: PlainHost;

  constructor(
    host: PlainHost,
    queue: ResolvedQueue,
    unconfirmed: ResolvedUnconfirmed | null,
    canPing: boolean,
    raw: boolean,
  ) {
    this.#host = host;
    this.#queueOptions = queue;
    this.receipts = unconfirmed ? new ReceiptTracker(unconfirmed, canPing, !raw) : null;
  }

  get protocols(): readonly string[] {
    return NO_PROTOCOLS;
  }

  get queue(): OutboundQueue {
    return (this.#queue ??= new OutboundQueue(this.#queueOptions, this.#host));
  }

  get pending(): { count: number; bytes: number } {
    return this.#queue ?? NOTHING;
  }

  get queueLength(): number {
    return this.#queue?.length ?? 0;
  }

  get queueBytes(): number {
    return this.#queue?.bytes ?? 0;
  }

  get bytesHeld(): number {
    return this.#queue?.bytes ?? 0;
  }

  /**
   * Writes `data` now if it can, else queues it (or reports it dropped). Returns true only when it was written to
   * the live socket now.
   */
  send(data: SendData, message: unknown, tag?: QueueTag): boolean {
    const host = this.#host;
    const live = host.live;
    const restoring = host.restoring;
    // Restore messages (subscriptions, joins) are not tracked: they are sent again on every open anyway. Requests
    // are not either: an unanswered request already ends loudly (resent, or rejected).
    const tracked = tag === undefined && !restoring;
    const waiting = this.#queue;
    if (live !== null && (restoring || ((waiting === null || waiting.length === 0) && host.mayWrite(live))) && this.#write(live, data, tracked, message)) {
      return true;
    }
    if (host.readyState >= 2) {
      // After close() the data has nowhere to go; say so instead of swallowing it as the DOM does.
      host.reportDrop(data, message, 'closed');
      return false;
    }
    // Not open yet, or the socket is already past OPEN without the chart knowing: keep it for the next socket.
    const queue = this.queue;
    if (queue.enqueue(data, queue.timed ? host.now() : 0, tag, message) === 'rejected') {
      throw new SocketchartError(
        'ERR_QUEUE_FULL',
        `The outbound queue is full (${counted(queue.length, 'message')}, ${counted(queue.bytes, 'byte')}) and queue.overflow is 'reject'; wait for 'open' or raise queue.maxMessages / queue.maxBytes.`,
      );
    }
    // Open but held back (backpressure, rate limit, or older messages still waiting): the pump sends it in turn.
    if (live !== null) host.waitToWrite();
    return false;
  }

  #write(socket: TransportSocket, data: SendData, tracked: boolean, origin: unknown): boolean {
    if (!this.#host.writeFrame(socket, data)) return false;
    if (tracked && this.receipts !== null) this.receipts.written(socket, data, origin);
    return true;
  }

  /** A batch still collecting at open joins the queue; under `overflow: 'reject'` what does not fit is reported. */
  enqueue(data: SendData, message: unknown): void {
    const queue = this.queue;
    if (queue.enqueue(data, queue.timed ? this.#host.now() : 0, undefined, message) === 'rejected') this.#host.reportDrop(data, message, 'queue-full');
  }

  /** Sends queued messages while the flow gate allows; asks the gate to come back if it stops them. */
  resume(): boolean {
    const host = this.#host;
    const socket = host.live;
    const queue = this.#queue;
    if (socket === null || queue === null) return true;
    let stalled = false;
    const empty = queue.drainWhile(
      () => !stalled && host.mayWrite(socket),
      (data, request, origin) => {
        // A request settled while it waited (timed out, aborted, failed on a lost socket) must not go out now.
        if (request?.settled) return;
        if (this.#write(socket, data, request === undefined, origin)) {
          if (request) request.sentOn = socket;
        } else {
          // The socket is past OPEN before the chart knows: keep the message for the next socket.
          stalled = true;
          queue.requeueFront(data, queue.timed ? host.now() : 0, request, origin);
        }
      },
      host.now(),
    );
    if (stalled) return false;
    if (!empty) host.waitToWrite();
    return true;
  }

  inbound(frame: unknown): unknown {
    return frame;
  }

  wireBinaryType(binaryType: BinaryType): BinaryType {
    return binaryType;
  }

  /** A new socket: whatever the last one left unsettled is reported rather than forgotten (normally settled already). */
  opened(): void {
    this.#settle(false);
    this.receipts?.opened();
  }

  /** Not the end of a handshake the client started (that ends the session): nothing proves receipt. */
  lost(): void {
    this.#settle(false);
  }

  ended(cleanClose = false): void {
    this.#settle(cleanClose);
    this.#queue?.clear('closed');
  }

  /** The live socket is gone: what it carried that the server never confirmed is reported, one drop each. */
  #settle(confirmedByHandshake: boolean): void {
    const host = this.#host;
    this.receipts?.settle(confirmedByHandshake, (data, message) => host.reportDrop(data, message, 'unconfirmed'));
  }
}
