/**
 * A node's link to its shared store (`SharedSessionStore`, ackServer.ts): the subscription to the node's notices (a
 * session taken over, a message another node stored), retried with backoff while it fails; the lease renewal of its
 * attached sessions; and `server.ready()`, which waits for the subscription. Without a shared store it does nothing
 * and `ready()` resolves at once.
 */
import { SocketchartError } from '../errors.js';
import { ClaimWatch } from './claimWatch.js';
import { LISTEN_RETRY_MAX_MS, LISTEN_RETRY_MIN_MS, type ResolvedServerOptions } from './options.js';
import type { SharedSession } from './session.js';
import { LEASE_RENEW_MS, type SharedSessionStore, type StoreNotice } from './store.js';
import type { AckSession } from './types.js';

const serverClosed = () =>
  new SocketchartError('ERR_CONNECTION_CLOSED', 'server.close() was called: this server takes no more sessions. Attach a new one to serve again.');

export interface StoreListener {
  /** Claims of this node on their way, and the "lost" notices heard meanwhile. */
  readonly claims: ClaimWatch;
  /** Whether the node hears its notices now: until then it refuses new sessions. */
  listening(): boolean;
  ready(): Promise<void>;
  /** The server closed: stop renewing, stop (or stop trying) to listen, and fail a waiting `ready()`. */
  close(): void;
}

export function listenToStore(
  sharedStore: SharedSessionStore | null,
  node: string,
  shared: Map<string, SharedSession>,
  o: ResolvedServerOptions,
  storeFailure: (error: unknown, session: AckSession | null) => void,
  isClosed: () => boolean,
): StoreListener {
  const clock = o.clock;
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
    if (!sharedStore || isClosed()) return;
    let dropped = false;
    const onDropped = (error: unknown) => {
      if (dropped || isClosed()) return;
      dropped = true;
      listening = false;
      storeFailure(error, null);
      listen(LISTEN_RETRY_MIN_MS);
    };
    stopListening = sharedStore.listen(node, onNotice, (error) => storeFailure(error, null), stopAttempt.signal, onDropped).then(
      (stop) => {
        if (isClosed()) {
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
        if (isClosed()) return null;
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
    if (isClosed()) return Promise.reject(serverClosed());
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

  return {
    claims,
    listening: () => listening,
    ready,
    close() {
      if (leaseTimer !== null) clock.clearTimeout(leaseTimer);
      if (listenTimer !== null) clock.clearTimeout(listenTimer);
      stopAttempt.abort();
      void stopListening.then((stop) => stop?.()).catch((error: unknown) => storeFailure(error, null));
      whenListening?.reject(serverClosed());
      whenListening = null;
    },
  };
}
