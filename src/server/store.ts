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
