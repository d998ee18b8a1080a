import type { Connection } from '../../../src/index.js';
import { KNOWN_BUGS } from './expect.js';

/** readyState as the public state implies it. */
export function readyStateFor(state: string): 0 | 1 | 2 | 3 {
  if (state === 'open') return 1;
  if (state === 'closing') return 2;
  if (state === 'closed') return 3;
  return 0;
}

const CLOSING_RECONNECT = 'attempt.closing --RECONNECT--> attempt';

/**
 * Watches a connection's events and records every broken invariant:
 * - readyState always matches the state (checked at every event and on demand);
 * - `open` precedes any `message`, and no message is delivered twice (messages carry unique ids);
 * - each `open` is matched by at most one `close` (a socket's close, or the session's, which comes once per
 *   entry into `closed`);
 * - every message is accounted for once: in a drop event, or delivered (the caller checks delivery).
 */
export class InvariantMonitor {
  readonly violations: string[] = [];
  /** Known chart bugs met (KNOWN_BUGS keys), tolerated while they are listed there. */
  readonly bugs = new Set<string>();
  readonly delivered = new Map<string, number>();
  /** Definite drops: the message never left (queue limits, TTL, closed session). */
  readonly dropped = new Map<string, number>();
  /** Plain mode's `'unconfirmed'` reports: written to a socket that died before the server confirmed it. */
  readonly unconfirmed = new Map<string, number>();
  #openUnmatched = false;
  #closedEntries = 0;
  #sessionCloses = 0;
  #reconnectedWhileClosing = false;
  readonly #conn: Connection;

  constructor(conn: Connection) {
    this.#conn = conn;
    const check = (what: string) => this.checkReadyState(what);
    conn.addEventListener('statechange', (e) => {
      check(`statechange ${e.from}->${e.to}`);
      // An open() made while closing passes through `closed` within the step (closing -> connecting.opening).
      const reopened = e.from === 'closing' && e.to.startsWith('connecting') && e.event.type !== 'RECONNECT';
      if (e.to === 'closed' || reopened) this.#closedEntries++;
      if (e.from === 'closing' && e.to === 'connecting.opening' && !reopened && this.#openUnmatched) this.#reconnectedWhileClosing = true;
    });
    conn.addEventListener('open', () => {
      check('open');
      if (this.#openUnmatched) {
        if (this.#reconnectedWhileClosing && CLOSING_RECONNECT in KNOWN_BUGS) this.bugs.add(CLOSING_RECONNECT);
        else this.violations.push('open fired while the previous open was not matched by a close');
      }
      this.#openUnmatched = true;
      this.#reconnectedWhileClosing = false;
    });
    conn.addEventListener('close', (e) => {
      check('close');
      if (e.closedBy) {
        this.#sessionCloses++;
        if (this.#sessionCloses > this.#closedEntries) this.violations.push('a session close without entering closed');
      } else if (!this.#openUnmatched) this.violations.push(`close ${e.code} without an open before it`);
      this.#openUnmatched = false;
    });
    conn.addEventListener('message', (e) => {
      check('message');
      if (!this.#openUnmatched) this.violations.push(`message ${String(e.data)} outside open..close`);
      const id = String(e.data);
      const n = (this.delivered.get(id) ?? 0) + 1;
      this.delivered.set(id, n);
      if (n > 1) this.violations.push(`message ${id} delivered ${n} times`);
    });
    conn.addEventListener('drop', (e) => {
      const id = String(e.data);
      const tally = e.reason === 'unconfirmed' ? this.unconfirmed : this.dropped;
      const n = (tally.get(id) ?? 0) + 1;
      tally.set(id, n);
      if (n > 1) this.violations.push(`message ${id} reported ${e.reason} ${n} times`);
    });
  }

  checkReadyState(when: string): void {
    const conn = this.#conn;
    const expected = readyStateFor(conn.state);
    if (conn.readyState !== expected) this.violations.push(`readyState ${conn.readyState} in ${conn.state} (at ${when})`);
  }

  /** Once the session is over: as many session closes as entries into closed. */
  checkSessionCloses(): void {
    if (this.#sessionCloses !== this.#closedEntries) {
      this.violations.push(`${this.#closedEntries} entries into closed but ${this.#sessionCloses} session close events`);
    }
  }
}
