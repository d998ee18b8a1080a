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
 */
export function createMemoryTransport(options: { binaryTypes?: readonly BinaryType[]; canPing?: boolean } = {}) {
  checkMemoryOptions(options);
  const peers: MemoryPeer[] = [];
  const transport: Transport = {
    name: 'memory',
    defaultBinaryType: 'arraybuffer',
    binaryTypes: options.binaryTypes ?? ['arraybuffer', 'blob', 'nodebuffer'],
    supportsHeaders: true,
    canPing: options.canPing ?? false,
    open(request: OpenRequest, sink: SocketSink): TransportSocket {
      const peer = new MemoryPeer(request, sink);
      peers.push(peer);
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
  };
}

export type MemoryTransport = ReturnType<typeof createMemoryTransport>;
