import type { SnapshotFrom, StateValue } from 'xstate';
import type { ConnectionMachine } from '../machines/connection.js';

/**
 * The chart's `attempt` state only scopes the socket's lifetime; users think in connecting/open/closing, so the
 * public path leaves it out: `{ attempt: { connecting: 'opening' } }` reads `'connecting.opening'`.
 */
const SCOPE = 'attempt';

export function statePathOf(snapshot: { value: StateValue }): string {
  return pathOf(snapshot.value);
}

function pathOf(value: StateValue): string {
  if (typeof value === 'string') return value;
  const [key, child] = Object.entries(value)[0] as [string, StateValue | undefined];
  if (child === undefined) return key;
  const rest = pathOf(child);
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
