/**
 * One client of any kind behind one small interface, for the CPU and scenario children (the heap child has its own
 * closure-free drivers). Every library runs with its defaults; the only option given is the `WebSocket` class where
 * a library needs one on Node (reconnecting-websocket, partysocket).
 */
import { WebSocket as PartyWebSocket } from 'partysocket';
import RwsModule from 'reconnecting-websocket';
import { type Socket as IoSocket, io } from 'socket.io-client';
import WebSocket from 'ws';
import { atLeastOnce } from '../src/delivery/index.js';
import { createConnection } from '../src/node.js';
import type { ClientKind, KillKind } from './common.js';

/**
 * reconnecting-websocket ships CommonJS (`module.exports = ReconnectingWebSocket`) with `export default` typings:
 * under Node's ESM loader the default import is the class itself, under some loaders `{ default: class }`.
 */
type RwsClass = (typeof RwsModule)['default'];
export const ReconnectingWebSocket: RwsClass = (RwsModule as unknown as { default?: RwsClass }).default ?? (RwsModule as unknown as RwsClass);
/** partysocket's reconnecting `WebSocket` class (its fork of reconnecting-websocket). */
export { PartyWebSocket };

export interface ClientHooks {
  /** Every open, the first and each reconnect (socket.io: `connect`). */
  onOpen?(): void;
  /** The open connection went down (socket `close`; socket.io: `disconnect`). */
  onDown?(): void;
  onMessage?(data: unknown): void;
  /** socketchart only: a message reported as not delivered (`drop` event), with its reason. */
  /** `data` is the message as sent (the kill scenario's `m<i>`), to match reports against arrivals. */
  onDrop?(reason: string, data: unknown): void;
}

export interface BenchClient {
  readonly kind: ClientKind | KillKind;
  /** Sends one message (socket.io: emits event `echo`). */
  send(data: string): void;
  /** True once usable for the measurement (socket.io: upgraded from polling to WebSocket). */
  upgraded(): boolean;
  /** A short description of the client's state, for the log when something went missing. */
  describe(): string;
  /** Closes for good (no reconnect); resolves when closed, or after `timeoutMs`. */
  close(timeoutMs?: number): Promise<void>;
}

function settleWithin(promise: Promise<void>, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    void promise.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export function openClient(kind: ClientKind | KillKind, url: string, hooks: ClientHooks): BenchClient {
  switch (kind) {
    case 'ws': {
      // Same options as socketchart's node transport (permessage-deflate off; the server has it off anyway).
      const ws = new WebSocket(url, { perMessageDeflate: false });
      // What a WebSocket user gets: text as a string, binary as a Buffer.
      ws.on('message', (data: Buffer, isBinary: boolean) => hooks.onMessage?.(isBinary ? data : data.toString()));
      ws.on('open', () => hooks.onOpen?.());
      ws.on('close', () => hooks.onDown?.());
      ws.on('error', () => {});
      return {
        kind,
        send: (data) => ws.send(data),
        upgraded: () => true,
        describe: () => `readyState ${ws.readyState}`,
        close: (timeoutMs = 5_000) => {
          if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
          const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
          ws.close(1000);
          return settleWithin(closed, timeoutMs).then(() => ws.terminate());
        },
      };
    }
    case 'reconnecting-websocket':
    case 'partysocket': {
      const Class = kind === 'partysocket' ? PartyWebSocket : ReconnectingWebSocket;
      const rws = new Class(url, undefined, { WebSocket });
      rws.addEventListener('message', (event: { data: unknown }) => hooks.onMessage?.(event.data));
      rws.addEventListener('open', () => hooks.onOpen?.());
      rws.addEventListener('close', () => hooks.onDown?.());
      rws.addEventListener('error', () => {});
      return {
        kind,
        send: (data) => rws.send(data),
        upgraded: () => true,
        describe: () => `readyState ${rws.readyState}, queued ${(rws as unknown as { _messageQueue?: unknown[] })._messageQueue?.length ?? '?'}`,
        close: (timeoutMs = 5_000) => {
          const closed = new Promise<void>((resolve) => rws.addEventListener('close', () => resolve()));
          rws.close(1000);
          return settleWithin(closed, timeoutMs);
        },
      };
    }
    case 'socket.io': {
      const socket: IoSocket = io(url);
      socket.on('echo', (data: unknown) => hooks.onMessage?.(data));
      socket.on('connect', () => hooks.onOpen?.());
      socket.on('disconnect', () => hooks.onDown?.());
      socket.on('connect_error', () => {});
      return {
        kind,
        send: (data) => void socket.emit('echo', data),
        upgraded: () => socket.connected && socket.io.engine?.transport?.name === 'websocket',
        describe: () => {
          const engine = socket.io.engine as unknown as { readyState?: string; transport?: { name?: string }; writeBuffer?: unknown[]; upgrading?: boolean } | undefined;
          return `connected ${socket.connected}, sendBuffer ${socket.sendBuffer.length}, engine ${engine?.readyState} over ${engine?.transport?.name}` +
            `, engine writeBuffer ${engine?.writeBuffer?.length}, upgrading ${engine?.upgrading}`;
        },
        close: () => {
          socket.disconnect();
          socket.io.engine?.close();
          return Promise.resolve();
        },
      };
    }
    case 'socketchart':
    case 'socketchart-acked': {
      const connection = createConnection<string>(url, kind === 'socketchart-acked' ? { delivery: atLeastOnce() } : {});
      connection.onmessage = (event) => hooks.onMessage?.(event.data);
      connection.onopen = () => hooks.onOpen?.();
      connection.addEventListener('close', () => hooks.onDown?.());
      connection.addEventListener('drop', (event) => hooks.onDrop?.(event.reason, event.data));
      connection.onerror = () => {};
      return {
        kind,
        send: (data) => connection.send(data),
        upgraded: () => true,
        describe: () => `state ${connection.state}, bufferedAmount ${connection.bufferedAmount}`,
        close: (timeoutMs = 5_000) => {
          const closed = new Promise<void>((resolve) => {
            connection.addEventListener('close', (event) => {
              if (event.closedBy) resolve();
            });
          });
          connection.close(1000);
          return settleWithin(closed, timeoutMs);
        },
      };
    }
    default:
      throw new Error(`unknown client kind ${String(kind)}`);
  }
}
