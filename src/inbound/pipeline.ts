import { SocketchartError, describe } from '../errors.js';
import { InvalidMessageEvent, SocketMessageEvent } from '../events.js';
import { ConnectionEvents } from '../host/events.js';
import { NO_MESSAGE } from '../delivery/types.js';
import type { AuthExchange } from '../host/authExchange.js';
import type { HeartbeatProbe } from '../host/heartbeat.js';
import { type Codec, rawCodec } from '../messages/codec.js';
import { type Meter, type MetricsCounters, sizeOf } from '../metrics.js';
import type { Outbound } from '../outbound/types.js';
import type { Batcher, Chunker, Requester, Router, Validator } from '../plugins/types.js';
import type { ReceiptTracker } from '../policies/unconfirmed.js';
import type { ResolvedQueue } from '../policies/queue.js';
import type { TransportSocket } from '../transports/types.js';
import { HeldMessages } from './held.js';

/** How many inbound messages, and bytes, may wait before delivery (the auth hold, async validation): the queue's. */
export type InboundBounds = Pick<ResolvedQueue, 'maxMessages' | 'maxBytes'>;

/**
 * Inbound frames, from the transport to the `message` listeners, in this order: the delivery layer's unwrapping,
 * the auth hold, the heartbeat's pong, chunk reassembly, batch split, decode, validation, request replies,
 * routing, listeners. No XState event per message; the chart hears only of pongs and the auth verdict.
 *
 * A layer of the connection's host (between its events and its data plane): one object per connection, so the
 * pipeline costs no object of its own and no hop per message. Its parts are set once, by `wireInbound`.
 */
export abstract class InboundPipeline extends ConnectionEvents {
  // Shared with the data plane above (set by its constructor; one field each for the whole host).
  /** Plain mode or the app's delivery layer: unwraps inbound frames. */
  protected outbound!: Outbound;
  protected codec!: Codec<unknown, unknown>;
  /** The message plug-ins the app passed (null: not imported); see plugins/types.ts for where each is called. */
  protected chunker: Chunker | null = null;
  protected requester: Requester | null = null;
  protected routerPlugin: Router | null = null;
  /** The heartbeat's probe, when the heartbeat is on. */
  protected heartbeat: HeartbeatProbe | null = null;
  /** The auth exchange, when `auth` is configured. */
  protected auth: AuthExchange | null = null;
  /** The metrics plug-in's counts (null: not imported, and nothing is counted per message). */
  protected meter: Meter | null = null;
  #split: Batcher['split'];
  #validator: Validator | null = null;
  #queue!: ResolvedQueue;
  /** Messages that arrived during `authenticating`: delivered right after `open`. Made on first use. */
  #held: HeldMessages | null = null;
  /** Messages received so far (the heartbeat counts traffic as life). */
  #count = 0;
  /**
   * With the metrics plug-in, the clock read of the inbound message being dispatched (-1 outside a dispatch): the
   * writes its listeners make are counted at it. Set only then: a field that once holds a time (ms since the epoch,
   * no small integer) is a boxed number in every connection.
   */
  protected dispatchAt = -1;

  /** The current attempt's socket, from creation to the end of the attempt (before `open`, only auth reads it). */
  protected current: TransportSocket | null = null;
  /** The socket whose `open` was announced and whose `close` was not yet: messages come only from it. */
  protected announcedSocket: TransportSocket | null = null;
  /** `conn.url`, the message events' `origin`. */
  abstract readonly url: string;
  abstract readonly counters: MetricsCounters;
  /** Plain mode's unconfirmed-write tracking (message-mode pongs confirm writes); null when off. */
  protected abstract readonly receipts: ReceiptTracker | null;
  /** The heartbeat's pong arrived. */
  abstract ponged(): void;
  /** The arrival time of an inbound message (the clock, read once per task on the real one). */
  abstract arrivalNow(): number;

  /** The inbound-only parts: the batch splitter, the schema validator, the bounds of what is held during auth. */
  protected wireInbound(batcher: Batcher | null, validator: Validator | null, queue: ResolvedQueue): void {
    this.#split = batcher?.split;
    this.#validator = validator;
    this.#queue = queue;
  }

  /** The bounds of what waits before delivery: the auth hold here, the schema plug-in's async validations. */
  get inboundBounds(): InboundBounds {
    return this.#queue;
  }

  /** Messages received so far. */
  inboundCount(): number {
    return this.#count;
  }

  deliver(socket: TransportSocket, frame: unknown): void {
    if (socket !== this.announcedSocket) {
      if (socket === this.current) this.#beforeOpen(frame);
      return;
    }
    this.#count++;
    const data = this.outbound.inbound(frame);
    if (data === NO_MESSAGE) return;
    // Messages held during auth go first: anything newer waits behind them, so arrival order holds.
    if (this.#held !== null && this.#held.size > 0) {
      this.#hold(data);
      return;
    }
    const heartbeat = this.heartbeat;
    const isPong = heartbeat?.isPong;
    if (isPong && (heartbeat as HeartbeatProbe).tookPong(isPong, data, this, this.receipts)) {
      this.ponged();
      return;
    }
    this.#dispatch(data);
  }

  #dispatch(frame: unknown): void {
    // At most one clock read per inbound message, shared by the meter, a validator and the event's timeStamp. With
    // none of them the read waits for the event (`route`), so a message nobody listens to costs none.
    const split = this.#split;
    let at = -1;
    if (this.meter !== null || this.#validator !== null || split !== undefined) at = this.arrivalNow();
    this.meter?.countIn(frame, at);
    let data = frame;
    if (this.chunker !== null) {
      try {
        data = this.chunker.accept(frame);
      } catch (error) {
        this.invalid(frame, error);
        return;
      }
      if (data === undefined) return;
    }
    if (split) {
      let parts: unknown[] | undefined;
      try {
        parts = split(data);
      } catch (error) {
        this.invalid(data, error);
        return;
      }
      if (parts !== undefined) {
        // What split returns is built from what the server sent ({"frames": 5}): anything but an array would throw
        // out of the socket's message handler, or (a string) be delivered one character at a time.
        if (!Array.isArray(parts)) {
          this.invalid(
            data,
            new SocketchartError('ERR_INVALID_DATA', `batching.split returned ${describe(parts)} for this frame; it must return an array of messages, or undefined for a frame that is not a batch. The frame was discarded.`),
          );
          return;
        }
        for (const part of parts) this.#decodeAndRoute(part, at);
        return;
      }
    }
    this.#decodeAndRoute(data, at);
  }

  #decodeAndRoute(data: unknown, at: number): void {
    let message = data;
    if (this.codec !== rawCodec) {
      try {
        message = this.codec.decode(data);
      } catch (error) {
        this.invalid(data, error);
        return;
      }
    }
    if (this.#validator !== null) this.#validator.accept(data, message, at);
    else this.route(message, at);
  }

  /** An `invalid-message` event, now; a request whose reply it was (matched on `decoded`) rejects with it. */
  invalid(data: unknown, problem: unknown, decoded?: unknown): void {
    if (decoded !== undefined && this.requester !== null) {
      // A reply discarded unvalidated (more waited for validation than the bounds allow) did not fail the schema.
      const error =
        problem instanceof SocketchartError && problem.code === 'ERR_QUEUE_FULL'
          ? problem
          : new SocketchartError('ERR_INVALID_DATA', 'The reply failed the schema validation (see `cause`: its issues).', { cause: problem });
      this.requester.refuse(decoded, error);
    }
    const event = new InvalidMessageEvent(data, problem, this.now());
    event.target = this.facade;
    this.listeners.dispatch(event, null);
  }

  /**
   * A decoded, valid message: a request's reply, or for the router and the `message` listeners. `at`: the clock
   * read of its arrival, or -1 if none was made yet. `decoded`: the message before a schema validated it, where a
   * reply's id is read (a schema may strip it).
   */
  route(message: unknown, at: number, decoded?: unknown): void {
    if (this.requester?.settle(message, decoded)) return;
    this.routerPlugin?.route(message);
    const facade = this.facade;
    if (facade.onmessage === null && !this.listeners.has('message')) return;
    if (at < 0) at = this.arrivalNow();
    const event = new SocketMessageEvent(message, this.url, at);
    event.target = facade;
    if (this.meter === null) {
      this.listeners.dispatch(event, facade.onmessage);
      return;
    }
    // A reply sent from the listener happens in the instant the event carries: it is counted at that clock read.
    const outer = this.dispatchAt;
    this.dispatchAt = at;
    try {
      this.listeners.dispatch(event, facade.onmessage);
    } finally {
      this.dispatchAt = outer;
    }
  }

  /** The announced socket is over: partial chunked messages die with it (chunk ids restart per socket). */
  protected inboundEnded(): void {
    this.chunker?.reset();
  }

  /** The session ended: messages still waiting for an async validation are reported, never delivered. */
  protected inboundClosed(): void {
    const left = this.#validator?.ended?.() ?? [];
    if (left.length === 0) return;
    // No `decoded`: the connection's pending requests were rejected as it closed.
    const problem = new SocketchartError(
      'ERR_CONNECTION_CLOSED',
      'The connection closed while this message waited for its async schema validation; it was not delivered (messages are delivered only while the connection is not closed).',
    );
    for (const data of left) this.reportInvalid(data, problem);
  }

  /** A new socket was attached: nothing held for an earlier one carries over (and none goes unreported). */
  protected inboundAttached(): void {
    this.#discardHeld();
  }

  /** The attempt's socket is gone: what it sent before the auth ack never reached the app. */
  protected inboundDetached(): void {
    this.#discardHeld();
  }

  /** Each message still held (its socket ended before the ack, or while they were being released) is reported. */
  #discardHeld(): void {
    const held = this.#held;
    if (held === null || held.size === 0) return;
    const count = held.size;
    const problem = new SocketchartError(
      'ERR_CONNECTION_LOST',
      `The socket ended before these ${count} message(s), sent by the server before it acknowledged authentication, could be delivered; they are discarded with it.`,
    );
    while (held.size > 0) this.reportInvalid(held.shift(), problem);
    held.clear();
  }

  /** A message on a socket that is not open yet: only the auth exchange happens there. */
  #beforeOpen(data: unknown): void {
    const auth = this.auth;
    if (auth === null || !auth.listening) return;
    this.#count++;
    if (auth.sort(data)) this.#hold(data);
  }

  /** Keeps a message that came before `open`; past the queue's bounds it is reported instead of held. */
  #hold(data: unknown): void {
    const { maxMessages, maxBytes } = this.#queue;
    const held = (this.#held ??= new HeldMessages(maxMessages, maxBytes));
    if (held.hold(data, sizeOf(data))) return;
    this.reportInvalid(
      data,
      new SocketchartError('ERR_QUEUE_FULL', `The server sent more than ${maxMessages} messages or ${maxBytes} bytes before acknowledging authentication; this one was discarded (the bounds are queue.maxMessages and queue.maxBytes).`),
    );
  }

  /** Delivers what arrived during auth after the ack: right after `open`, in arrival order. */
  protected releaseHeld(): void {
    const socket = this.announcedSocket;
    const held = this.#held;
    if (held === null) return;
    // A listener may close or replace the socket mid-release: what is left belonged to a socket that is gone.
    while (held.size > 0 && this.announcedSocket === socket) this.#dispatch(held.shift());
    this.#discardHeld();
  }
}
