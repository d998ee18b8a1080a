/**
 * The model the connection paths (paths.ts) are walked on: the real machine's pure `transition()` with a stub host,
 * and a small "world" beside each snapshot.
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
import { type AnyTransitionDefinition, type EventObject, type SnapshotFrom, createEmptyActor } from 'xstate';
import {
  type ConnectionEvent,
  type ConnectionHost,
  type ConnectionMachine,
  type ConnectionPolicy,
  HOST,
} from '../../machines/connection.js';
import { hostedConnectionMachine } from '../host/hostedChart.js';
import { transitionKeys } from './chartIndex.js';
import { CLOSE_CLASSES, type PathVariant, USER_CLOSE } from './variants.js';
import { Connection } from '../connection.js';
import type { ConnectionOptions } from '../options.js';
import { statePathOf } from '../statePath.js';
import { createMemoryTransport } from '../transports/memory.js';
import { MAX_DELAY } from '../validate.js';

export type Snapshot = SnapshotFrom<ConnectionMachine>;

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

export interface Timer {
  /** The scheduled event's type, `xstate.after.<delay>.<state id>`: also its id in the scheduler. */
  id: string;
  event: EventObject;
  remaining: number;
}

export interface World {
  online: boolean;
  /** Messages received so far (what `inboundCount()` answers). */
  inbound: number;
  /** `pending` right after an attempt started: its socket can still fail to be created (`SOCKET.FAIL`). */
  socket: 'pending' | 'ready';
  timers: Timer[];
}

export interface Model {
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

export function createModel(variant: PathVariant): Model {
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
