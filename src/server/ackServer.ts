/**
 * `attachAckServer`: the socket side of `socketchart.ack.v1` on a `ws` server (subprotocol, frames, hello, bounds),
 * handing each session to its kind: `MemorySession` for a record-at-a-time `SessionStore`, `SharedSession` for a
 * `SharedSessionStore` (several nodes).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type RawData, WebSocket, type WebSocketServer } from 'ws';
import { ACK_CLOSE_CODES, ACK_PROTOCOL, BINARY_HEADER_BYTES, isDataShaped, parseControl, parseTextSeq, readSeq } from '../delivery/protocol.js';
import { SocketchartError, invalidOption } from '../errors.js';
import { ClaimWatch } from './claimWatch.js';
import { appHooks } from './hooks.js';
import { type LocalContext, MemorySession, isThenable } from './memorySession.js';
import {
  type AckServer,
  type AckServerOptions,
  type AckServerStats,
  LISTEN_RETRY_MAX_MS,
  LISTEN_RETRY_MIN_MS,
  MAX_UNFLUSHED_PONGS,
  resolveServerOptions,
} from './options.js';
import { SharedSession } from './session.js';
import type { SharedContext } from './sharedContext.js';
import { LEASE_RENEW_MS, type SessionStore, type SharedSessionStore, type StoreNotice, isSharedStore } from './store.js';
import { type AckSendData, type Link, storedPayload } from './types.js';

export type { AckMessage, AckPayload, AckSendData, AckSession, UndeliveredReason } from './types.js';
export {
  ACK_SERVER_DEFAULTS,
  MAX_UNFLUSHED_PONGS,
  type AckServer,
  type AckServerOptions,
  type AckServerStats,
} from './options.js';

const serverClosed = () =>
  new SocketchartError('ERR_CONNECTION_CLOSED', 'server.close() was called: this server takes no more sessions. Attach a new one to serve again.');

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

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
  const loading = new Map<string, Promise<MemorySession | undefined>>();
  let closed = false;
  const stats: AckServerStats = { created: 0, resumed: 0, expired: 0, processed: 0, duplicates: 0, replayed: 0, refused: 0, storeFailures: 0, undelivered: 0, deadLetters: 0 };

  const { report, warnOnce, storeFailure, callOnMessage, callHook } = appHooks(options, stats);

  /** Sockets open and not yet attached to a session (bounded by `maxPreHelloSockets`). */
  let preHello = 0;

  /**
   * Closes a socket the server refuses. A socket that does not drain what it was sent (over `maxSocketBuffer`), or
   * one that must let go of its buffers at once (`now`), is terminated right after the close frame is queued: a
   * polite close would hold its buffers for ws's 30 s close timeout.
   */
  const shut = (ws: WebSocket, code: number, reason: string, now = false) => {
    if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
    if (now || ws.bufferedAmount >= o.maxSocketBuffer) ws.terminate();
  };

  const leavePreHello = (link: Link) => {
    if (!link.preHello) return;
    link.preHello = false;
    preHello--;
    if (link.helloTimer !== null) clock.clearTimeout(link.helloTimer);
    link.helloTimer = null;
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

  function hello(link: Link, frame: { sid: string; ack: number; next: number }): void {
    let key: string;
    try {
      key = options.sessionKey ? options.sessionKey(frame.sid, link.request) : frame.sid;
      if (typeof key !== 'string' || key === '') throw new TypeError('sessionKey() must return a non-empty string');
    } catch (error) {
      // The documented way to refuse a socket: told to onError when there is one, never rethrown.
      if (options.onError) report(error, null);
      fail(link, ACK_CLOSE_CODES.policyViolation, 'session refused');
      return;
    }
    if (sharedStore) {
      sharedHello(link, key, frame, sharedStore);
      return;
    }
    const proceed = (found: MemorySession | undefined) => {
      if (link.closed || closed || link.ws.readyState !== WebSocket.OPEN) return;
      // The session this process holds wins over a copy loaded meanwhile; an ended one is gone.
      let session: MemorySession | undefined = sessions.get(key) ?? found;
      if (session?.ended) session = undefined;
      const resumed = session !== undefined;
      if (session !== undefined) {
        const refused = session.resumable(frame);
        if (refused !== null) {
          fail(link, ACK_CLOSE_CODES.protocolError, refused);
          return;
        }
      } else {
        if (sessions.size >= o.maxSessions) {
          fail(link, ACK_CLOSE_CODES.tryAgainLater, 'too many sessions');
          return;
        }
        session = new MemorySession({ id: key, epoch: 0, lastIn: 0, nextOut: 1, unacked: [], expiresAt: null }, localContext);
      }
      sessions.set(key, session);
      leavePreHello(link);
      session.attach(link, frame, resumed);
      const backlog = link.backlog;
      link.backlog = null;
      if (backlog === null) return;
      for (const [data, isBinary] of backlog) {
        if (link.closed || link.session === null) break;
        onFrame(link, data, isBinary);
      }
    };
    const storeFailed = (error: unknown) => {
      storeFailure(error, null);
      fail(link, ACK_CLOSE_CODES.serverError, 'session store failed');
    };
    if (sessions.has(key)) {
      proceed(undefined);
      return;
    }
    let load = loading.get(key);
    if (load === undefined) {
      let result: ReturnType<SessionStore['get']>;
      try {
        result = store.get(key);
      } catch (error) {
        storeFailed(error);
        return;
      }
      if (!isThenable(result)) {
        // A synchronous store (the default) answers at once: no backlog, nothing in between.
        proceed(result ? new MemorySession(result, localContext) : undefined);
        return;
      }
      load = Promise.resolve(result).then((record) => (record ? new MemorySession(record, localContext) : undefined));
      loading.set(key, load);
      const done = () => {
        if (loading.get(key) === load) loading.delete(key);
      };
      load.then(done, done);
    }
    link.backlog = [];
    link.backlogBytes = 0;
    load.then(proceed, storeFailed);
  }

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

  /**
   * `hello` with a shared store: one atomic claim in the store (never a local copy, which may be stale), then the
   * session attaches with the state the store gave. Frames wait in the backlog meanwhile.
   */
  function sharedHello(link: Link, key: string, frame: { sid: string; ack: number; next: number }, sharedStore: SharedSessionStore): void {
    // Not listening yet (Redis was down at startup): without takeover notices this node could go on acting for a
    // session another node took, until its next fenced call. Refused like an unreachable store; the client retries.
    if (!sharedStore.available() || !listening) {
      fail(link, ACK_CLOSE_CODES.serverError, 'session store unavailable');
      return;
    }
    const existing = shared.get(key);
    if (existing === undefined && shared.size >= o.maxSessions) {
      fail(link, ACK_CLOSE_CODES.tryAgainLater, 'too many sessions');
      return;
    }
    if (existing) existing.claiming++;
    link.backlog = [];
    link.backlogBytes = 0;
    const watch = claims.start(key);
    // An async onMessage of this session still running here: claim once its mark is sent, or the claim would
    // refuse that mark and the message would be processed again on the new socket (bounded by helloTimeout).
    const idle = existing?.idle();
    const claim = () => sharedStore.claim(key, node, frame, o.sessionTtl);
    (idle ? idle.then(claim) : claim()).then(
      (result) => {
        if (existing && existing.claiming > 0) existing.claiming--;
        const lostAt = claims.end(key, watch);
        if ('refused' in result) {
          fail(link, ACK_CLOSE_CODES.protocolError, result.refused);
          return;
        }
        if ('gap' in result) {
          // The store lost messages of the session and removed it: reported by this node's session (its copy of
          // the lost ones included) or, if it holds none, by one made for the report.
          const holder = shared.get(key);
          (holder && holder.state !== 'lost' && holder.state !== 'expired' ? holder : new SharedSession(key, sharedContext)).storeLost(result, link);
          return;
        }
        if (link.closed || closed || link.ws.readyState !== WebSocket.OPEN) {
          // Claimed for a socket that is gone: let the session expire as if it had detached at once.
          sharedStore.release(key, result.epoch, o.sessionTtl).catch((error: unknown) => storeFailure(error, null));
          return;
        }
        let session = shared.get(key);
        if (session === undefined || session.state === 'lost' || session.state === 'expired') {
          session = new SharedSession(key, sharedContext);
          shared.set(key, session);
        }
        leavePreHello(link);
        session.attach(link, result, frame.sid);
        // Another node took the session over while this claim was on its way (its notice overtook our reply).
        if (lostAt > result.epoch) {
          session.lose();
          return;
        }
        const backlog = link.backlog;
        link.backlog = null;
        if (backlog === null) return;
        for (const [data, isBinary] of backlog) {
          if (link.closed || link.session === null) break;
          onFrame(link, data, isBinary);
        }
      },
      (error: unknown) => {
        if (existing && existing.claiming > 0) existing.claiming--;
        claims.end(key, watch);
        storeFailure(error, null);
        fail(link, ACK_CLOSE_CODES.serverError, 'session store failed');
      },
    );
  }

  const claims = new ClaimWatch();

  const onNotice = (notice: StoreNotice) => {
    claims.heard(notice);
    const session = shared.get(notice.id);
    if (session === undefined) return;
    if (notice.type === 'lost') {
      if (notice.epoch > session.epoch && session.claiming === 0) session.lose();
    } else session.noticeOut(notice.seq);
  };
  let stopListening: Promise<(() => Promise<void>) | null> = Promise.resolve(null);
  // An attached session's keys carry a lease that this node renews every LEASE_RENEW_MS, so the sessions of a node
  // that died expire like detached ones; the renewal also answers the session's next seq, which catches messages
  // other nodes stored whose `out` notice this node missed.
  let leaseTimer: unknown = null;
  const renewLeases = () => {
    leaseTimer = clock.setTimeout(renewLeases, LEASE_RENEW_MS);
    if (!sharedStore?.available()) return;
    for (const session of shared.values()) {
      if (session.state !== 'attached') continue;
      const epoch = session.epoch;
      sharedStore.touch(session.id, epoch, o.sessionTtl).then(
        (result) => {
          if (result === 'stale') session.staleAt(epoch);
          else if (result === 'missing') session.missingAt(epoch);
          else if (result > 1) session.noticeOut(result - 1);
        },
        (error: unknown) => storeFailure(error, session),
      );
    }
  };
  if (sharedStore) leaseTimer = clock.setTimeout(renewLeases, LEASE_RENEW_MS);
  // Subscribing to this node's notices: a failure (Redis down at startup) is reported and retried with backoff for
  // as long as the server runs; new sessions are refused until it succeeds. A subscription that drops later is
  // reported and made again the same way, with new sessions refused meanwhile.
  let listening = false;
  let listenedBefore = false;
  let listenTimer: unknown = null;
  let whenListening: { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } | null = null;
  const stopAttempt = new AbortController();
  const listen = (delay: number) => {
    if (!sharedStore || closed) return;
    let dropped = false;
    const onDropped = (error: unknown) => {
      if (dropped || closed) return;
      dropped = true;
      listening = false;
      storeFailure(error, null);
      listen(LISTEN_RETRY_MIN_MS);
    };
    stopListening = sharedStore.listen(node, onNotice, (error) => storeFailure(error, null), stopAttempt.signal, onDropped).then(
      (stop) => {
        if (closed) {
          void stop().catch((error: unknown) => storeFailure(error, null));
          return null;
        }
        // Dropped before this ran: the store closed it, and the next attempt is on its way.
        if (dropped) return null;
        listening = true;
        whenListening?.resolve();
        whenListening = null;
        if (listenedBefore) catchUp();
        listenedBefore = true;
        return stop;
      },
      (error: unknown) => {
        if (closed) return null;
        storeFailure(error, null);
        listenTimer = clock.setTimeout(() => {
          listenTimer = null;
          listen(Math.min(delay * 2, LISTEN_RETRY_MAX_MS));
        }, delay);
        return null;
      },
    );
  };
  /**
   * Listening again after a drop: the notices sent meanwhile are lost, so the lease renewal runs now rather than
   * within LEASE_RENEW_MS. It answers 'stale' for a session another node took over and the next seq for one that
   * got messages from other nodes.
   */
  const catchUp = () => {
    if (leaseTimer !== null) clock.clearTimeout(leaseTimer);
    renewLeases();
  };
  listen(LISTEN_RETRY_MIN_MS);

  const ready = (): Promise<void> => {
    if (closed) return Promise.reject(serverClosed());
    if (!sharedStore || listening) return Promise.resolve();
    if (whenListening === null) {
      let resolve!: () => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      whenListening = { promise, resolve, reject };
    }
    return whenListening.promise;
  };

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

  const rawBytes = (data: RawData): number =>
    Array.isArray(data) ? data.reduce((n, b) => n + b.byteLength, 0) : (data as Buffer | ArrayBuffer).byteLength;

  function onFrame(link: Link, data: RawData, isBinary: boolean): void {
    if (link.backlog !== null) {
      link.backlogBytes += rawBytes(data);
      if (link.backlogBytes > o.maxBacklogBytes) {
        fail(link, ACK_CLOSE_CODES.tryAgainLater, 'session store too slow');
        return;
      }
      link.backlog.push([data, isBinary]);
      return;
    }
    const session = link.session;
    if (!isBinary) {
      const text = Buffer.isBuffer(data) ? data.toString() : toBuffer(data).toString();
      if (isDataShaped(text)) {
        const seq = parseTextSeq(text);
        if (seq === null) fail(link, ACK_CLOSE_CODES.protocolError, 'malformed sequence number');
        else if (session === null) fail(link, ACK_CLOSE_CODES.protocolError, 'data before hello');
        else session.data(seq.seq, text.slice(seq.start));
        return;
      }
      const control = parseControl(text);
      if (control === 'invalid') {
        fail(link, ACK_CLOSE_CODES.protocolError, 'malformed control frame');
        return;
      }
      if (control === null) {
        if (o.answerPings && text === '{"type":"ping"}') {
          if (link.unflushedPongs >= MAX_UNFLUSHED_PONGS) {
            fail(link, ACK_CLOSE_CODES.policyViolation, 'pongs not read', true);
            return;
          }
          link.unflushedPongs++;
          link.ws.send('{"type":"pong"}', () => link.unflushedPongs--);
        }
        if (options.onUnsequenced) {
          try {
            options.onUnsequenced(link.ws, text, session);
          } catch (error) {
            report(error, session);
          }
        }
        return;
      }
      if (control.type === 'hello') {
        if (session !== null) fail(link, ACK_CLOSE_CODES.protocolError, 'second hello');
        else hello(link, control);
      } else if (control.type === 'ack') {
        if (session === null) fail(link, ACK_CLOSE_CODES.protocolError, 'ack before hello');
        else session.acked(link, control.ack);
      } else fail(link, ACK_CLOSE_CODES.protocolError, 'welcome from a client');
      return;
    }
    const bytes = toBuffer(data);
    if (session === null) {
      fail(link, ACK_CLOSE_CODES.protocolError, 'data before hello');
      return;
    }
    const seq = readSeq(bytes);
    if (seq < 0) {
      fail(link, ACK_CLOSE_CODES.protocolError, 'malformed binary frame');
      return;
    }
    session.data(seq, bytes.subarray(BINARY_HEADER_BYTES));
  }

  const originalHandleProtocols = wss.options.handleProtocols;
  const handleProtocols = (protocols: Set<string>, request: IncomingMessage): string | false => {
    if (protocols.has(ACK_PROTOCOL)) return ACK_PROTOCOL;
    if (originalHandleProtocols) return originalHandleProtocols(protocols, request);
    return protocols.values().next().value ?? false;
  };
  wss.options.handleProtocols = handleProtocols;

  const onConnection = (ws: WebSocket, request: IncomingMessage) => {
    if (ws.protocol !== ACK_PROTOCOL) {
      if (!options.onPlainConnection) {
        ws.close(ACK_CLOSE_CODES.protocolError, `${ACK_PROTOCOL} required`);
        return;
      }
      try {
        options.onPlainConnection(ws, request);
      } catch (error) {
        report(error, null);
        shut(ws, ACK_CLOSE_CODES.serverError, 'onPlainConnection failed');
      }
      return;
    }
    ws.on('error', () => {}); // 'close' follows; the session lives on
    if (preHello >= o.maxPreHelloSockets) {
      stats.refused++;
      shut(ws, ACK_CLOSE_CODES.tryAgainLater, 'too many sockets waiting for hello', true);
      return;
    }
    const link: Link = {
      ws,
      request,
      session: null,
      backlog: null,
      backlogBytes: 0,
      closed: false,
      preHello: true,
      helloTimer: null,
      unflushedPongs: 0,
    };
    preHello++;
    link.helloTimer = clock.setTimeout(() => {
      link.helloTimer = null;
      if (!closed && link.session === null) fail(link, ACK_CLOSE_CODES.tryAgainLater, 'no hello in time', true);
    }, o.helloTimeout);
    ws.on('message', (data, isBinary) => {
      // Frames still arriving after this end began closing the socket (a protocol error, a takeover) are stale.
      if (!closed && !link.closed && ws.readyState === WebSocket.OPEN) onFrame(link, data, isBinary);
    });
    ws.on('close', () => {
      link.closed = true;
      link.backlog = null;
      leavePreHello(link);
      link.session?.detach(link);
      link.session = null;
    });
  };
  const dispose = () => {
    if (closed) return;
    closed = true;
    wss.off('connection', onConnection);
    wss.off('close', dispose);
    if (wss.options.handleProtocols === handleProtocols) wss.options.handleProtocols = originalHandleProtocols;
    for (const session of sessions.values()) session.dispose();
    for (const session of shared.values()) session.dispose();
    if (leaseTimer !== null) clock.clearTimeout(leaseTimer);
    if (listenTimer !== null) clock.clearTimeout(listenTimer);
    stopAttempt.abort();
    void stopListening.then((stop) => stop?.()).catch((error: unknown) => storeFailure(error, null));
    whenListening?.reject(serverClosed());
    whenListening = null;
  };
  wss.on('connection', onConnection);
  wss.on('close', dispose);
  return { sessions: sharedStore ? shared : sessions, node, stats, sendTo, ready, close: dispose };
}
