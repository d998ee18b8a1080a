/**
 * The server's session vocabulary, shared by both session kinds (memory.ts-style records and shared stores) and the
 * socket handling: what the app sees (`AckSession`, `AckMessage`), what a socket carries (`Link`), and the checks
 * and copies both kinds make.
 */
import type { IncomingMessage } from 'node:http';
import type { RawData, WebSocket } from 'ws';
import { utf8Length } from '../data.js';
import { isSendableCloseCode } from '../delivery/protocol.js';
import { SocketchartError, describe } from '../errors.js';
import type { StoreEffect } from './store.js';

/** What a session receives: text as a string, binary as a Buffer (without the protocol header). */
export type AckPayload = string | Buffer;

/** What `session.send` takes. */
export type AckSendData = string | Buffer | ArrayBuffer | ArrayBufferView;

/** Passed to `onMessage` with each client message. */
export interface AckMessage {
  /**
   * `<session id>:<seq>`: stable across re-deliveries. A message reaches `onMessage` again only when the node that
   * processed it died (or lost the session) before its mark was recorded; use the key to make effects outside the
   * store idempotent.
   */
  readonly key: string;
  /** The client's sequence number of this message. */
  readonly seq: number;
  /**
   * Commit `effect` together with this message's processed mark, atomically: both are recorded or neither (the
   * message is then processed again). The memory store runs functions; the Redis store runs Redis commands, e.g.
   * `message.commit(['RPUSH', 'orders', payload])`. Only while `onMessage` runs (an async one: until its promise
   * settles); if it throws or rejects, the effects are discarded.
   */
  commit(effect: StoreEffect): void;
}

/** Why a message `send()` accepted could not be delivered (`onUndelivered`). */
export type UndeliveredReason = 'taken-over' | 'full' | 'store-failed' | 'ended';

/** One client session: it outlives sockets, until its TTL runs out with no socket attached. */
export interface AckSession {
  /** The session key (the client's session id unless `sessionKey` maps it). */
  readonly id: string;
  /** Whether a socket is attached now. */
  readonly connected: boolean;
  /** The session's lifecycle state on this node. */
  readonly state: 'attached' | 'detached' | 'expired' | 'lost';
  /** Server->client messages not yet acknowledged (with a shared store: also those on their way to the store). */
  readonly pending: { count: number; bytes: number };
  /** The attached socket, if any (for `close`, `ping`, headers): never write on it directly. */
  readonly socket: WebSocket | null;
  /**
   * Send `payload` to the client, exactly once and in order, across reconnects. Written now if a socket is
   * attached, else on resume. False when it does not fit `maxUnacked` / `maxUnackedBytes`, or the session is over:
   * then nothing was sent, and the caller decides. With a shared store, true means accepted, not yet stored: the
   * message is written once the store holds it; if the store refuses it, it is reported to `onUndelivered`, and if
   * this node dies first it is lost with the node. When the caller must know, use `sendDurable()`.
   */
  send(payload: AckSendData): boolean;
  /**
   * `send()` that says when the message is safe: resolves true once the store holds it (it will then reach the
   * client once, in order, whichever node dies), false when it was not accepted (bounds, session over, taken over
   * by another node); rejects when the store failed (stored or not is then unknown). With the memory store it
   * resolves at once, as `send()` answers.
   */
  sendDurable(payload: AckSendData): Promise<boolean>;
  /**
   * End the session now: close its socket (code 1000 unless given), forget its state, and return the messages
   * that were never acknowledged. A code ws cannot send (1004-1006, 1015, outside 1000-4999) throws
   * `ERR_INVALID_CLOSE_CODE`, a reason over 123 UTF-8 bytes `ERR_REASON_TOO_LONG`, before anything is forgotten.
   */
  end(code?: number, reason?: string): AckPayload[];
}

/** The engine side of a session, as the socket handling sees it. */
export interface LinkedSession extends AckSession {
  data(seq: number, payload: AckPayload): void;
  acked(link: Link, ack: number): void;
  detach(link: Link): void;
  dispose(): void;
}

export interface Link {
  readonly ws: WebSocket;
  readonly request: IncomingMessage;
  session: LinkedSession | null;
  /** Frames that came while the session was loading from an async store. */
  backlog: Array<[RawData, boolean]> | null;
  backlogBytes: number;
  closed: boolean;
  /** Counted in `preHello` (open, no session attached yet). */
  preHello: boolean;
  helloTimer: unknown;
  unflushedPongs: number;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export const toPayload = (stored: string | Uint8Array): AckPayload =>
  typeof stored === 'string' ? stored : Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);

export const bytesOfPayload = (payload: string | Uint8Array): number =>
  typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;

/** `session.end()` checks its arguments before anything is forgotten: a refused call changes nothing. */
export function validateEnd(code: unknown, reason: unknown): void {
  if (!isSendableCloseCode(code)) {
    throw new SocketchartError(
      'ERR_INVALID_CLOSE_CODE',
      `session.end() takes a close code ws can send (1000-1003, 1007-1014, 3000-4999); got ${describe(code)}.`,
    );
  }
  if (typeof reason !== 'string') {
    throw new SocketchartError('ERR_INVALID_CLOSE_CODE', `session.end() takes a string reason; got ${describe(reason)}.`);
  }
  if (utf8Length(reason) > 123) {
    throw new SocketchartError('ERR_REASON_TOO_LONG', `The close reason is ${utf8Length(reason)} UTF-8 bytes; a close frame holds 123. Shorten it.`);
  }
}

/** A copy of what `send()` was given, as the store keeps it (the caller may reuse its buffer). */
export function storedPayload(payload: AckSendData): string | Uint8Array {
  if (typeof payload === 'string') return payload;
  if (payload instanceof ArrayBuffer) return new Uint8Array(payload.slice(0));
  if (ArrayBuffer.isView(payload)) return new Uint8Array(payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.byteLength));
  throw new SocketchartError('ERR_INVALID_DATA', 'session.send() takes a string, Buffer, ArrayBuffer or ArrayBufferView.');
}

/** Counters every server session updates (`server.stats`). */
export interface SessionStats {
  resumed: number;
  created: number;
  replayed: number;
  processed: number;
  duplicates: number;
  refused: number;
  expired: number;
}

/** What every server session needs from the server that holds it, whatever its store. */
export interface SessionServer {
  readonly clock: Clock;
  readonly stats: SessionStats;
  /** The app's handler: a promise (thenable) it returns is awaited before the message is marked processed. */
  onMessage(session: AckSession, payload: AckPayload, message: AckMessage): unknown;
  report(error: unknown, session: AckSession | null): void;
  /** A store call failed: to `onError`, never rethrown (an outage must not crash the process). */
  storeFailure(error: unknown, session: AckSession | null): void;
  fail(link: Link, code: number, reason: string, now?: boolean): void;
}

/**
 * What one frame waiting to be processed counts against `maxBacklogBytes` beyond its payload: its entry in the
 * queue and the view of its bytes cost about this much whatever the payload, so frames with empty payloads (3 bytes
 * on the wire) cannot queue without bound under a byte limit that counts them as nothing.
 */
export const WAITING_FRAME_BYTES = 64;

/** What a frame waiting to be processed counts against `maxBacklogBytes` (a string at its largest UTF-8 size). */
export function waitingFrameBytes(payload: AckPayload): number {
  return (typeof payload === 'string' ? payload.length * 3 : payload.byteLength) + WAITING_FRAME_BYTES;
}
