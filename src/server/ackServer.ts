/**
 * `attachAckServer`: `socketchart.ack.v1` on a `ws` server, handing each session to its kind: `MemorySession` for a
 * record-at-a-time `SessionStore`, `SharedSession` for a `SharedSessionStore` (several nodes). This module is the
 * server object (its sessions, the contexts they run in, `sendTo`, `ready`, `close`); the sockets (subprotocol,
 * frames, hello, bounds) are sockets.ts, and a shared store's notices and leases storeListener.ts.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { WebSocket, type WebSocketServer } from 'ws';
import { ACK_PROTOCOL } from '../delivery/protocol.js';
import { SocketchartError, invalidOption } from '../errors.js';
import { appHooks } from './hooks.js';
import type { LocalContext, MemorySession } from './memorySession.js';
import { type AckServer, type AckServerOptions, type AckServerStats, resolveServerOptions } from './options.js';
import type { SharedSession } from './session.js';
import type { SharedContext } from './sharedContext.js';
import { acceptSockets } from './sockets.js';
import { type SessionStore, type SharedSessionStore, isSharedStore } from './store.js';
import { listenToStore } from './storeListener.js';
import { type AckSendData, type Link, storedPayload } from './types.js';

export type { AckMessage, AckPayload, AckSendData, AckSession, UndeliveredReason } from './types.js';
export {
  ACK_SERVER_DEFAULTS,
  MAX_UNFLUSHED_PONGS,
  type AckServer,
  type AckServerOptions,
  type AckServerStats,
} from './options.js';

/**
 * Speaks `socketchart.ack.v1` (PROTOCOL.md) on a `ws` `WebSocketServer`: sessions that survive reconnects, in-order
 * exactly-once processing of client messages (dedupe by sequence), replay of unacknowledged server messages on
 * resume, batched acknowledgements, and session expiry.
 *
 * ```ts
 * const wss = new WebSocketServer({ port: 8080 });
 * attachAckServer(wss, { onMessage: (session, payload) => session.send(`echo:${payload}`) });
 * ```
 */
export function attachAckServer(wss: WebSocketServer, options: AckServerOptions): AckServer {
  if (typeof wss !== 'object' || wss === null || typeof (wss as { on?: unknown }).on !== 'function' || typeof wss.options !== 'object') {
    throw invalidOption('wss', 'a ws WebSocketServer', wss);
  }
  const o = resolveServerOptions(options);
  const sharedStore = isSharedStore(o.store) ? o.store : null;
  // The record-at-a-time path below serves SessionStore; a SharedSessionStore gets SharedSession (session.ts).
  const store = o.store as SessionStore;
  const node = `${process.pid.toString(36)}-${randomBytes(6).toString('base64url')}`;
  const shared = new Map<string, SharedSession>();
  const clock = o.clock;
  const sessions = new Map<string, MemorySession>();
  let closed = false;
  const stats: AckServerStats = { created: 0, resumed: 0, expired: 0, processed: 0, duplicates: 0, replayed: 0, refused: 0, storeFailures: 0, undelivered: 0, deadLetters: 0 };

  const { report, warnOnce, storeFailure, callOnMessage, callHook } = appHooks(options, stats);

  /**
   * Closes a socket the server refuses. A socket that does not drain what it was sent (over `maxSocketBuffer`), or
   * one that must let go of its buffers at once (`now`), is terminated right after the close frame is queued: a
   * polite close would hold its buffers for ws's 30 s close timeout.
   */
  const shut = (ws: WebSocket, code: number, reason: string, now = false) => {
    if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
    if (now || ws.bufferedAmount >= o.maxSocketBuffer) ws.terminate();
  };

  const fail = (link: Link, code: number, reason: string, now = false) => {
    link.backlog = null;
    if (link.ws.readyState !== WebSocket.OPEN) return;
    stats.refused++;
    shut(link.ws, code, reason, now);
  };

  const localContext: LocalContext = {
    o,
    store,
    clock,
    stats,
    sessions,
    onMessage: (session, payload, message) => callOnMessage(session, payload, message),
    onSession: options.onSession?.bind(options),
    onExpire: options.onExpire?.bind(options),
    report,
    storeFailure,
    fail,
    shut,
  };

  const sharedContext: SharedContext = {
    store: sharedStore as SharedSessionStore,
    clock,
    limits: o,
    stats,
    onMessage: (session, payload, message) => callOnMessage(session, payload, message),
    onSession: (session, info) => callHook(options.onSession, session, info),
    onExpire: (session, undelivered) => callHook(options.onExpire, session, undelivered),
    undelivered(session, payloads, reason) {
      stats.undelivered += payloads.length;
      if (options.onUndelivered) {
        callHook(options.onUndelivered, session, payloads, reason);
        return;
      }
      const message = `${payloads.length} message(s) accepted by session.send() were not delivered (${reason}); pass onUndelivered to handle them.`;
      if (options.onError) report(new SocketchartError(reason === 'full' ? 'ERR_QUEUE_FULL' : 'ERR_CONNECTION_CLOSED', message), session);
      else warnOnce('SOCKETCHART_UNDELIVERED', `socketchart: ${message} stats.undelivered counts them.`);
    },
    deadLetter(session, payload, message, error) {
      stats.deadLetters++;
      if (options.onDeadLetter) {
        callHook(options.onDeadLetter, session, payload, message, error);
        return;
      }
      const text = `Client message ${message.key} was recorded as processed without its message.commit() effects after ${o.maxEffectFailures} failures (last: ${error.message}); pass onDeadLetter to keep it.`;
      if (options.onError) report(new SocketchartError('ERR_EFFECT_FAILED', text, { cause: error }), session);
      else warnOnce('SOCKETCHART_DEAD_LETTER', `socketchart: ${text} stats.deadLetters counts them.`);
    },
    report,
    storeFailure,
    fail,
    forget(session) {
      if (shared.get(session.id) === session) shared.delete(session.id);
    },
  };

  const listener = listenToStore(sharedStore, node, shared, o, storeFailure, () => closed);
  const onConnection = acceptSockets({
    options,
    o,
    stats,
    node,
    store,
    sharedStore,
    sessions,
    shared,
    localContext,
    sharedContext,
    listener,
    report,
    storeFailure,
    fail,
    shut,
    isClosed: () => closed,
  });
  const ready = listener.ready;

  const sendTo = async (sessionId: string, data: AckSendData): Promise<boolean> => {
    const stored = storedPayload(data);
    if (!sharedStore) return sessions.get(sessionId)?.send(stored) ?? false;
    const local = shared.get(sessionId);
    if (local && local.state === 'attached') {
      const result = await local.append(stored);
      if (result === true) return true;
      if (result !== 'taken-over') return false;
      // It moved to another node meanwhile: store it for wherever it is now.
    }
    const seq = await sharedStore.append(sessionId, null, stored, o);
    return typeof seq === 'number' && seq > 0;
  };

  const originalHandleProtocols = wss.options.handleProtocols;
  const handleProtocols = (protocols: Set<string>, request: IncomingMessage): string | false => {
    if (protocols.has(ACK_PROTOCOL)) return ACK_PROTOCOL;
    if (originalHandleProtocols) return originalHandleProtocols(protocols, request);
    return protocols.values().next().value ?? false;
  };
  wss.options.handleProtocols = handleProtocols;

  const dispose = () => {
    if (closed) return;
    closed = true;
    wss.off('connection', onConnection);
    wss.off('close', dispose);
    if (wss.options.handleProtocols === handleProtocols) wss.options.handleProtocols = originalHandleProtocols;
    for (const session of sessions.values()) session.dispose();
    for (const session of shared.values()) session.dispose();
    listener.close();
  };
  wss.on('connection', onConnection);
  wss.on('close', dispose);
  return { sessions: sharedStore ? shared : sessions, node, stats, sendTo, ready, close: dispose };
}
