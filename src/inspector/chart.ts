/**
 * What the inspector page needs to know about the chart: the Mermaid text, the Mermaid node id of every state, and
 * which of those ids are active in a snapshot.
 */
import type { AnyStateMachine, StateValue } from 'xstate';
import { connectionMachine } from '../../machines/connection.js';
import { describeMachine, toMermaid } from '../visualize/index.js';

export interface ChartDescription {
  /** The `stateDiagram-v2` text, exactly as `toMermaid()` gives it. */
  readonly mermaid: string;
  /** Mermaid node id by full state path (`attempt.connecting.opening` -> `attempt_connecting_opening`). */
  readonly ids: Readonly<Record<string, string>>;
}

/** Matches `state "label" as id`, the line the Mermaid generator declares every state with. */
const DECLARATION = /^\s*state "([^"]*)" as (\S+)\s*$/gm;

/**
 * Reads the Mermaid id of every state off the generated diagram. The generator declares states in document order
 * (the root first, only when it draws it as a box), the order `describeMachine` lists them, so the two are zipped
 * and each pairing is checked against the state's key; a state whose declaration can't be matched that way falls
 * back to the id scheme itself (the path joined with `_`), if the diagram declares it.
 */
export function describeChart(machine: AnyStateMachine = connectionMachine): ChartDescription {
  const mermaid = toMermaid(machine);
  const graph = describeMachine(machine);
  const declared = [...mermaid.matchAll(DECLARATION)].map((m) => ({ label: m[1] ?? '', id: m[2] ?? '' }));
  const declaredIds = new Set(declared.map((d) => d.id));
  const offset = declared.length === graph.states.length + 1 ? 1 : 0;
  const ids: Record<string, string> = {};
  graph.states.forEach((state, i) => {
    const declaration = declared.length - offset === graph.states.length ? declared[i + offset] : undefined;
    const key = state.key.replace(/"/g, "'");
    if (declaration !== undefined && (declaration.label === key || declaration.label.startsWith(`${key} `))) {
      ids[state.path.join('.')] = declaration.id;
      return;
    }
    const scheme = state.path.join('_').replace(/[^A-Za-z0-9_]/g, '_');
    if (declaredIds.has(scheme)) ids[state.path.join('.')] = scheme;
  });
  return { mermaid, ids };
}

/**
 * Every active state's full path, parents before children, all regions of a parallel state included:
 * `{ attempt: { open: { heartbeat: 'resting' } } }` gives `attempt`, `attempt.open`, `attempt.open.heartbeat`,
 * `attempt.open.heartbeat.resting`.
 */
export function activePaths(value: StateValue, prefix = ''): string[] {
  if (typeof value === 'string') return [`${prefix}${value}`];
  const paths: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const path = `${prefix}${key}`;
    paths.push(path);
    if (child !== undefined && (typeof child === 'string' || Object.keys(child).length > 0)) {
      paths.push(...activePaths(child, `${path}.`));
    }
  }
  return paths;
}

/** The active states that have no active child: the ones the page marks most strongly. */
export function leafPaths(paths: readonly string[]): string[] {
  return paths.filter((p) => !paths.some((q) => q.startsWith(`${p}.`)));
}
