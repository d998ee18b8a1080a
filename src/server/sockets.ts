/**
 * The socket side of `attachAckServer` (ackServer.ts): accepting a `socketchart.ack.v1` socket (bounded while it
 * waits for its hello), the hello that attaches it to a session (loaded from a `SessionStore`, or claimed in a
 * `SharedSessionStore`; frames wait in a bounded backlog meanwhile), and the dispatch of its frames.
 */
import type { IncomingMessage } from 'node:http';
import { type RawData, WebSocket } from 'ws';
import { ACK_CLOSE_CODES, ACK_PROTOCOL, BINARY_HEADER_BYTES, isDataShaped, parseControl, parseTextSeq, readSeq } from '../delivery/protocol.js';
import { type LocalContext, MemorySession, isThenable } from './memorySession.js';
import { type AckServerOptions, type AckServerStats, MAX_UNFLUSHED_PONGS, type ResolvedServerOptions } from './options.js';
import { SharedSession } from './session.js';
import type { SharedContext } from './sharedContext.js';
import type { SessionStore, SharedSessionStore } from './store.js';
import type { StoreListener } from './storeListener.js';
import { type AckSession, type Link, WAITING_FRAME_BYTES } from './types.js';

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** What the socket side needs from the server that accepts the sockets. */
export interface SocketServer {
  readonly options: AckServerOptions;
  readonly o: ResolvedServerOptions;
  readonly stats: AckServerStats;
  readonly node: string;
  readonly store: SessionStore;
  readonly sharedStore: SharedSessionStore | null;
  readonly sessions: Map<string, MemorySession>;
  readonly shared: Map<string, SharedSession>;
  readonly localContext: LocalContext;
  readonly sharedContext: SharedContext;
  readonly listener: StoreListener;
  report(error: unknown, session: AckSession | null): void;
  storeFailure(error: unknown, session: AckSession | null): void;
  fail(link: Link, code: number, reason: string, now?: boolean): void;
  shut(ws: WebSocket, code: number, reason: string, now?: boolean): void;
  /** Whether `server.close()` ran. */
  isClosed(): boolean;
}

/** The server's `'connection'` listener. */
export function acceptSockets(server: SocketServer): (ws: WebSocket, request: IncomingMessage) => void {
  const { options, o, stats, node, store, sharedStore, sessions, shared, localContext, sharedContext, report, storeFailure, fail, shut, isClosed } = server;
  const clock = o.clock;
  const claims = server.listener.claims;
  const loading = new Map<string, Promise<MemorySession | undefined>>();

  /** Sockets open and not yet attached to a session (bounded by `maxPreHelloSockets`). */
  let preHello = 0;
  /**
   * Shared-store claims on their way for sessions this node does not hold: each may create one, so each holds a
   * place under `maxSessions` until it is answered (checked against `shared.size` alone, a burst of hellos would all
   * pass before the first claim came back).
   */
  let claimingNew = 0;

  const leavePreHello = (link: Link) => {
    if (!link.preHello) return;
    link.preHello = false;
    preHello--;
    if (link.helloTimer !== null) clock.clearTimeout(link.helloTimer);
    link.helloTimer = null;
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
      if (link.closed || isClosed() || link.ws.readyState !== WebSocket.OPEN) return;
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
      replayBacklog(link);
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

  /**
   * `hello` with a shared store: one atomic claim in the store (never a local copy, which may be stale), then the
   * session attaches with the state the store gave. Frames wait in the backlog meanwhile.
   */
  function sharedHello(link: Link, key: string, frame: { sid: string; ack: number; next: number }, sharedStore: SharedSessionStore): void {
    // Not listening yet (Redis was down at startup): without takeover notices this node could go on acting for a
    // session another node took, until its next fenced call. Refused like an unreachable store; the client retries.
    if (!sharedStore.available() || !server.listener.listening()) {
      fail(link, ACK_CLOSE_CODES.serverError, 'session store unavailable');
      return;
    }
    const existing = shared.get(key);
    if (existing === undefined && shared.size + claimingNew >= o.maxSessions) {
      fail(link, ACK_CLOSE_CODES.tryAgainLater, 'too many sessions');
      return;
    }
    if (existing) existing.claiming++;
    else claimingNew++;
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
        if (!existing) claimingNew--;
        const lostAt = claims.end(key, watch);
        if ('refused' in result) {
          fail(link, ACK_CLOSE_CODES.protocolError, result.refused);
          existing?.claimDidNotHappen();
          return;
        }
        if ('gap' in result) {
          // The store lost messages of the session and removed it: reported by this node's session (its copy of
          // the lost ones included) or, if it holds none, by one made for the report.
          const holder = shared.get(key);
          (holder && holder.state !== 'lost' && holder.state !== 'expired' ? holder : new SharedSession(key, sharedContext)).storeLost(result, link);
          return;
        }
        if (link.closed || isClosed() || link.ws.readyState !== WebSocket.OPEN) {
          if (!result.resumed) {
            // Created for a socket that is gone, never welcomed, holding nothing, and counted by no node: removed,
            // or hello-and-hang-up would fill Redis with sessions past maxSessions. (Fenced: a claim since wins.)
            sharedStore.remove(key, result.epoch).catch((error: unknown) => storeFailure(error, null));
            return;
          }
          // Claimed for a socket that is gone: this node owns the session now, detached, as if its socket had closed
          // at once. The claim displaced any copy this node held (no "lost" notice comes to the node that claims):
          // its socket, if any, is closed now rather than at its next fenced call; and the expiry is this node's to
          // report, as for any socket that closed here.
          let holder = shared.get(key);
          if (holder?.state === 'lost' || holder?.state === 'expired') holder = undefined;
          if (lostAt > result.epoch) {
            holder?.lose(); // another node's claim came after ours: the session is there
            return;
          }
          if (holder !== undefined && holder.epoch >= result.epoch) return; // a later claim of this node holds it
          if (holder === undefined) shared.set(key, (holder = new SharedSession(key, sharedContext)));
          holder.claimedWithoutSocket(result);
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
        replayBacklog(link);
      },
      (error: unknown) => {
        if (existing && existing.claiming > 0) existing.claiming--;
        if (!existing) claimingNew--;
        claims.end(key, watch);
        storeFailure(error, null);
        fail(link, ACK_CLOSE_CODES.serverError, 'session store failed');
        existing?.claimDidNotHappen();
      },
    );
  }

  /** What a frame waiting for the hello's answer counts against `maxBacklogBytes`. */
  const rawBytes = (data: RawData): number =>
    (Array.isArray(data) ? data.reduce((n, b) => n + b.byteLength, 0) : (data as Buffer | ArrayBuffer).byteLength) + WAITING_FRAME_BYTES;

  /** The frames that came while the hello was being answered, in arrival order, now that the session is attached. */
  function replayBacklog(link: Link): void {
    const backlog = link.backlog;
    link.backlog = null;
    if (backlog === null) return;
    for (const [data, isBinary] of backlog) {
      if (link.closed || link.session === null) break;
      onFrame(link, data, isBinary);
    }
  }

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
      if (!isClosed() && link.session === null) fail(link, ACK_CLOSE_CODES.tryAgainLater, 'no hello in time', true);
    }, o.helloTimeout);
    ws.on('message', (data, isBinary) => {
      // Frames still arriving after this end began closing the socket (a protocol error, a takeover) are stale.
      if (!isClosed() && !link.closed && ws.readyState === WebSocket.OPEN) onFrame(link, data, isBinary);
    });
    ws.on('close', () => {
      link.closed = true;
      link.backlog = null;
      leavePreHello(link);
      link.session?.detach(link);
      link.session = null;
    });
  };
  return onConnection;
}
