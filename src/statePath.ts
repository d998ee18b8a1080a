import type { AnyStateNode, SnapshotFrom, StateValue } from 'xstate';
import { type ConnectionMachine, connectionMachine } from '../machines/connection.js';

/**
 * The public state path. Two things of the chart stay out of it:
 * - `attempt` only scopes the socket's lifetime; users think in connecting/open/closing, so
 *   `{ attempt: { connecting: 'opening' } }` reads `'connecting.opening'`;
 * - the regions of a parallel state (the heartbeat inside `open`) run beside the state, not below it, so the path
 *   stops at the parallel state: `'open'`. `conn.actor.getSnapshot().value` has the full value.
 */
const SCOPE = 'attempt';

export function statePathOf(snapshot: { value: StateValue }): string {
  return pathOf(snapshot.value, connectionMachine.root);
}

function pathOf(value: StateValue, parent: AnyStateNode): string {
  const [key, child] = typeof value === 'string' ? [value, undefined] : (Object.entries(value)[0] as [string, StateValue | undefined]);
  const node = parent.states[key];
  if (child === undefined || node === undefined || node.type === 'parallel') return key;
  const rest = pathOf(child, node);
  return key === SCOPE ? rest : `${key}.${rest}`;
}

/** True when the public path `path` is the current state or one of its ancestors (`'connecting'`). */
export function pathMatches(current: string, path: string): boolean {
  return current === path || current.startsWith(`${path}.`);
}

/** `readyState` is declared in the chart as tags, one per WebSocket constant. */
export function readyStateOf(snapshot: SnapshotFrom<ConnectionMachine>): 0 | 1 | 2 | 3 {
  if (snapshot.hasTag('OPEN')) return 1;
  if (snapshot.hasTag('CLOSING')) return 2;
  if (snapshot.hasTag('CLOSED')) return 3;
  return 0;
}
