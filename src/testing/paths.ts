/**
 * Paths through the connection statechart, generated from the real machine with `xstate/graph`, so an app (or this
 * project) can test its reaction to every state the connection can be in, reached every way the chart allows.
 *
 * The graph is walked on a model of the chart (pathModel.ts: the machine's pure `transition()` with a world beside
 * each snapshot); this module walks it, turns the walks into `ConnectionPath`s and checks the options.
 */
import type { StateValue } from 'xstate';
import { getShortestPaths, getSimplePaths } from 'xstate/graph';
import { type ClosedKind, type ConnectionEvent, type ConnectionMachine } from '../../machines/connection.js';
import { hostedConnectionMachine } from '../host/hostedChart.js';
import { actorEventLabel } from './chartIndex.js';
import { type Model, type PathEvent, type Snapshot, createModel } from './pathModel.js';
import { CLOSE_CLASSES, PATH_VARIANTS, type PathVariantName, USER_CLOSE } from './variants.js';
import { invalidOption } from '../errors.js';
import { readyStateOf, statePathOf } from '../statePath.js';

export type { PathEvent } from './pathModel.js';

export {
  CLOSE_CLASSES,
  PATH_VARIANTS,
  USER_CLOSE,
  type PathVariant,
  type PathVariantName,
} from './variants.js';

export interface ConnectionPathStep {
  /** What happens at this step. */
  event: PathEvent;
  /** For a timer event: the ms a `SimulatedClock` must advance for it (and nothing else) to fire. */
  advance?: number;
  /** For a timer event: the delay's name in the chart (`connectTimeout`, `retryDelay`, `heartbeatInterval`, ...). */
  timer?: string;
  /** `conn.state` after the step (`'connecting.opening'`, `'open'`, `'reconnecting.backoff'`, ...). */
  state: string;
  /** `conn.readyState` after the step. */
  readyState: 0 | 1 | 2 | 3;
  /** The chart's full state value after the step (with the heartbeat region). */
  value: StateValue;
  /** Whether the network is up after the step (a `NETWORK.*` step changes it). */
  online: boolean;
  /** In `closed`: why (`conn.closedBy.kind`): `user`, `server`, `fatal`, `giveup`, `auth` or `error`. */
  closedBy?: ClosedKind;
  /** The chart transitions this step takes, as `chartTransitions()` keys. */
  transitions: string[];
}

export interface ConnectionPath {
  /** Unique within one `connectionPaths()` result: `<variant>/<kind>/<n>`. */
  id: string;
  variant: PathVariantName;
  kind: 'shortest' | 'simple';
  /** The events, in order: `CONNECT → SOCKET.OPEN → ...`. */
  description: string;
  /** Every path starts in `idle` (the variant's options have `startClosed: true`). */
  steps: ConnectionPathStep[];
  /** The state the path ends in. */
  state: string;
}

export interface ConnectionPathsOptions {
  /**
   * Policy variants to walk.
   * @default every variant of `PATH_VARIANTS`
   */
  variants?: readonly PathVariantName[];
  /**
   * Shortest paths: one path to each distinct situation of the chart (state, retry count, network, pending timers,
   * and the transition that led there), so together they take every reachable transition.
   * @default true
   */
  shortest?: boolean;
  /**
   * Simple paths (no situation visited twice) over the public states (`conn.state`), as many as `maxPaths` per
   * variant, at most `maxLength` steps long. Off unless set; `true` means the defaults below.
   * @default false ({ maxLength: 8, maxPaths: 500 } when true)
   */
  simple?: boolean | { maxLength?: number; maxPaths?: number };
}

export { chartStates, chartTransitions, stateIdsOf, transitionKeys, type ChartTransition } from './chartIndex.js';

// ---- paths ----------------------------------------------------------------------------------------------------

function serializeFine(model: Model) {
  return (snapshot: Snapshot) => {
    const world = model.worldOf(snapshot);
    const { retries, authRefreshed, inboundAtProbe } = snapshot.context;
    const probing = snapshot.matches({ attempt: { open: { heartbeat: 'probing' } } });
    const timers = world.timers.map((t) => `${t.id}=${t.remaining}`).sort();
    return JSON.stringify([
      snapshot.value,
      retries,
      authRefreshed,
      probing ? world.inbound !== inboundAtProbe : null,
      world.online,
      world.socket,
      timers,
      model.takenBy(snapshot),
    ]);
  };
}

function serializeCoarse(snapshot: Snapshot): string {
  return JSON.stringify(snapshot.value);
}

function describeEvent(event: PathEvent): string {
  if (event.type.startsWith('xstate.after.')) return `after ${event.type.slice('xstate.after.'.length).split('.')[0]}`;
  if (event.type === 'SOCKET.CLOSE') return `SOCKET.CLOSE(${(event as { code: number }).code})`;
  return actorEventLabel(event.type) ?? event.type;
}

/** Rebuilds the steps of `events` from the initial state on the model; null if one is not offered on the way. */
function walk(model: Model, events: readonly PathEvent[]): Array<{ event: PathEvent; before: Snapshot; after: Snapshot }> | null {
  let snapshot = model.initial;
  const steps: Array<{ event: PathEvent; before: Snapshot; after: Snapshot }> = [];
  for (const wanted of events) {
    const key = JSON.stringify(wanted);
    const offered = model.events(snapshot).find((e) => JSON.stringify(e) === key);
    if (!offered) return null;
    const next = model.transition(snapshot, offered);
    steps.push({ event: offered, before: snapshot, after: next });
    snapshot = next;
  }
  return steps;
}

function toPath(
  model: Model,
  variant: PathVariantName,
  kind: ConnectionPath['kind'],
  n: number,
  steps: Array<{ event: PathEvent; before: Snapshot; after: Snapshot }>,
): ConnectionPath {
  const out: ConnectionPathStep[] = steps.map(({ event, before, after }) => {
    const step: ConnectionPathStep = {
      event,
      state: statePathOf(after),
      readyState: readyStateOf(after),
      value: after.value,
      online: model.worldOf(after).online,
      transitions: model.takenBy(after),
    };
    if (step.state === 'closed' && after.context.closedBy) step.closedBy = after.context.closedBy.kind;
    if (event.type.startsWith('xstate.after.')) {
      step.advance = model.delayOf(before, event);
      step.timer = event.type.slice('xstate.after.'.length).split('.')[0];
    }
    return step;
  });
  return {
    id: `${variant}/${kind}/${n}`,
    variant,
    kind,
    description: steps.length ? steps.map((s) => describeEvent(s.event)).join(' → ') : '(start)',
    steps: out,
    state: out.length ? out[out.length - 1]!.state : statePathOf(model.initial),
  };
}

/**
 * The generated paths through the connection chart, for every policy variant: replay each on a connection (see
 * `PATH_VARIANTS` for the options it assumes) and check what your app shows at every step.
 *
 * ```ts
 * for (const path of connectionPaths()) for (const step of path.steps) expect(indicator(step.state)).toBeDefined();
 * ```
 */
export function connectionPaths(options: ConnectionPathsOptions = {}): ConnectionPath[] {
  checkPathsOptions(options);
  const names = options.variants ?? (Object.keys(PATH_VARIANTS) as PathVariantName[]);
  const simple = options.simple === true ? {} : options.simple || null;
  const paths: ConnectionPath[] = [];
  for (const name of names) {
    const variant = PATH_VARIANTS[name];
    const model = createModel(variant);
    const logic = Object.create(hostedConnectionMachine, {
      transition: { value: (snapshot: Snapshot, event: PathEvent) => model.transition(snapshot, event) },
    }) as ConnectionMachine;
    const traversal = {
      fromState: model.initial,
      events: (snapshot: Snapshot) => model.events(snapshot) as ConnectionEvent[],
    };
    if (options.shortest !== false) {
      const shortest = getShortestPaths(logic, { ...traversal, serializeState: serializeFine(model) });
      let n = 0;
      for (const path of shortest) {
        const events = path.steps.slice(1).map((s) => s.event as PathEvent);
        const steps = walk(model, events);
        if (steps && steps.length > 0) paths.push(toPath(model, name, 'shortest', n++, steps));
      }
    }
    if (simple) {
      const maxLength = simple.maxLength ?? 8;
      const maxPaths = simple.maxPaths ?? 500;
      // Over the public states only, each event once per state: a route, re-walked exactly on the model below.
      const found = getSimplePaths(logic, {
        ...traversal,
        serializeState: serializeCoarse,
        filterEvents: (_snapshot: Snapshot, event: ConnectionEvent) => firstOfItsType(event),
      });
      found.sort((a, b) => a.steps.length - b.steps.length);
      let n = 0;
      const seen = new Set<string>();
      for (const path of found) {
        if (n >= maxPaths) break;
        const events = path.steps.slice(1).map((s) => s.event as PathEvent);
        if (events.length === 0 || events.length > maxLength) continue;
        const key = JSON.stringify(events);
        if (seen.has(key)) continue;
        seen.add(key);
        const steps = walk(model, events);
        if (steps) paths.push(toPath(model, name, 'simple', n++, steps));
      }
    }
  }
  return paths;
}

/** Checked before walking anything: the walk is slow, and a typo in a variant name should not cost it. */
function checkPathsOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption('connectionPaths(options)', 'an object { variants?, shortest?, simple? }', options);
  }
  const { variants, shortest, simple } = options as Record<string, unknown>;
  const known = Object.keys(PATH_VARIANTS);
  if (variants !== undefined) {
    if (!Array.isArray(variants)) throw invalidOption('variants', `an array of variant names (${known.join(', ')})`, variants);
    for (const name of variants) {
      if (typeof name !== 'string' || !Object.hasOwn(PATH_VARIANTS, name)) throw invalidOption('variants', `names among ${known.join(', ')}`, name);
    }
  }
  if (shortest !== undefined && typeof shortest !== 'boolean') throw invalidOption('shortest', 'true or false', shortest);
  if (simple === undefined || typeof simple === 'boolean') return;
  if (typeof simple !== 'object' || simple === null) throw invalidOption('simple', 'true, false or { maxLength?, maxPaths? }', simple);
  for (const name of ['maxLength', 'maxPaths'] as const) {
    const value = (simple as Record<string, unknown>)[name];
    if (value !== undefined && !(typeof value === 'number' && value >= 0 && (Number.isInteger(value) || value === Infinity))) {
      throw invalidOption(`simple.${name}`, 'a whole number >= 0 (or Infinity)', value);
    }
  }
}

/** For simple paths: one payload per event type (the first close class, say), so routes differ by state. */
function firstOfItsType(event: { type: string; code?: number }): boolean {
  if (event.type !== 'SOCKET.CLOSE') return true;
  return event.code === CLOSE_CLASSES.abnormal.code || event.code === USER_CLOSE.code;
}
