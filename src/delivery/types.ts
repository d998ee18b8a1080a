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
  /**
   * Optional: report a frame from the server that the layer skipped because it breaks the protocol (malformed, a
   * sequence gap, an ack for messages never sent). The connection fires one `invalid-message` event with `frame` as
   * its `data` and a `SocketchartError` `ERR_INVALID_DATA` whose message is `problem` (a sentence naming the frame
   * kind and saying it was skipped). Not for what the protocol expects, such as a duplicate replayed after a resume:
   * those are skipped quietly. A host without it (a layer driven by hand) hears of nothing.
   */
  invalid?(frame: unknown, problem: string): void;
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
  /**
   * Optional, for `createSharedConnection`: report the session's changes to `observer` from now on, so that other
   * tabs can take the session over (`adopt`). A layer without it is not shared across a leader handover.
   */
  share?(observer: SessionObserver): void;
  /** Optional (with `share`): the session as it stands, to hand to another tab. */
  snapshot?(): SessionSnapshot;
  /**
   * Optional (with `share`): continue `session`, taken from another tab, on the next socket: resume it with its id
   * and `lastIn`, and write its held messages again under the same sequence numbers. Only before this layer's
   * first socket and while it holds nothing.
   */
  adopt?(session: SessionSnapshot): void;
}

/** A message a layer holds, as another tab can keep it (structured clone): its seq, its frame, what the app sent. */
export interface HeldMessage {
  seq: number;
  data: SendData;
  /** Absent when it is `data` (the raw codec). */
  message?: unknown;
}

/** A shareable session: what a tab that takes it over needs to resume it on the server. */
export interface SessionSnapshot {
  /** The session id. */
  sid: string;
  /** The next outbound sequence number. */
  next: number;
  /** The highest inbound sequence number delivered. */
  lastIn: number;
  /** Outbound messages not acknowledged by the server, oldest first. */
  held: HeldMessage[];
}

/**
 * What a shared layer reports as its session changes. `held` comes as each message gets its seq; `flush` comes
 * before the layer writes any data frame, so an observer that publishes what it was told by then has published
 * every message the server can have received (write-ahead).
 */
export interface SessionObserver {
  held(message: HeldMessage): void;
  flush(): void;
  /** The server acknowledged every outbound message up to `ack`. */
  acked(ack: number): void;
  /** Inbound message `seq` is being delivered (the app's messages from its frame follow, synchronously). */
  delivered(seq: number): void;
  /** A new session (`ended`), or a new server session (`welcome` with `resumed: false`): numbering starts over. */
  restarted(session: Omit<SessionSnapshot, 'held'>): void;
  /**
   * An adopted session's welcome: the server processed seqs the session did not know of (the tab that had it
   * numbered them and its report was lost). Every message numbered `from` or later now has its seq + `by`; none of
   * them was written under its old one. Comes before the layer writes any of them, and before the welcome's `acked`.
   */
  renumbered(from: number, by: number): void;
}

/** A function that builds the layer for one connection. */
export type DeliveryFactory = (host: DeliveryHost) => DeliveryLayer;

/** Set while a shared connection builds its connection (see `watchLayers`). */
let layerWatch: ((layer: DeliveryLayer) => void) | null = null;

/**
 * @internal Runs `build` and hands `seen` every shareable layer made meanwhile. A connection makes its delivery
 * layer inside its constructor and keeps it to itself; `createSharedConnection` needs it to share its session.
 */
export function watchLayers<T>(build: () => T, seen: (layer: DeliveryLayer) => void): T {
  const outer = layerWatch;
  layerWatch = seen;
  try {
    return build();
  } finally {
    layerWatch = outer;
  }
}

/** @internal A layer that implements `share`/`snapshot`/`adopt` announces itself as it is made. */
export function shareableLayerMade(layer: DeliveryLayer): void {
  layerWatch?.(layer);
}
