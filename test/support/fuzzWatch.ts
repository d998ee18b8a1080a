/**
 * Shared by the fuzz tests (test/adversarial/fuzz.test.ts): a watcher that records every broken invariant of a
 * connection's public surface while a generated script runs, and what it needs to account for every message.
 */
import type { Connection } from '../../src/index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyConnection = Connection<any, any>;

/** readyState as the public state implies it (README, "States"). */
export function readyStateFor(state: string): 0 | 1 | 2 | 3 {
  if (state === 'open') return 1;
  if (state === 'closing') return 2;
  if (state === 'closed') return 3;
  return 0;
}

/** A stable key for an app message id found in a frame or a drop report. */
export type IdOf = (message: unknown) => string | null;

/**
 * Listens to every event and records violations of:
 * - readyState matches state at every event;
 * - `statechange` is continuous (`from` is the last `to`) and `to` is the state listeners see;
 * - `open` comes after the `statechange` into `open` of the same transition; `close` with `closedBy` exactly when
 *   the session reached `closed` (after its `statechange`; or passed through it, closing -> connecting.*, when
 *   open() came while closing), at most one `close` per `open`;
 * - no message delivered outside open..close, none twice (server ids are unique);
 * - no drop reported twice for one message (`unconfirmed` tallied apart).
 */
export class FuzzWatch {
  readonly violations: string[] = [];
  readonly delivered = new Map<string, number>();
  /** Definite drops (`queue-full`, `too-large`, `expired`, `closed`) by message id. */
  readonly dropped = new Map<string, string[]>();
  readonly unconfirmed = new Map<string, number>();
  readonly invalid: Array<{ data: unknown; code: string }> = [];
  readonly log: string[] = [];
  closedEntries = 0;
  sessionCloses = 0;
  #lastTo: string;
  /** The last statechange was a session ending and the next starting at once (open() while closing). */
  #reopened = false;
  #openUnmatched = false;
  readonly #conn: AnyConnection;

  constructor(conn: AnyConnection, idOf: IdOf) {
    this.#conn = conn;
    this.#lastTo = conn.state;
    conn.addEventListener('statechange', (e) => {
      this.log.push(`${e.from}->${e.to} (${e.event.type})`);
      this.#checkReadyState('statechange');
      if (e.from !== this.#lastTo) this.violations.push(`statechange from ${e.from}, but the last one went to ${this.#lastTo}`);
      if (e.to !== conn.state) this.violations.push(`statechange to ${e.to} while conn.state is ${conn.state}`);
      this.#lastTo = e.to;
      // An open() made while closing passes through `closed` within the transition (closing -> connecting.*).
      this.#reopened = e.from === 'closing' && e.to.startsWith('connecting') && e.event.type !== 'RECONNECT';
      if (e.to === 'closed' || this.#reopened) this.closedEntries++;
    });
    conn.addEventListener('open', () => {
      this.log.push('open');
      this.#checkReadyState('open');
      if (this.#lastTo !== 'open') this.violations.push(`open fired before the statechange into open (last: ${this.#lastTo})`);
      if (this.#openUnmatched) this.violations.push('open while the previous open had no close');
      this.#openUnmatched = true;
    });
    conn.addEventListener('close', (e) => {
      this.log.push(`close ${e.code}${e.closedBy ? ` ${e.closedBy.kind}` : ''}`);
      this.#checkReadyState('close');
      if (e.closedBy) {
        this.sessionCloses++;
        const ended = (conn.state === 'closed' && this.#lastTo === 'closed') || (this.#reopened && conn.state === this.#lastTo);
        if (!ended) this.violations.push(`close with closedBy ${e.closedBy.kind} in ${conn.state} (last statechange to ${this.#lastTo})`);
        if (this.sessionCloses > this.closedEntries) this.violations.push('a session close without entering closed');
        if (conn.closedBy?.kind !== e.closedBy.kind) this.violations.push(`close.closedBy ${e.closedBy.kind} but conn.closedBy ${conn.closedBy?.kind}`);
      } else {
        if (!this.#openUnmatched) this.violations.push(`close ${e.code} without an open before it`);
        if (conn.state === 'open') this.violations.push('a socket close while conn.state is still open');
      }
      this.#openUnmatched = false;
    });
    conn.addEventListener('message', (e) => {
      this.#checkReadyState('message');
      if (!this.#openUnmatched) this.violations.push(`message ${String(e.data).slice(0, 40)} outside open..close`);
      const id = idOf(e.data);
      // Frames without an id (auth replies, hostile bytes without the plug-in that reads them) may repeat.
      if (id === null) return;
      const n = (this.delivered.get(id) ?? 0) + 1;
      this.delivered.set(id, n);
      if (n > 1) this.violations.push(`message ${id} delivered ${n} times`);
    });
    conn.addEventListener('drop', (e) => {
      this.log.push(`drop ${e.reason}`);
      const id = idOf(e.message) ?? idOf(e.data) ?? `?${String(e.data).slice(0, 40)}`;
      if (e.reason === 'unconfirmed') {
        const n = (this.unconfirmed.get(id) ?? 0) + 1;
        this.unconfirmed.set(id, n);
        if (n > 1) this.violations.push(`message ${id} reported unconfirmed ${n} times`);
        return;
      }
      const reasons = this.dropped.get(id) ?? [];
      reasons.push(e.reason);
      this.dropped.set(id, reasons);
      if (reasons.length > 1) this.violations.push(`message ${id} dropped ${reasons.length} times (${reasons.join(', ')})`);
    });
    conn.addEventListener('invalid-message', (e) => {
      const problem = e.problem as { code?: string } | undefined;
      this.invalid.push({ data: e.data, code: problem?.code ?? String(e.problem) });
    });
  }

  #checkReadyState(when: string): void {
    const conn = this.#conn;
    const expected = readyStateFor(conn.state);
    if (conn.readyState !== expected) this.violations.push(`readyState ${conn.readyState} in ${conn.state} (at ${when})`);
  }

  /** Once the session is over for good. */
  checkEnd(): void {
    this.#checkReadyState('end');
    if (this.sessionCloses !== this.closedEntries) this.violations.push(`${this.closedEntries} entries into closed but ${this.sessionCloses} session close events`);
  }
}

/** A promise's outcome as it stands (settled or not), without leaving any rejection unhandled. */
export function track<T>(promise: Promise<T>): { settled: () => boolean; outcome: () => string } {
  let state = 'pending';
  promise.then(
    () => {
      state = state === 'pending' ? 'resolved' : `${state}+resolved`;
    },
    (error: unknown) => {
      const code = (error as { code?: string } | undefined)?.code ?? String(error);
      state = state === 'pending' ? `rejected ${code}` : `${state}+rejected`;
    },
  );
  return { settled: () => state !== 'pending', outcome: () => state };
}
