/**
 * A format-neutral description of a statechart, read off the machine's own state nodes (never hand-written), which
 * the Mermaid and DOT renderers share. Everything here comes from XState v5's `StateNode` API: `root`, `.states`,
 * `.initial`, `.transitions` (which already holds the `after` delays under their `xstate.after.*` event types),
 * `.always`, `.after`, `.invoke`, `.tags`.
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';

export interface StateInfo {
  readonly node: AnyStateNode;
  /** Keys from the root (empty for the root itself). */
  readonly path: readonly string[];
  /** The state's key (the machine id for the root). */
  readonly key: string;
  readonly type: AnyStateNode['type'];
  readonly tags: readonly string[];
  /** Ids of the actors this state invokes. */
  readonly invokes: readonly string[];
  readonly parent: StateInfo | undefined;
  readonly children: StateInfo[];
  /** Where the state starts (compound states only; usually one direct child). */
  readonly initial: StateInfo[];
}

export interface TransitionInfo {
  /** The state whose `on`/`after`/`always` declares the transition. */
  readonly source: StateInfo;
  /** One entry per target: a transition to parallel regions has several. Empty for a targetless transition. */
  readonly targets: readonly StateInfo[];
  /** The raw event type, as XState names it (`xstate.after.connectTimeout.connection.attempt.connecting`, ...). */
  readonly eventType: string;
  /** The event for people: `CONNECT`, `after connectTimeout`, `always`, `done socket`, ... */
  readonly event: string;
  readonly guard: string | undefined;
  readonly actions: readonly string[];
  readonly reenter: boolean;
  /** Unguarded, but after guarded transitions for the same event: taken when none of their guards holds. */
  readonly fallback: boolean;
}

export interface MachineGraph {
  readonly id: string;
  readonly root: StateInfo;
  /** Every state but the root, in document order (parents before children). */
  readonly states: readonly StateInfo[];
  /** Every transition, in document order of its source, then in the order XState tries them. */
  readonly transitions: readonly TransitionInfo[];
}

/** `event [guard]`: how a transition is labelled in every format. */
export function transitionLabel(t: Pick<TransitionInfo, 'event' | 'guard' | 'fallback'>): string {
  if (t.guard !== undefined) return `${t.event} [${t.guard}]`;
  return t.fallback ? `${t.event} [else]` : t.event;
}

/** `event [guard] / action, action`: how a targetless (action-only) transition is listed. */
export function internalLabel(t: TransitionInfo): string {
  const label = transitionLabel(t);
  return t.actions.length === 0 ? label : `${label} / ${t.actions.join(', ')}`;
}

/** Walks the machine's state nodes into a {@link MachineGraph}. */
export function describeMachine(machine: AnyStateMachine): MachineGraph {
  const byNode = new Map<AnyStateNode, StateInfo>();
  const states: StateInfo[] = [];

  const visit = (node: AnyStateNode, parent: StateInfo | undefined): StateInfo => {
    const info: StateInfo = {
      node,
      path: [...node.path],
      key: parent === undefined ? machine.id : node.key,
      type: node.type,
      tags: [...node.tags],
      invokes: node.invoke.map((inv) => inv.id),
      parent,
      children: [],
      initial: [],
    };
    byNode.set(node, info);
    if (parent !== undefined) states.push(info);
    for (const child of Object.values(node.states) as AnyStateNode[]) info.children.push(visit(child, info));
    return info;
  };
  const root = visit(machine.root, undefined);

  const lookup = (node: AnyStateNode): StateInfo => {
    const info = byNode.get(node);
    if (info === undefined) throw new Error(`state node ${node.id} is not part of machine ${machine.id}`);
    return info;
  };

  const transitions: TransitionInfo[] = [];
  for (const info of [root, ...states]) {
    const { node } = info;
    if (node.type === 'compound') {
      for (const target of node.initial.target as readonly AnyStateNode[]) info.initial.push(lookup(target));
    }
    const candidates: AnyTransitionDefinition[][] = [...node.transitions.values()];
    if (node.always !== undefined) candidates.push(node.always as AnyTransitionDefinition[]);
    for (const list of candidates) {
      // XState tries the candidates for one event in order; an unguarded one after guarded ones is their "else".
      let guarded = false;
      for (const t of list) {
        const guard = guardName(t.guard);
        transitions.push({
          source: info,
          targets: ((t.target ?? []) as readonly AnyStateNode[]).map(lookup),
          eventType: t.eventType,
          event: eventName(node, t.eventType),
          guard,
          actions: t.actions.map(actionName),
          reenter: t.reenter,
          fallback: guard === undefined && guarded,
        });
        if (guard !== undefined) guarded = true;
      }
    }
  }

  return { id: machine.id, root, states, transitions };
}

function eventName(node: AnyStateNode, eventType: string): string {
  if (eventType === '') return 'always';
  if (eventType.startsWith('xstate.after.')) {
    const delayed = node.after.find((d) => d.eventType === eventType);
    if (delayed !== undefined) return `after ${delayName(delayed.delay)}`;
    return `after ${eventType.slice('xstate.after.'.length).replace(`.${node.id}`, '')}`;
  }
  if (eventType === `xstate.done.state.${node.id}`) return 'done';
  const prefixes: Array<[string, string]> = [
    ['xstate.done.state.', 'done'],
    ['xstate.done.actor.', 'done'],
    ['xstate.error.actor.', 'error'],
    ['xstate.snapshot.', 'snapshot'],
  ];
  for (const [prefix, word] of prefixes) {
    if (eventType.startsWith(prefix)) return `${word} ${eventType.slice(prefix.length)}`;
  }
  return eventType;
}

function delayName(delay: unknown): string {
  if (typeof delay === 'number') return `${delay}ms`;
  if (typeof delay === 'string') return delay;
  if (typeof delay === 'function' && delay.name !== '') return delay.name;
  return 'delay';
}

/** A guard's name: `closeIsFatal`, `not(isOffline)`, `and(a, b)`, `in(#connection.open)`, or `inline` for anonymous. */
export function guardName(guard: unknown): string | undefined {
  if (guard === undefined || guard === null) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const fn = guard as { name: string; check?: unknown; guards?: unknown[]; stateValue?: unknown };
    if (fn.check !== undefined && Array.isArray(fn.guards)) {
      return `${fn.name}(${fn.guards.map((g) => guardName(g) ?? 'inline').join(', ')})`;
    }
    if (fn.check !== undefined && 'stateValue' in fn) {
      const value = typeof fn.stateValue === 'string' ? fn.stateValue : JSON.stringify(fn.stateValue);
      return `in(${value})`;
    }
    return fn.name === '' || fn.name === 'guard' ? 'inline' : fn.name;
  }
  if (typeof guard === 'object' && 'type' in guard) return String((guard as { type: unknown }).type);
  return 'inline';
}

/** An action's name: `recordClose`, `closedAs(fatal)` for parameterized ones, `raise(EVENT)` and `assign` for built-ins. */
export function actionName(action: unknown): string {
  if (typeof action === 'string') return action;
  if (typeof action === 'function') {
    const fn = action as { name: string; type?: unknown; event?: unknown; to?: unknown };
    if (typeof fn.type === 'string') {
      // XState's built-ins: `raise(CONNECT.TIMEOUT)`, `sendTo(socket)`, `assign`, ...
      const name = fn.type.replace(/^xstate\./, '');
      const event = fn.event as { type?: unknown } | undefined;
      if (typeof fn.to === 'string') return `${name}(${fn.to})`;
      if (typeof event === 'object' && event !== null && typeof event.type === 'string') return `${name}(${event.type})`;
      return name;
    }
    return fn.name === '' || fn.name === 'actions' ? 'inline' : fn.name;
  }
  if (typeof action === 'object' && action !== null && 'type' in action) {
    const { type, params } = action as { type: unknown; params?: unknown };
    const simple = typeof params === 'string' || typeof params === 'number' || typeof params === 'boolean';
    return simple ? `${String(type)}(${String(params)})` : String(type);
  }
  return 'inline';
}

/** Whether `node` is `ancestor` or lies inside it. */
export function isWithin(node: StateInfo, ancestor: StateInfo): boolean {
  for (let at: StateInfo | undefined = node; at !== undefined; at = at.parent) if (at === ancestor) return true;
  return false;
}

export interface Edge {
  readonly source: StateInfo;
  readonly target: StateInfo;
  /** One `EVENT [guard]` per transition drawn by this arrow, in the order XState tries them. */
  readonly labels: readonly string[];
}

/**
 * The arrows to draw: one per (source, target) pair, carrying every transition between the two, so parallel arrows
 * don't pile their labels on one another. Targetless transitions draw no arrow (see {@link internalTransitions}).
 */
export function edgesOf(graph: MachineGraph): Edge[] {
  const edges = new Map<string, { source: StateInfo; target: StateInfo; labels: string[] }>();
  const keyOf = (s: StateInfo): string => JSON.stringify(s.path);
  for (const t of graph.transitions) {
    for (const target of t.targets) {
      const key = `${keyOf(t.source)}->${keyOf(target)}`;
      const edge = edges.get(key) ?? { source: t.source, target, labels: [] };
      const label = transitionLabel(t);
      if (!edge.labels.includes(label)) edge.labels.push(label);
      edges.set(key, edge);
    }
  }
  return [...edges.values()];
}

/** Targetless (action-only) transitions by state: they run actions without leaving (or re-entering) the state. */
export function internalTransitions(graph: MachineGraph): Map<StateInfo, string[]> {
  const internal = new Map<StateInfo, string[]>();
  for (const t of graph.transitions) {
    if (t.targets.length > 0) continue;
    const list = internal.get(t.source) ?? [];
    list.push(internalLabel(t));
    internal.set(t.source, list);
  }
  return internal;
}
