/**
 * Where `attachAckServer` keeps session state. The in-memory default serves one process; a shared store (Redis,
 * a database) lets a client resume on any node. PROTOCOL.md ("Sessions on several nodes") describes what such a
 * store must guarantee.
 */

type Awaitable<T> = T | Promise<T>;

/** A server->client message not yet acknowledged. */
export interface UnackedMessage {
  seq: number;
  /** Text, or the binary payload (without the 8-byte header). */
  payload: string | Uint8Array;
}

/** Everything needed to resume a session, on this node or another. */
export interface SessionRecord {
  /** The session key (the client's session id, or what `sessionKey` made of it). */
  readonly id: string;
  /**
   * Incremented every time a socket attaches to the session. A shared store refuses (`set` gives false) a record
   * whose epoch is lower than the stored one: that node's socket was taken over by a newer one elsewhere.
   */
  epoch: number;
  /** The highest client->server seq processed: everything up to it is a duplicate from now on. */
  lastIn: number;
  /** The seq the next server->client message gets. */
  nextOut: number;
  /** Server->client messages not yet acknowledged, oldest first: replayed on resume. */
  unacked: UnackedMessage[];
  /** When the session may be forgotten (ms since the epoch) while no socket is attached; null while one is. */
  expiresAt: number | null;
}

export interface SessionStore {
  /**
   * The record for `id`, or undefined when unknown (a store that expires records itself, e.g. with a Redis TTL,
   * gives undefined once expired; the in-memory store relies on the helper's expiry timers, which delete them).
   */
  get(id: string): Awaitable<SessionRecord | undefined>;
  /**
   * Store the record (after changes). Give false when a record with a higher `epoch` is stored (this writer is
   * stale); anything else means stored. The helper writes an acknowledgement only after `set` completed, so an
   * acknowledged message is a recorded one.
   */
  set(record: SessionRecord): Awaitable<boolean | void>;
  /**
   * Forget the session (it expired or ended). With `epoch`, only if the stored record's epoch is not higher: a
   * node's expiry must not delete a session another node resumed meanwhile (a shared store should make this
   * check atomic, like `set`).
   */
  delete(id: string, epoch?: number): Awaitable<void>;
}

/** The default store: a Map in this process. Records are held by reference, so `set` costs one Map write. */
export function createMemorySessionStore(): SessionStore & { readonly size: number } {
  const records = new Map<string, SessionRecord>();
  return {
    get: (id) => records.get(id),
    set(record) {
      const stored = records.get(record.id);
      if (stored !== undefined && stored !== record && stored.epoch > record.epoch) return false;
      records.set(record.id, record);
      return true;
    },
    delete(id, epoch) {
      const stored = records.get(id);
      if (epoch !== undefined && stored !== undefined && stored.epoch > epoch) return;
      records.delete(id);
    },
    get size() {
      return records.size;
    },
  };
}

/**
 * A command the app wants committed together with a message's processed mark (`message.commit(effect)` in
 * `onMessage`). Each store says which effects it runs: the memory store runs functions, the Redis store runs
 * Redis commands (`['RPUSH', 'orders', payload]`) inside the script that records the mark.
 */
export type StoreEffect = (() => void) | readonly (string | Uint8Array)[];

/** What a shared store answers to `claim`: the session as the store holds it, now owned by the claiming node. */
export type ClaimResult =
  | {
      /** False: the store had no such session and created it (numbering starts at 1). */
      resumed: boolean;
      /** The new epoch: the fencing token every later call of this node for this session carries. */
      epoch: number;
      /** The highest client seq processed (recorded). */
      lastIn: number;
      /** The seq the next server message gets. */
      nextOut: number;
      /** Server messages not yet acknowledged, oldest first, after trimming everything up to `hello.ack`. */
      unacked: UnackedMessage[];
    }
  | {
      /** The `hello` acknowledges more than the session ever exchanged: a protocol error (1002). */
      refused: string;
    }
  | SessionGap;

/**
 * The store lost server messages of a session that were not acknowledged (Redis evicted the session's message
 * hash but not its state): it cannot be delivered in order any more, so the store removed it. `gap`: the seqs
 * lost, ascending; `held`: the unacknowledged messages it still had, oldest first.
 */
export interface SessionGap {
  gap: number[];
  held: UnackedMessage[];
}

export const isGap = (value: unknown): value is SessionGap =>
  typeof value === 'object' && value !== null && Array.isArray((value as { gap?: unknown }).gap);

/** A notice from the store to a node (pub/sub). */
export type StoreNotice =
  /** Another node claimed the session (at `epoch`): stop acting for it. */
  | { type: 'lost'; id: string; epoch: number }
  /** A message (seq) was added to a session this node has attached: fetch and write it. */
  | { type: 'out'; id: string; seq: number };

/**
 * Why a fenced call changed nothing: `'stale'`, a later claim (another node, or this one for a newer socket) owns
 * the session; `'missing'`, the session that epoch claimed is gone from the store (its keys expired or were
 * removed; a new session may exist under the same key since).
 */
export type Refusal = 'stale' | 'missing';

/** A `mark` whose effects failed in the store: not recorded; `attempts` counts this seq's failures so far. */
export interface EffectFailure {
  failed: Error;
  attempts: number;
}

/**
 * A store shared by several server nodes (`socketchart/server/redis`). Unlike `SessionStore`, whose `set` writes
 * a whole record now and then, every change is one atomic, fenced operation: a node takes a session over with
 * `claim` (which bumps the epoch) and every later call carries that epoch; a call with an older epoch changes
 * nothing and answers `'stale'` (the session moved to another node), or `'missing'` when the session it claimed
 * is gone (expired in the store while this node held it): the node then reports it as expired, never as moved. A message `append` accepted is stored before
 * it is written to the client; a `mark` records a processed client message (and the app's effects) before it is
 * acknowledged. PROTOCOL.md, "Running several server nodes", describes the guarantees.
 */
export interface SharedSessionStore {
  readonly shared: true;
  /** Whether calls can be made now (false while the store is unreachable: new sessions are refused). */
  available(): boolean;
  /**
   * Take the session for `node`: create it when unknown; else bump its epoch, trim what `hello.ack` acknowledges,
   * raise its processed mark to `hello.next - 1`, and tell the node that held it (`lost`). The session is kept
   * `ttl` ms (a lease the owner renews with `touch`), so the sessions of a node that died expire too. If messages
   * the client has not acknowledged are lost, the store removes the session instead and answers a `SessionGap`.
   */
  claim(id: string, node: string, hello: { ack: number; next: number }, ttl: number): Promise<ClaimResult>;
  /**
   * Renew the lease of a session `epoch` owns (attached on this node) for `ttl` ms; answers the session's next
   * server seq (so a node that missed an `out` notice still learns of messages other nodes stored), or `'stale'`.
   */
  touch(id: string, epoch: number, ttl: number): Promise<number | Refusal>;
  /** The processed mark if `epoch` still owns the session, else why not. */
  fence(id: string, epoch: number): Promise<number | Refusal>;
  /**
   * Store a server message: its seq; 0 when it does not fit `limits`; `'missing'` when there is no such session
   * (or not the one `epoch` claimed); `'stale'` when a later claim owns it. `epoch` null: from any node
   * (`server.sendTo`); the store then tells the node the session is attached to (`out`).
   */
  append(
    id: string,
    epoch: number | null,
    payload: string | Uint8Array,
    limits: { maxUnacked: number; maxUnackedBytes: number },
  ): Promise<number | Refusal>;
  /** Throws a typed error (`ERR_INVALID_DATA`) for an effect this store cannot run, at `message.commit()`. */
  checkEffect?(effect: StoreEffect): void;
  /**
   * Record client message `seq` as processed, running `effects` in the same atomic step. If an effect fails, the
   * mark is not recorded and the answer counts the failures of this seq so far (kept in the store, across nodes).
   */
  mark(id: string, epoch: number, seq: number, effects: readonly StoreEffect[]): Promise<'ok' | Refusal | EffectFailure>;
  /** Forget server messages up to `ack` (the client has them). */
  trim(id: string, epoch: number, ack: number): Promise<'ok' | Refusal>;
  /** The socket went: keep the session `ttl` ms (Infinity: forever) unless a node claims it. */
  release(id: string, epoch: number, ttl: number): Promise<'ok' | Refusal>;
  /**
   * Server messages `from`..`to` still held (the ones trimmed meanwhile are left out), if `epoch` owns the session;
   * a `SessionGap` (the session removed) if some unacknowledged message is lost.
   */
  read(id: string, epoch: number, from: number, to: number): Promise<UnackedMessage[] | Refusal | SessionGap>;
  /**
   * Delete the session if `epoch` still owns it, giving back the messages never acknowledged (a `SessionGap` if
   * some of them are lost).
   */
  remove(id: string, epoch: number): Promise<UnackedMessage[] | Refusal | SessionGap>;
  /**
   * Deliver notices for `node` to `onNotice` until the returned function is called. Rejects when it cannot
   * subscribe (the caller retries); `signal` abandons an attempt still waiting for the store. `onDropped`: the
   * subscription broke after it was made (its connection dropped; notices sent meanwhile are lost): the store
   * has closed it, and the caller listens again. Without `onDropped` the store may reconnect it by itself.
   */
  listen(
    node: string,
    onNotice: (notice: StoreNotice) => void,
    onError: (error: unknown) => void,
    signal?: AbortSignal,
    onDropped?: (error: unknown) => void,
  ): Promise<() => Promise<void>>;
}

/**
 * How often a node renews the leases of the sessions attached to it (`touch`), with a shared store. A store keeps
 * an attached session at least three times this long past the last renewal.
 */
export const LEASE_RENEW_MS = 10_000;

export function isSharedStore(store: unknown): store is SharedSessionStore {
  return typeof store === 'object' && store !== null && (store as { shared?: unknown }).shared === true;
}
