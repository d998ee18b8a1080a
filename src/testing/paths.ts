/**
 * Paths through the connection statechart, generated from the real machine with `xstate/graph`, so an app (or this
 * project) can test its reaction to every state the connection can be in, reached every way the chart allows.
 *
 * The machine invokes a socket actor and runs `after` timers, which `createTestModel` refuses; so the graph is
 * walked over the machine's own pure `transition()` with a stub host, and a small "world" beside each snapshot
 * keeps what the chart reads from outside: the network flag, inbound traffic, whether this attempt's socket exists
 * yet, and the timers the chart has scheduled (with the ms each has left, so a timer is offered only when it is
 * the next one due, and a replay knows how far to advance a `SimulatedClock`).
 *
 * How xstate/graph meets `after` and `always`: its default events are each active state's own event types, which
 * include `xstate.after.<delay>.<id>`; sending one fires that timer whatever time has passed, so it would produce
 * paths no clock can replay (a heartbeat timeout before the connection was stable for `resetAfter`, ...). Here the
 * timers come from the `raise`/`cancel` actions the transition resolves instead, with their real delays. `always`
 * transitions need no event: `transition()` takes them in the same macrostep (`heartbeat.starting` is never a
 * resting state), and the microsteps' transitions are recorded so each path step says which transitions it took.
 *
 * This reads xstate internals that xstate/graph itself relies on (`snapshot._nodes`, the inspection microsteps'
 * `_transitions`, the resolved `xstate.raise`/`xstate.cancel` action params): if an xstate upgrade changes them,
 * the model tests in test/model fail on coverage rather than passing silently.
 */
import { type AnyTransitionDefinition, type EventObject, type SnapshotFrom, type StateValue, createEmptyActor } from 'xstate';
import { getShortestPaths, getSimplePaths } from 'xstate/graph';
import {
  type ClosedKind,
  type ConnectionEvent,
  type ConnectionHost,
  type ConnectionMachine,
  type ConnectionPolicy,
  HOST,
} from '../../machines/connection.js';
import { hostedConnectionMachine } from '../host/hostedChart.js';
import { actorEventLabel, transitionKeys } from './chartIndex.js';
import { CLOSE_CLASSES, PATH_VARIANTS, type PathVariant, type PathVariantName, USER_CLOSE } from './variants.js';
import { Connection } from '../connection.js';
import { invalidOption } from '../errors.js';
import type { ConnectionOptions } from '../options.js';
import { readyStateOf, statePathOf } from '../statePath.js';
import { createMemoryTransport } from '../transports/memory.js';
import { MAX_DELAY } from '../validate.js';

type Snapshot = SnapshotFrom<ConnectionMachine>;

/** setTimeout's ceiling: the chart uses it for timers that never fire in practice. */
const NEVER = MAX_DELAY;

/**
 * A step's event: a chart event, a timer (`xstate.after.<delay>.<state id>`), the end of the app's retryWait
 * (`xstate.done.actor.retryWait`, `xstate.error.actor.retryWait`), or `SERVER.MESSAGE` (test-only).
 */
export type PathEvent =
  | ConnectionEvent
  | { type: `xstate.after.${string}` }
  | { type: 'xstate.done.actor.retryWait' }
  | { type: 'xstate.error.actor.retryWait'; error: Error }
  /** The server sends an application message: not a chart event, but it proves the connection alive to a probe. */
  | { type: 'SERVER.MESSAGE' };

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

// ---- the model: the real machine's transition function, with a world beside each snapshot ------------------

interface Timer {
  /** The scheduled event's type, `xstate.after.<delay>.<state id>`: also its id in the scheduler. */
  id: string;
  event: EventObject;
  remaining: number;
}

interface World {
  online: boolean;
  /** Messages received so far (what `inboundCount()` answers). */
  inbound: number;
  /** `pending` right after an attempt started: its socket can still fail to be created (`SOCKET.FAIL`). */
  socket: 'pending' | 'ready';
  timers: Timer[];
}

interface Model {
  policy: ConnectionPolicy;
  initial: Snapshot;
  transition(snapshot: Snapshot, event: PathEvent): Snapshot;
  events(snapshot: Snapshot): PathEvent[];
  worldOf(snapshot: Snapshot): World;
  takenBy(snapshot: Snapshot): string[];
  /** For a timer event from `snapshot`: ms until it fires. */
  delayOf(snapshot: Snapshot, event: PathEvent): number | undefined;
}

/**
 * The policy and callbacks a real connection derives from `options` (read from one, so they cannot drift): the
 * context's policy, and the host's `closeCodes`, `shouldReconnect` and `random` its guards and actions call.
 */
function realChartOf(options: ConnectionOptions): { policy: ConnectionPolicy; host: ConnectionHost } {
  const memory = createMemoryTransport({ canPing: true });
  const conn = new Connection('ws://paths.invalid/', { ...options, startClosed: true, transport: memory.transport }, memory.transport);
  const context = conn.actor.getSnapshot().context;
  conn.actor.stop();
  return { policy: context.policy, host: context[HOST] };
}

function createModel(variant: PathVariant): Model {
  const real = realChartOf(variant.options);
  const policy = real.policy;
  let current: World = { online: true, inbound: 0, socket: 'ready', timers: [] };
  const noop = () => {};
  // The guards and actions that run while the model computes a transition read the policy, the app's callbacks,
  // the network and the inbound count; the rest (sockets, auth, pings) is never started here.
  const host = {
    closeCodes: real.host.closeCodes,
    shouldReconnect: real.host.shouldReconnect,
    random: () => real.host.random(),
    isOnline: () => current.online,
    inboundCount: () => current.inbound,
    sendPing: noop,
  } as unknown as ConnectionHost;

  // An actor scope that runs nothing: it records the transitions taken and the timers scheduled and cancelled.
  const taken: AnyTransitionDefinition[] = [];
  const actions: Array<{ type: string; params: unknown }> = [];
  const self = createEmptyActor();
  const system = {
    ...self.system,
    _sendInspectionEvent(event: { type: string; _transitions?: AnyTransitionDefinition[] }) {
      if (event.type === '@xstate.microstep' && event._transitions) taken.push(...event._transitions);
    },
  };
  const scope = {
    self,
    logger: noop,
    id: '',
    sessionId: 'paths',
    defer: noop,
    system,
    stopChild: noop,
    emit: noop,
    actionExecutor: (action: { type: string; params: unknown }) => actions.push({ type: action.type, params: action.params }),
  } as unknown as Parameters<ConnectionMachine['transition']>[2];

  const worlds = new WeakMap<Snapshot, World>();
  const via = new WeakMap<Snapshot, string[]>();

  function apply(world: World): World {
    const next: World = { ...world, timers: [...world.timers] };
    for (const { type, params } of actions) {
      if (type === 'xstate.cancel') {
        const id = (params as { sendId: string }).sendId;
        next.timers = next.timers.filter((t) => t.id !== id);
      } else if (type === 'xstate.raise') {
        const { event, delay, id } = params as { event: EventObject; delay?: number; id?: string };
        if (typeof delay === 'number') {
          const timerId = id ?? event.type;
          next.timers = [...next.timers.filter((t) => t.id !== timerId), { id: timerId, event, remaining: delay }];
        }
      } else if (type === 'xstate.spawnChild' && (params as { id?: string }).id === 'socket') {
        next.socket = 'pending';
      }
    }
    return next;
  }

  function run(snapshot: Snapshot, event: EventObject | null, world: World): Snapshot {
    taken.length = 0;
    actions.length = 0;
    current = world;
    let next =
      event === null
        ? hostedConnectionMachine.getInitialSnapshot(scope, { host, policy })
        : hostedConnectionMachine.transition(snapshot, event as ConnectionEvent, scope);
    // A snapshot carries its own world: one the machine left unchanged is copied so each can have its own.
    if (next === snapshot) next = { ...snapshot } as Snapshot;
    worlds.set(next, apply(world));
    via.set(next, transitionKeys(taken));
    return next;
  }

  const initial = run(undefined as unknown as Snapshot, null, current);

  const worldOf = (snapshot: Snapshot) => worlds.get(snapshot) as World;

  function transition(snapshot: Snapshot, event: PathEvent): Snapshot {
    const before = worldOf(snapshot);
    let world: World = { ...before, socket: 'ready' };
    const timer = before.timers.find((t) => t.id === event.type);
    if (timer) {
      world.timers = before.timers.filter((t) => t !== timer).map((t) => ({ ...t, remaining: t.remaining - timer.remaining }));
    }
    if (event.type === 'NETWORK.OFFLINE') world = { ...world, online: false };
    if (event.type === 'NETWORK.ONLINE') world = { ...world, online: true };
    if (event.type === 'SERVER.MESSAGE') {
      const next = { ...snapshot } as Snapshot;
      worlds.set(next, { ...world, inbound: world.inbound + 1 });
      via.set(next, []);
      return next;
    }
    return run(snapshot, event, world);
  }

  function events(snapshot: Snapshot): PathEvent[] {
    const world = worldOf(snapshot);
    const own = new Set(snapshot._nodes.flatMap((node) => node.ownEvents));
    const out: PathEvent[] = [];
    const probing = snapshot.matches({ attempt: { open: { heartbeat: 'probing' } } });
    for (const type of own) {
      if (type.startsWith('xstate.after.')) continue; // offered from the pending timers below
      const payloads = payloadsFor(type, snapshot, world, policy);
      if (payloads) out.push(...payloads);
      // An event this module does not know yet is offered bare, so a replay meets it (and says how to drive it).
      else out.push({ type } as PathEvent);
    }
    if (probing) out.push({ type: 'SERVER.MESSAGE' });
    const due = world.timers.filter((t) => t.remaining < NEVER);
    if (due.length > 0) {
      const soonest = Math.min(...due.map((t) => t.remaining));
      for (const t of due) if (t.remaining === soonest) out.push(t.event as PathEvent);
    }
    return out;
  }

  function delayOf(snapshot: Snapshot, event: PathEvent): number | undefined {
    return worldOf(snapshot).timers.find((t) => t.id === event.type)?.remaining;
  }

  return { policy, initial, transition, events, worldOf, takenBy: (s) => via.get(s) ?? [], delayOf };
}

/** The payloads an event is offered with in `snapshot`, or null for an event this module does not know. */
function payloadsFor(type: string, snapshot: Snapshot, world: World, policy: ConnectionPolicy): PathEvent[] | null {
  const inState = (path: string) => statePathOf(snapshot) === path;
  switch (type) {
    // Raised by the chart's own timers: never sent from outside.
    case 'CONNECT.TIMEOUT':
    case 'HEARTBEAT.TIMEOUT':
      return [];
    case 'CONNECT':
    case 'RECONNECT':
    case 'AUTH.OK':
    case 'PONG':
      return [{ type }];
    case 'CLOSE':
      return [{ type, ...USER_CLOSE }];
    case 'AUTH.FAIL':
      return [{ type, reason: 'Authentication refused' }];
    // The page became visible (the chart listens only while a backoff is waited out).
    case 'PAGE.VISIBLE':
      return [{ type }];
    // The app's retryWait hook resolved or failed: only with a hook (otherwise the timer ends the wait).
    case 'xstate.done.actor.retryWait':
      return policy.waitsForRetryHook ? [{ type, output: undefined } as unknown as PathEvent] : [];
    case 'xstate.error.actor.retryWait':
      return policy.waitsForRetryHook ? [{ type, error: new Error('retryWait failed') } as unknown as PathEvent] : [];
    // The environment reports changes only: offline while online, online while offline.
    case 'NETWORK.OFFLINE':
      return world.online ? [{ type }] : [];
    case 'NETWORK.ONLINE':
      return world.online ? [] : [{ type }];
    case 'SOCKET.OPEN':
      return [{ type, protocol: '', extensions: '' }];
    // A handshake that fails reports an error (then a close): modelled where it happens, while opening.
    case 'SOCKET.ERROR':
      return inState('connecting.opening') ? [{ type, error: new Error('Unexpected server response: 503') }] : [];
    // The attempt could never work (a bad URL from the URL provider): only before its socket exists.
    case 'SOCKET.FAIL':
      return world.socket === 'pending' ? [{ type, error: new Error('Invalid URL from the URL provider') }] : [];
    case 'SOCKET.CLOSE': {
      if (inState('closing')) return [{ type, ...USER_CLOSE, wasClean: true }];
      const { normal, abnormal, tryLater, fatal, token } = CLOSE_CLASSES;
      const classes = inState('connecting.opening') ? [abnormal] : inState('connecting.authenticating') ? [abnormal, token] : [normal, abnormal, tryLater, fatal, token];
      return classes.filter((c) => c !== token || policy.auth !== null).map((c) => ({ type, ...c }));
    }
    default:
      return null;
  }
}

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
