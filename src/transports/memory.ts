import type { SendData } from '../data.js';
import { invalidOption } from '../errors.js';
import type { BinaryType, CloseInfo, OpenRequest, SocketSink, Transport, TransportSocket } from './types.js';

/**
 * The server's end of one in-memory socket: the test plays the server through it, synchronously.
 */
export class MemoryPeer {
  readonly request: OpenRequest;
  /** Everything the client sent, in order. */
  readonly sent: SendData[] = [];
  /** `'connecting' | 'open' | 'closing' | 'closed'` as the client would see it. */
  state: 'connecting' | 'open' | 'closing' | 'closed' = 'connecting';
  /** The close frame the client sent, if any. */
  clientClose: { code?: number; reason?: string } | null = null;
  /** Whether the client terminated this socket (no handshake). */
  terminated = false;
  /** Pings the client sent. */
  pings = 0;
  /** The payload of the last ping the client sent (answer it with `pong(peer.lastPing)`). */
  lastPing: Uint8Array = new Uint8Array();
  /** What the client's `bufferedAmount` reports: set it to simulate a slow reader. */
  buffered = 0;
  readonly #sink: SocketSink;

  constructor(request: OpenRequest, sink: SocketSink) {
    this.request = request;
    this.#sink = sink;
  }

  /** Complete the handshake. */
  accept(protocol = this.request.protocols[0] ?? '', extensions = ''): void {
    if (this.state !== 'connecting') return;
    this.state = 'open';
    this.#sink.onOpen({ protocol, extensions });
  }

  /** Fail the handshake (as an HTTP refusal or an unreachable host looks to a client). */
  refuse(message = 'Unexpected server response: 503'): void {
    if (this.state === 'closed') return;
    this.#sink.onError(new Error(message));
    this.#finish({ code: 1006, reason: '', wasClean: false });
  }

  /**
   * Report a socket error without closing (the client gets an `error` event, and the socket stays as it is). A
   * real socket follows an error with a close: call `close(1006)` for that, or use `refuse()` for both at once.
   */
  error(error: Error | string = 'Connection reset by peer'): void {
    if (typeof error !== 'string' && !(error instanceof Error)) throw invalidOption('peer.error(error)', 'an Error or a message string', error);
    if (this.state === 'closed') return;
    this.#sink.onError(typeof error === 'string' ? new Error(error) : error);
  }

  /** Deliver a message to the client. */
  message(data: unknown): void {
    if (this.state === 'open' || this.state === 'closing') this.#sink.onMessage(data);
  }

  /** Answer a ping the way RFC 6455 servers do. */
  pong(data: Uint8Array = new Uint8Array()): void {
    if (this.state === 'open') this.#sink.onPong?.(data);
  }

  /** Close with a close frame (or, with code 1006, as a dropped TCP connection). */
  close(code = 1000, reason = ''): void {
    // Checked here: the chart classifies the code, and a bad one would fail inside a transition instead.
    if (!Number.isInteger(code) || code < 0) throw invalidOption('peer.close(code)', 'a close code (a whole number such as 1000, or 1006 for a dropped connection)', code);
    if (typeof reason !== 'string') throw invalidOption('peer.close(code, reason)', 'a string', reason);
    if (this.state === 'closed') return;
    this.#finish({ code, reason, wasClean: code !== 1006 });
  }

  /** Answer the client's close frame, completing its closing handshake. */
  completeClose(): void {
    if (this.state !== 'closing') return;
    const { code = 1005, reason = '' } = this.clientClose ?? {};
    this.#finish({ code, reason, wasClean: true });
  }

  #finish(info: CloseInfo): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (!this.terminated) this.#sink.onClose(info);
  }

  /** @internal the client side */
  get client(): TransportSocket {
    return new MemorySocket(this);
  }
}

class MemorySocket implements TransportSocket {
  readonly #peer: MemoryPeer;
  binaryType: BinaryType;

  constructor(peer: MemoryPeer) {
    this.#peer = peer;
    this.binaryType = peer.request.binaryType;
  }

  get bufferedAmount(): number {
    return this.#peer.buffered;
  }

  send(data: SendData): boolean {
    if (this.#peer.state !== 'open') return false;
    this.#peer.sent.push(data);
    return true;
  }

  close(code?: number, reason?: string): void {
    const peer = this.#peer;
    if (peer.state === 'closed' || peer.state === 'closing') return;
    peer.clientClose = { ...(code !== undefined ? { code } : {}), ...(reason !== undefined ? { reason } : {}) };
    if (peer.state === 'connecting') {
      peer.refuse('WebSocket was closed before the connection was established');
      return;
    }
    peer.state = 'closing';
  }

  terminate(): void {
    this.#peer.terminated = true;
    this.#peer.state = 'closed';
  }

  ping(data: Uint8Array = new Uint8Array()): void {
    this.#peer.pings++;
    this.#peer.lastPing = data;
  }
}

const BINARY_TYPES: readonly unknown[] = ['arraybuffer', 'blob', 'nodebuffer'];

export interface MemoryTransportOptions {
  /**
   * The `binaryType`s its sockets accept.
   * @default ['arraybuffer', 'blob', 'nodebuffer']
   */
  binaryTypes?: readonly BinaryType[];
  /**
   * Whether its sockets can send ping frames, as the Node transport's can: then the heartbeat's default (and
   * `mode: 'protocol'`) works, as in every `PATH_VARIANTS` variant. The peer never answers a ping by itself:
   * call `peer.pong()` (a probe left unanswered ends in a heartbeat timeout, as with a dead server). `false`
   * behaves like a browser: heartbeat off unless `heartbeat.mode` is `'message'` or `'passive'`.
   * @default true
   */
  canPing?: boolean;
}

function checkMemoryOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) throw invalidOption('createMemoryTransport(options)', 'an object { binaryTypes?, canPing? }', options);
  const { binaryTypes, canPing } = options as Record<string, unknown>;
  if (binaryTypes !== undefined && !(Array.isArray(binaryTypes) && binaryTypes.every((t) => BINARY_TYPES.includes(t)))) {
    throw invalidOption('binaryTypes', "an array of 'arraybuffer', 'blob' or 'nodebuffer'", binaryTypes);
  }
  if (canPing !== undefined && typeof canPing !== 'boolean') throw invalidOption('canPing', 'true or false', canPing);
}

/**
 * An in-process transport: nothing touches the network, and the test decides, synchronously, when each socket
 * opens, what it receives and how it ends. For fast unit tests of the chart and of app code.
 *
 * A socket exists once the connection calls `open`: at once for a plain string URL, a few microtasks later when
 * the URL, protocols, headers or an auth token come from a function (every attempt of an `auth` connection).
 * `await memory.waitForPeer()` covers both.
 */
export function createMemoryTransport(options: MemoryTransportOptions = {}) {
  checkMemoryOptions(options);
  const peers: MemoryPeer[] = [];
  let failure: Error | null = null;
  let waiters: Array<(peer: MemoryPeer) => void> = [];
  const transport: Transport = {
    name: 'memory',
    defaultBinaryType: 'arraybuffer',
    binaryTypes: options.binaryTypes ?? ['arraybuffer', 'blob', 'nodebuffer'],
    supportsHeaders: true,
    canPing: options.canPing ?? true,
    open(request: OpenRequest, sink: SocketSink): TransportSocket {
      if (failure) {
        const error = failure;
        failure = null;
        throw error;
      }
      const peer = new MemoryPeer(request, sink);
      peers.push(peer);
      const waiting = waiters;
      waiters = [];
      for (const resolve of waiting) resolve(peer);
      return peer.client;
    },
  };
  return {
    transport,
    /** Every socket opened so far, oldest first. */
    peers,
    /** The newest socket. */
    get last(): MemoryPeer | undefined {
      return peers[peers.length - 1];
    },
    /**
     * The newest socket still waiting for its handshake (`accept()`, `refuse()`, `close()`), as soon as the
     * connection has opened it: at once if it already has. Use it after `conn.open()`, a retry or a reconnect.
     * Resolves on the `open` call itself (no macrotask), so nothing else happens on the connection in between.
     */
    waitForPeer(): Promise<MemoryPeer> {
      const last = peers[peers.length - 1];
      if (last && last.state === 'connecting' && !last.terminated) return Promise.resolve(last);
      return new Promise((resolve) => waiters.push(resolve));
    },
    /**
     * Make the next `open` throw `error`, as a transport does for a request that can never work (a malformed URL
     * or subprotocol): the connection gets `SOCKET.FAIL` and closes with `closedBy.kind === 'error'`, without
     * retrying. With a plain string URL the next `open` happens inside `conn.open()` (or the retry), so arm it
     * before.
     */
    failNextOpen(error: Error | string = 'The transport refused the request'): void {
      if (typeof error !== 'string' && !(error instanceof Error)) throw invalidOption('failNextOpen(error)', 'an Error or a message string', error);
      failure = typeof error === 'string' ? new Error(error) : error;
    },
  };
}

export type MemoryTransport = ReturnType<typeof createMemoryTransport>;
