import type { SendData } from '../data.js';

/** How a socket ended, as a DOM `CloseEvent` tells it. */
export interface CloseInfo {
  code: number;
  reason: string;
  wasClean: boolean;
}

/** What the user may set on the binary messages they receive. `nodebuffer` exists only on the Node transport. */
export type BinaryType = 'blob' | 'arraybuffer' | 'nodebuffer';

/**
 * What a transport tells about one socket. One object per socket (not one closure per event) keeps the
 * per-connection heap small; a transport must call nothing after `onClose`.
 */
export interface SocketSink {
  onOpen(info: { protocol: string; extensions: string }): void;
  onMessage(data: unknown): void;
  /** Something failed; `onClose` follows. */
  onError(error: Error): void;
  onClose(info: CloseInfo): void;
  /** A pong frame (RFC 6455) arrived; only transports with `ping` call it. */
  onPong?(data: Uint8Array): void;
}

export interface OpenRequest {
  url: string;
  protocols: string[];
  binaryType: BinaryType;
  /** Extra handshake headers for this attempt (Node transport only; browsers cannot set them). */
  headers?: Record<string, string>;
}

/** One socket, as the connection drives it. */
export interface TransportSocket {
  readonly bufferedAmount: number;
  binaryType: BinaryType;
  /**
   * Write one message. Returns false when the socket can no longer carry it (it is closing or closed), so the
   * caller can keep the message for the next socket instead of losing it silently.
   */
  send(data: SendData): boolean;
  /** Start the closing handshake. */
  close(code?: number, reason?: string): void;
  /** End now, without a handshake. The transport reports nothing after this. */
  terminate(): void;
  /** Send an RFC 6455 ping frame; only where the platform allows it (not in browsers). */
  ping?(data?: Uint8Array): void;
}

/**
 * A way to open sockets: the browser's `WebSocket`, the `ws` package, an in-memory pair. `open` must not throw
 * for network reasons (report them through `sink.onError` + `sink.onClose`); it may throw for a malformed request.
 */
export interface Transport {
  readonly name: string;
  /** The `binaryType` sockets start with when the user set none. */
  readonly defaultBinaryType: BinaryType;
  /** Every `binaryType` its sockets accept. */
  readonly binaryTypes: readonly BinaryType[];
  /** Whether `OpenRequest.headers` reach the server (false in browsers). */
  readonly supportsHeaders: boolean;
  /** Whether its sockets can send RFC 6455 ping frames (`TransportSocket.ping`). */
  readonly canPing?: boolean;
  open(request: OpenRequest, sink: SocketSink): TransportSocket;
}
