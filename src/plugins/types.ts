/**
 * The contract between a connection and its message plug-ins (chunking, batching, requests, schema). A plug-in is
 * a value an app imports from its own entry (`socketchart/chunking`, ...) and passes in options; the connection
 * calls `create(host)` once and drives what it returns at fixed points of its outbound and inbound paths. The
 * core imports only these types, so a plug-in's code (its option checks and defaults included) reaches a bundle
 * only through the app's own import.
 */
import type { SendData } from '../data.js';
import type { SocketchartError } from '../errors.js';
import type { DropReason, QueueTag } from '../policies/queue.js';
import type { BinaryType, CloseInfo, TransportSocket } from '../transports/types.js';

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** What a plug-in may use of the connection it is installed in (the runtime implements it). */
export interface PluginHost {
  /** True when the codec is `rawCodec`: messages are their frames. */
  readonly raw: boolean;
  readonly readyState: 0 | 1 | 2 | 3;
  readonly binaryType: BinaryType;
  /** The socket `send()` writes to: set exactly while the chart is in `open`. */
  readonly live: TransportSocket | null;
  /** The socket whose messages are being delivered (its `open` announced, its `close` not yet). */
  readonly announced: TransportSocket | null;
  /** True when a delivery layer (`socketchart/delivery`) owns the outbound path. */
  readonly delivering: boolean;
  /** How many inbound messages, and bytes, may wait before delivery (`queue.maxMessages`, `queue.maxBytes`). */
  readonly inboundBounds: { readonly maxMessages: number; readonly maxBytes: number };
  now(): number;
  timers(): Timers;
  /** The frame for an app message (the codec); throws ERR_INVALID_DATA. */
  encode(message: unknown): SendData;
  /** The checks every outbound frame passes before it is accepted (maxMessageSize, the chunker's). */
  checkOutbound(data: SendData): void;
  /** The road `send()` takes from here: socket, queue (with `tag`), delivery layer or a drop report. */
  sendFrame(data: SendData, tag: QueueTag | undefined, origin: unknown): boolean;
  /** Writes on `socket` now (split if chunking is on); false if the socket refused. */
  write(socket: TransportSocket, data: SendData, tracked: boolean): boolean;
  /** Adds to the outbound queue (ahead of the pump, in order). */
  enqueue(data: SendData, message: unknown): void;
  /** Reports `messages` as dropped (after the transition in progress, if any). */
  reportDrops(frames: readonly SendData[], messages: readonly unknown[], reason: DropReason): void;
  /** An `error` event saying the app's callback `name` threw (after the transition in progress, if any). */
  reportCallbackError(name: string, error: unknown): void;
  /**
   * An `invalid-message` event, now. `decoded`: the message as decoded, before validation; a request's reply that
   * failed validation also rejects its request.
   */
  invalid(data: unknown, problem: unknown, decoded?: unknown): void;
  /** An `invalid-message` event, safe mid-transition. */
  reportInvalid(data: unknown, problem: unknown): void;
  /**
   * Hands a decoded, valid message to routing and the `message` listeners. `decoded`: the message before validation,
   * where a request's reply is matched (a schema that strips unknown keys drops the id).
   */
  route(message: unknown, at: number, decoded?: unknown): void;
  /** The error for a closed session. */
  closedError(): SocketchartError;
}

/** A plug-in as passed in options: `kind` names the option it belongs in. */
export interface Plugin<K extends string, L> {
  readonly kind: K;
  /** Called once per connection. */
  create(host: PluginHost): L;
}

/** Splits big outbound messages at write time and reassembles inbound chunks. */
export interface Chunker {
  /** Refuses at send() what cannot be split when written (a Blob bigger than a chunk). */
  check(data: SendData): void;
  /** The frames for `data`, or null if it fits in one. */
  split(data: SendData): readonly SendData[] | null;
  /** The whole message, or undefined while chunks are missing; throws for a bad chunk. */
  accept(frame: unknown): unknown;
  /** The socket ended: partial messages die with it. */
  reset(): void;
}

/** Coalesces outbound messages into one frame, and splits inbound batches. */
export interface Batcher {
  add(data: SendData, message: unknown): void;
  /** Sends what is collected now (before a close frame). */
  flush(): void;
  /** On open: what is collected joins the queue, behind the session restore. */
  intoQueue(): void;
  /** The session ended: each collected message is reported. */
  drop(): void;
  /** The messages of an inbound batch, or undefined for an ordinary frame; may throw. */
  split: ((frame: unknown) => unknown[] | undefined) | undefined;
}

/** Request/response: `conn.request()`, replies matched by id, requests that outlive sockets. */
export interface Requester {
  request(body: unknown, options: unknown): Promise<unknown>;
  /**
   * True if `message` was a reply and settled its request (it is then not delivered). The reply is matched on
   * `decoded` when given (the message before a schema validated it), and resolves with `message`.
   */
  settle(message: unknown, decoded?: unknown): boolean;
  /** True if `decoded` was a reply to a pending request, which then rejects with `error` (its reply was invalid). */
  refuse(decoded: unknown, error: Error): boolean;
  /** A socket opened: requests not yet written on it go now (during the session restore). */
  opened(socket: TransportSocket): void;
  lost(close: CloseInfo): void;
  ended(error: Error): void;
}

/** Validates each decoded inbound message; calls `host.route` or `host.invalid`, in arrival order. */
export interface Validator {
  accept(data: unknown, message: unknown, at: number): void;
  /**
   * The session ended: the frames of every message still waiting for an async validation, which are then forgotten
   * (the host reports each; none is delivered later, in this session or the next).
   */
  ended?(): unknown[];
}

/** Routes inbound messages to handlers by type: `conn.on/once/off`. */
export interface Router {
  on(type: unknown, handler: (message: never) => void, once?: boolean): void;
  off(type: unknown, handler: (message: never) => void): void;
  route(message: unknown): void;
}

export type ChunkingPlugin = Plugin<'chunking', Chunker>;
export type BatchingPlugin = Plugin<'batching', Batcher>;
export type RequestsPlugin = Plugin<'requests', Requester>;
/** `In` is what the schema's output type makes of inbound messages. */
export interface SchemaPlugin<In = unknown> extends Plugin<'schema', Validator> {
  /** Carries the message type only (never set). */
  readonly __in?: In;
}
export interface RouterPlugin extends Plugin<'router', Router> {
  /** The discriminant field it routes by (wrappers such as the shared connection route by the same one). */
  readonly typeField: string;
}
