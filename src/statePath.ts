import type { AnyStateNode, SnapshotFrom, StateValue } from 'xstate';
import { type ConnectionMachine, connectionMachine } from '../machines/connection.js';
import { invalidOption } from './errors.js';

/**
 * The public state path. Two things of the chart stay out of it:
 * - `attempt` only scopes the socket's lifetime; users think in connecting/open/closing, so
 *   `{ attempt: { connecting: 'opening' } }` reads `'connecting.opening'`;
 * - the regions of a parallel state (the heartbeat inside `open`) run beside the state, not below it, so the path
 *   stops at the parallel state: `'open'`. `conn.actor.getSnapshot().value` has the full value.
 */
const SCOPE = 'attempt';

/**
 * Every value `conn.state` (and `statePathOf`) takes, and the `from`/`to` of `statechange` events. A test walks the
 * chart and fails if this list and the chart disagree.
 */
export const CONNECTION_STATE_PATHS = [
  'idle',
  'connecting.opening',
  'connecting.authenticating',
  'open',
  'closing',
  'reconnecting.backoff',
  'reconnecting.waitingForNetwork',
  'closed',
] as const;

/** A public state path: `'connecting.opening'`, `'open'`, `'reconnecting.backoff'`... */
export type ConnectionStatePath = (typeof CONNECTION_STATE_PATHS)[number];

/** What `conn.matches()` and `pathMatches()` take: a state path, or a state holding some (`'connecting'`, `'reconnecting'`). */
export type ConnectionStateName = ConnectionStatePath | 'connecting' | 'reconnecting';

/**
 * A state name argument: a literal must be a `ConnectionStateName` (a misspelled one does not compile), while a
 * value typed just `string` is taken as before (it matches nothing if it names no state).
 */
export type StateNameArgument<P extends string> = string extends P ? P : P extends ConnectionStateName ? P : ConnectionStateName;

/** The connection chart's snapshot (`conn.actor.getSnapshot()`), for selectors: `statePathOf(snapshot)` reads its public path. */
export type ConnectionSnapshot = SnapshotFrom<ConnectionMachine>;

/** The public state path of a chart snapshot: `useSelector(conn.actor, statePathOf)` gives `'connecting.opening'`... */
export function statePathOf(snapshot: { value: StateValue }): ConnectionStatePath {
  const value = (snapshot as { value?: unknown } | null)?.value;
  if (typeof value !== 'string' && (typeof value !== 'object' || value === null)) {
    throw invalidOption('statePathOf(snapshot)', 'a snapshot of the connection chart (conn.actor.getSnapshot())', snapshot);
  }
  return pathOf(value as StateValue, connectionMachine.root, snapshot) as ConnectionStatePath;
}

function pathOf(value: StateValue, parent: AnyStateNode, snapshot: unknown): string {
  let key: string;
  let child: StateValue | undefined;
  if (typeof value === 'string') key = value;
  else {
    const first = typeof value === 'object' && value !== null ? Object.entries(value)[0] : undefined;
    if (first === undefined) {
      throw invalidOption('statePathOf(snapshot)', 'a snapshot whose `value` is a state value (a state name or { state: child })', snapshot);
    }
    [key, child] = first as [string, StateValue | undefined];
  }
  const node = parent.states[key];
  if (child === undefined || node === undefined || node.type === 'parallel') return key;
  const rest = pathOf(child, node, snapshot);
  return key === SCOPE ? rest : `${key}.${rest}`;
}

/** True when the public path `path` is the current state or one of its ancestors (`'connecting'`). */
export function pathMatches<P extends string>(current: string, path: StateNameArgument<P>): boolean {
  if (typeof current !== 'string') throw invalidOption('pathMatches(current)', "a state path such as conn.state ('connecting.opening')", current);
  if (typeof path !== 'string') throw invalidOption('pathMatches(current, path)', "a state path such as 'connecting'", path);
  return current === path || current.startsWith(`${path}.`);
}

/** `readyState` is declared in the chart as tags, one per WebSocket constant. */
export function readyStateOf(snapshot: SnapshotFrom<ConnectionMachine>): 0 | 1 | 2 | 3 {
  if (typeof (snapshot as { hasTag?: unknown } | null)?.hasTag !== 'function') {
    throw invalidOption('readyStateOf(snapshot)', 'a snapshot of the connection chart (conn.actor.getSnapshot())', snapshot);
  }
  if (snapshot.hasTag('OPEN')) return 1;
  if (snapshot.hasTag('CLOSING')) return 2;
  if (snapshot.hasTag('CLOSED')) return 3;
  return 0;
}
