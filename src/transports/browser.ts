import type { SendData } from '../data.js';
import { invalidOption } from '../errors.js';
import { protocolFailureOf } from './protocolFailure.js';
import type { BinaryType, OpenRequest, SocketSink, Transport, TransportSocket } from './types.js';

type DomWebSocket = WebSocket;

/**
 * Adapts one DOM WebSocket. It is its own listener object (`handleEvent`), so a socket costs one object here,
 * not one closure per event type.
 */
class BrowserSocket implements TransportSocket {
  readonly #socket: DomWebSocket;
  readonly #sink: SocketSink;
  #done = false;

  constructor(socket: DomWebSocket, sink: SocketSink) {
    this.#socket = socket;
    this.#sink = sink;
    socket.addEventListener('open', this);
    socket.addEventListener('message', this);
    socket.addEventListener('error', this);
    socket.addEventListener('close', this);
  }

  handleEvent(event: Event): void {
    if (this.#done) return;
    switch (event.type) {
      case 'message':
        this.#sink.onMessage((event as MessageEvent).data);
        break;
      case 'open':
        this.#sink.onOpen({ protocol: this.#socket.protocol, extensions: this.#socket.extensions });
        break;
      case 'error': {
        // The DOM hides the cause on purpose (browsers then report 1006 for everything). A WHATWG constructor that
        // does tell, ws's, says when the server broke the protocol: report that close code now, as the Node
        // transport does, because ws's own close event waits for the server's TCP close and then says 1006.
        const cause = (event as ErrorEvent).error as unknown;
        const failure = protocolFailureOf(cause);
        if (failure === undefined) {
          this.#sink.onError(cause instanceof Error ? cause : new Error('WebSocket error'));
          break;
        }
        this.#detach();
        this.#sink.onError(cause as Error);
        this.#sink.onClose({ code: failure.code, reason: failure.reason, wasClean: false });
        break;
      }
      case 'close': {
        const { code, reason, wasClean } = event as CloseEvent;
        this.#detach();
        this.#sink.onClose({ code, reason, wasClean });
        break;
      }
    }
  }

  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  get binaryType(): BinaryType {
    return this.#socket.binaryType;
  }

  set binaryType(type: BinaryType) {
    this.#socket.binaryType = type as 'blob' | 'arraybuffer';
  }

  send(data: SendData): boolean {
    // A DOM socket past OPEN discards writes silently; report them instead.
    if (this.#socket.readyState !== 1) return false;
    this.#socket.send(data as string);
    return true;
  }

  close(code?: number, reason?: string): void {
    this.#socket.close(code, reason);
  }

  terminate(): void {
    this.#detach();
    // Browsers have no abort: close() is the fastest way down, and nobody listens any more.
    this.#socket.close();
  }

  #detach(): void {
    if (this.#done) return;
    this.#done = true;
    this.#socket.removeEventListener('open', this);
    this.#socket.removeEventListener('message', this);
    this.#socket.removeEventListener('error', this);
    this.#socket.removeEventListener('close', this);
    // An EventEmitter-based constructor (ws) throws an 'error' nobody listens to, crashing the process: closing a
    // socket whose handshake is in flight emits one. Browsers ignore the extra listener.
    this.#socket.addEventListener('error', ignore);
  }
}

function ignore(): void {}

/**
 * The transport over `globalThis.WebSocket`: browsers, Deno, Bun, Node >= 22. `WebSocketImpl` lets you pass
 * another WHATWG-compatible constructor (it takes no options object).
 */
export function createBrowserTransport(WebSocketImpl?: typeof WebSocket): Transport {
  if (WebSocketImpl !== undefined && typeof WebSocketImpl !== 'function') {
    throw invalidOption(
      'createBrowserTransport(WebSocketImpl)',
      'a WebSocket constructor (such as globalThis.WebSocket), or nothing for the global one',
      WebSocketImpl,
    );
  }
  return {
    name: 'browser',
    defaultBinaryType: 'blob',
    binaryTypes: ['blob', 'arraybuffer'],
    supportsHeaders: false,
    canPing: false,
    open(request: OpenRequest, sink: SocketSink): TransportSocket {
      const Impl = WebSocketImpl ?? globalThis.WebSocket;
      const socket = new Impl(request.url, request.protocols);
      socket.binaryType = request.binaryType as 'blob' | 'arraybuffer';
      return new BrowserSocket(socket, sink);
    },
  };
}

/** True where the host has a WHATWG `WebSocket` global. */
export function hasGlobalWebSocket(): boolean {
  return typeof globalThis.WebSocket === 'function';
}
