import type { SendData } from '../data.js';
import type { DropReason } from '../policies/queue.js';

/** What the connection gives a delivery layer. */
export interface DeliveryHost {
  /** Write a frame on the live socket; false when there is none or it can no longer carry frames. */
  write(frame: SendData): boolean;
  /**
   * Whether the connection's flow limits (`flow.highWaterMark`, `flow.rateLimit`) let one more app message onto
   * the socket now (it takes a rate token if so). Protocol frames (handshake, acks) do not ask.
   */
  mayWrite(): boolean;
  /** `mayWrite()` said no: the connection calls the layer's `resume()` once writing may go on. */
  waitToWrite(): void;
  /**
   * Report a message that will never be delivered: its frame, and the `message` `send(data, message)` was given
   * with it (the drop event's `message`, what the app resends). Without `message` the event carries `data` as the
   * message, which is wrong for any codec but raw: a layer should keep the message it was given until then.
   */
  drop(data: SendData, reason: DropReason, message?: unknown): void;
  /** Timers on the connection's clock (acks are batched on them). */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** Returned by `inbound` for frames that carry no app message (protocol frames, duplicates). */
export const NO_MESSAGE: unique symbol = Symbol('socketchart.noMessage');

/**
 * A delivery guarantee layered on the connection (see PROTOCOL.md). When one is configured it owns the outbound
 * path: every app message goes through `send`, and it decides what is written when; the connection's own queue
 * is not used. Inbound frames pass through `inbound` before the codec.
 */
export interface DeliveryLayer {
  /** Extra subprotocols to offer in the handshake. */
  readonly protocols: readonly string[];
  /**
   * An app message: `data` is what the codec made of it, `message` what the app passed to `send()` (opaque; give it
   * back to `host.drop` if the message is dropped). Under the raw codec they are the same value.
   */
  send(data: SendData, message: unknown): void;
  /** A frame from the server: the app payload to decode and deliver, or NO_MESSAGE. */
  inbound(frame: unknown): unknown;
  /** A socket opened: write the resume handshake and everything not yet acknowledged. */
  opened(): void;
  /** The flow limits allow writing again (after `host.waitToWrite()`). */
  resume?(): void;
  /** The socket was lost; the session goes on. */
  lost(): void;
  /** The session ended: report everything not acknowledged as dropped. */
  ended(): void;
  /** Messages held (sent but not acknowledged, or not yet sent). */
  readonly pending: { count: number; bytes: number };
}

/** A function that builds the layer for one connection. */
export type DeliveryFactory = (host: DeliveryHost) => DeliveryLayer;
