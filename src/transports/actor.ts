import { fromCallback } from 'xstate';
import { SocketchartError } from '../errors.js';
import type { CloseInfo, OpenRequest, SocketSink, Transport, TransportSocket } from './types.js';

/** Events the socket actor sends to the connection machine. */
export type SocketEvent =
  | { type: 'SOCKET.OPEN'; protocol: string; extensions: string }
  | { type: 'SOCKET.ERROR'; error: Error }
  | { type: 'SOCKET.CLOSE'; code: number; reason: string; wasClean: boolean }
  /** The attempt cannot work however often it is retried (a malformed URL from the provider, say). */
  | { type: 'SOCKET.FAIL'; error: Error };

/** Commands the machine sends to the socket actor. */
export type SocketCommand = { type: 'close'; code: number; reason: string };

/**
 * What the socket actor needs from whoever hosts the connection: where to connect this time, and where inbound
 * messages go (straight to listeners, not through the machine's event queue).
 */
export interface SocketHost {
  readonly transport: Transport;
  /** The URL, protocols and headers for this attempt; async when the user's URL or headers are. */
  openRequest(): OpenRequest | Promise<OpenRequest>;
  /** A socket exists for the current attempt (not yet open). */
  attach(socket: TransportSocket): void;
  /** The handshake completed: what the server chose. */
  handshakeDone(socket: TransportSocket, info: { protocol: string; extensions: string }): void;
  /** The attempt is over; its socket is gone. */
  detach(socket: TransportSocket): void;
  deliver(socket: TransportSocket, data: unknown): void;
  pong?(socket: TransportSocket, data: Uint8Array): void;
}

export interface SocketActorInput {
  host: SocketHost;
}

/**
 * Bridges one transport socket to the machine. One object per attempt instead of a closure per event.
 * Once `stopped`, nothing it hears reaches the machine or the listeners: a stale socket is mute.
 */
class AttemptSocket implements SocketSink {
  socket: TransportSocket | undefined;
  stopped = false;
  closed = false;
  readonly #host: SocketHost;
  readonly #sendBack: (event: SocketEvent) => void;

  constructor(host: SocketHost, sendBack: (event: SocketEvent) => void) {
    this.#host = host;
    this.#sendBack = sendBack;
  }

  start(request: OpenRequest): void {
    if (this.stopped) return;
    try {
      this.socket = this.#host.transport.open(request, this);
    } catch (error) {
      // A transport throws only for requests that can never succeed (bad URL, bad subprotocol, a bad header).
      // Reported from a microtask: the first attempt starts inside createConnection(), and its listeners are not
      // attached yet (WHATWG fires nothing from the constructor either).
      queueMicrotask(() => {
        if (!this.stopped) this.#sendBack({ type: 'SOCKET.FAIL', error: typed(asError(error), 'ERR_TRANSPORT') });
      });
      return;
    }
    this.#host.attach(this.socket);
  }

  onOpen(info: { protocol: string; extensions: string }): void {
    if (this.stopped || !this.socket) return;
    this.#host.handshakeDone(this.socket, info);
    this.#sendBack({ type: 'SOCKET.OPEN', ...info });
  }

  onMessage(data: unknown): void {
    if (!this.stopped && this.socket) this.#host.deliver(this.socket, data);
  }

  onPong(data: Uint8Array): void {
    if (!this.stopped && this.socket) this.#host.pong?.(this.socket, data);
  }

  onError(error: Error): void {
    if (!this.stopped) this.#sendBack({ type: 'SOCKET.ERROR', error: typed(error, 'ERR_TRANSPORT') });
  }

  onClose(info: CloseInfo): void {
    this.closed = true;
    if (!this.stopped) this.#sendBack({ type: 'SOCKET.CLOSE', ...info });
  }

  providerFailed(error: unknown): void {
    if (this.stopped) return;
    const cause = asError(error);
    // Our own validation errors (a malformed URL or subprotocol from the provider) will not heal by retrying.
    if (cause instanceof SocketchartError) {
      this.#sendBack({ type: 'SOCKET.FAIL', error: cause });
      return;
    }
    // A provider that failed (a token fetch over a flaky network, say) is worth another try.
    this.#sendBack({ type: 'SOCKET.ERROR', error: typed(cause, 'ERR_PROVIDER_FAILED') });
    this.#sendBack({ type: 'SOCKET.CLOSE', code: 1006, reason: `A URL, protocols, headers or token provider failed: ${cause.message}`, wasClean: false });
  }

  command(command: SocketCommand): void {
    if (command.type === 'close' && this.socket && !this.closed) this.socket.close(command.code, command.reason);
  }

  stop(): void {
    this.stopped = true;
    const socket = this.socket;
    if (!socket) return;
    if (!this.closed) socket.terminate();
    this.#host.detach(socket);
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** What the app hears of a failure from outside the library: a typed error with the same message, the original as `cause`. */
function typed(error: Error, code: 'ERR_TRANSPORT' | 'ERR_PROVIDER_FAILED'): SocketchartError {
  return error instanceof SocketchartError ? error : new SocketchartError(code, error.message, { cause: error });
}

/**
 * The socket of one attempt as an XState callback actor: invoked by the `attempt` state, so leaving that state
 * (for any reason) stops the actor and terminates the socket.
 */
export const socketActor = fromCallback<SocketCommand, SocketActorInput, SocketEvent>(
  ({ input, sendBack, receive }) => {
    const attempt = new AttemptSocket(input.host, sendBack);
    let request: OpenRequest | Promise<OpenRequest>;
    try {
      request = input.host.openRequest();
    } catch (error) {
      attempt.providerFailed(error);
      return () => attempt.stop();
    }
    if (request instanceof Promise) {
      request.then(
        (resolved) => attempt.start(resolved),
        (error: unknown) => attempt.providerFailed(error),
      );
    } else {
      // Anything the socket reports during start waits in the machine's mailbox until this state is entered.
      attempt.start(request);
    }
    receive((command) => attempt.command(command));
    return () => attempt.stop();
  },
);
