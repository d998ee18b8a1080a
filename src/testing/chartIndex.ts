/**
 * The connection chart's states and transitions, indexed with stable keys (`source --event [guard]--> target`), so
 * paths, coverage reports and inspectors name a transition the same way (see paths.ts).
 */
import type { AnyStateNode, AnyTransitionDefinition } from 'xstate';
import { getStateNodes } from 'xstate/graph';
import { connectionMachine } from '../../machines/connection.js';
import { invalidOption } from '../errors.js';

export interface ChartTransition {
  /** `source --event [guard]--> target`, with state ids relative to the machine: stable across runs. */
  key: string;
  source: string;
  event: string;
  guard: string | undefined;
  targets: string[];
}

const ROOT_ID = connectionMachine.root.id;
const relative = (id: string) => (id === ROOT_ID ? '(root)' : id.slice(ROOT_ID.length + 1));

function allNodes(): AnyStateNode[] {
  return [connectionMachine.root, ...getStateNodes(connectionMachine.root)];
}

function guardName(t: AnyTransitionDefinition): string | undefined {
  const guard = t.guard as unknown;
  if (guard === undefined) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && guard !== null && 'type' in guard) return String((guard as { type: unknown }).type);
  return 'inline';
}

function eventLabel(t: AnyTransitionDefinition): string {
  const type = t.eventType;
  if (type === '') return 'always';
  if (type.startsWith('xstate.after.')) return `after ${type.slice('xstate.after.'.length).split('.')[0]}`;
  return actorEventLabel(type) ?? type;
}

/** `done retryWait` / `error retryWait` for the end of an invoked actor, as the diagram names it. */
export function actorEventLabel(type: string): string | null {
  if (type.startsWith('xstate.done.actor.')) return `done ${type.slice('xstate.done.actor.'.length)}`;
  if (type.startsWith('xstate.error.actor.')) return `error ${type.slice('xstate.error.actor.'.length)}`;
  return null;
}

let transitionIndex: Map<AnyTransitionDefinition, ChartTransition> | null = null;

function indexTransitions(): Map<AnyTransitionDefinition, ChartTransition> {
  if (transitionIndex) return transitionIndex;
  const index = new Map<AnyTransitionDefinition, ChartTransition>();
  const seen = new Set<string>();
  for (const node of allNodes()) {
    const defs: AnyTransitionDefinition[] = [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
    for (const t of defs) {
      const guard = guardName(t);
      const targets = (t.target ?? []).map((target: AnyStateNode) => relative(target.id));
      let key = `${relative(node.id)} --${eventLabel(t)}${guard ? ` [${guard}]` : ''}--> ${targets.length ? targets.join(',') : '(stay)'}`;
      for (let n = 2; seen.has(key); n++) key = `${key} #${n}`;
      seen.add(key);
      index.set(t, { key, source: relative(node.id), event: eventLabel(t), guard, targets });
    }
  }
  transitionIndex = index;
  return index;
}

/** Every transition of the chart (each guarded branch counts), found by walking its state nodes. */
export function chartTransitions(): ChartTransition[] {
  return [...indexTransitions().values()];
}

/** Every state node of the chart, as ids relative to the machine (`attempt.connecting.opening`). */
export function chartStates(): string[] {
  return getStateNodes(connectionMachine.root).map((node) => relative(node.id));
}

/** Keys of transition definitions, as an inspector's `@xstate.microstep` event carries them in `_transitions`. */
export function transitionKeys(transitions: readonly AnyTransitionDefinition[]): string[] {
  if (!Array.isArray(transitions)) {
    throw invalidOption('transitionKeys(transitions)', "an array of transition definitions (a '@xstate.microstep' event's `_transitions`)", transitions);
  }
  const index = indexTransitions();
  return transitions.map((t) => (index.get(t) ?? index.get(sameInBaseChart(t) as AnyTransitionDefinition))?.key ?? `(unknown transition ${t.eventType})`);
}

/**
 * A connection whose behaviour was given with `connectionMachine.provide()` (an app's retryWait, say) runs a copy
 * of the chart: its transitions are the base chart's, found by source state, event and position.
 */
function sameInBaseChart(t: AnyTransitionDefinition): AnyTransitionDefinition | undefined {
  const source = t.source as AnyStateNode | undefined;
  if (source === undefined) return undefined;
  const listOf = (node: AnyStateNode): readonly AnyTransitionDefinition[] =>
    (t.eventType === '' ? node.always : node.transitions.get(t.eventType)) ?? [];
  const position = listOf(source).indexOf(t);
  const base = allNodes().find((node) => node.id === source.id);
  return position < 0 || base === undefined ? undefined : listOf(base)[position];
}

/** State ids (relative) of the nodes a snapshot is in. */
export function stateIdsOf(snapshot: { _nodes: readonly AnyStateNode[] }): string[] {
  if (!Array.isArray((snapshot as { _nodes?: unknown } | null)?._nodes)) {
    throw invalidOption('stateIdsOf(snapshot)', 'a snapshot of the connection chart (conn.actor.getSnapshot())', snapshot);
  }
  return snapshot._nodes.filter((node) => node.id !== ROOT_ID).map((node) => relative(node.id));
}
