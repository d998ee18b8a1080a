import type { ClosedReason } from '../machines/connection.js';
import { invalidOption } from './errors.js';
import type { SendData } from './data.js';
import type { DropReason } from './policies/queue.js';
import type { ConnectionStatePath } from './statePath.js';

/**
 * The events a connection fires. The first four carry what the DOM's `Event`, `MessageEvent` and `CloseEvent`
 * carry, so WebSocket code keeps working; the rest tell what the statechart is doing.
 * Plain classes rather than DOM `Event`s: Node 20 has no `CloseEvent`, and constructing DOM events costs more
 * than the whole message dispatch is allowed to.
 */
export class SocketchartEvent<T extends string = string> {
  readonly type: T;
  /** The connection that fired it (set on dispatch). */
  target: unknown = null;
  readonly timeStamp: number;

  constructor(type: T, timeStamp: number) {
    this.type = type;
    this.timeStamp = timeStamp;
  }
}

export class OpenEvent extends SocketchartEvent<'open'> {
  constructor(timeStamp: number) {
    super('open', timeStamp);
  }
}

export class SocketMessageEvent<T = unknown> extends SocketchartEvent<'message'> {
  readonly data: T;
  readonly origin: string;

  constructor(data: T, origin: string, timeStamp: number) {
    super('message', timeStamp);
    this.data = data;
    this.origin = origin;
  }
}

export class SocketCloseEvent extends SocketchartEvent<'close'> {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  /** Set when this close ends the session (`closed`): why it ended. */
  readonly closedBy: ClosedReason | undefined;

  constructor(init: { code: number; reason: string; wasClean: boolean }, closedBy: ClosedReason | undefined, timeStamp: number) {
    super('close', timeStamp);
    this.code = init.code;
    this.reason = init.reason;
    this.wasClean = init.wasClean;
    this.closedBy = closedBy;
  }
}

export class SocketErrorEvent extends SocketchartEvent<'error'> {
  readonly error: Error;
  readonly message: string;

  constructor(error: Error, timeStamp: number) {
    super('error', timeStamp);
    this.error = error;
    this.message = error.message;
  }
}

/**
 * The chart moved: `from` and `to` are state paths like `'reconnecting.backoff'`; `event` is what moved it.
 *
 * `event.type` is one of the chart's events (`SOCKET.OPEN`, `CLOSE`, `NETWORK.OFFLINE`...), or, for what XState
 * names internally, the name the diagram shows: `after <delay>` for a timer (`after retryDelay`, `after
 * connectTimeout`, `after heartbeatTimeout`...), `done <actor>` / `error <actor>` for an invoked actor (`done
 * retryWait`). The event's other fields are XState's, as is. `conn.actor` shows the raw events.
 */
export class StateChangeEvent extends SocketchartEvent<'statechange'> {
  readonly from: ConnectionStatePath;
  readonly to: ConnectionStatePath;
  readonly event: { type: string; [key: string]: unknown };

  constructor(from: string, to: string, event: { type: string }, timeStamp: number) {
    super('statechange', timeStamp);
    this.from = from as ConnectionStatePath;
    this.to = to as ConnectionStatePath;
    const type = publicEventType(event.type);
    // A copy only when renamed: timers and actors, never the socket events that make up most transitions.
    this.event = type === event.type ? event : { ...event, type };
  }
}

const XSTATE = 'xstate.';

/** `xstate.after.retryDelay.connection.reconnecting.backoff` -> `after retryDelay`, as `visualize` labels it. */
function publicEventType(type: string): string {
  if (!type.startsWith(XSTATE)) return type;
  const rest = type.slice(XSTATE.length);
  if (rest.startsWith('after.')) return `after ${rest.slice('after.'.length).split('.')[0]}`;
  for (const [prefix, word] of [['done.actor.', 'done'], ['error.actor.', 'error'], ['done.state.', 'done']] as const) {
    if (rest.startsWith(prefix)) return `${word} ${rest.slice(prefix.length)}`;
  }
  return rest;
}

/** A retry is scheduled: `attempt` counts retries since the connection was last healthy; `delay` is in ms. */
export class ReconnectingEvent extends SocketchartEvent<'reconnecting'> {
  readonly attempt: number;
  readonly delay: number;

  constructor(attempt: number, delay: number, timeStamp: number) {
    super('reconnecting', timeStamp);
    this.attempt = attempt;
    this.delay = delay;
  }
}

/**
 * A message the connection could not deliver. Every undelivered message produces exactly one; a batch reports each
 * of its messages, never the envelope.
 *
 * To send it again: `conn.send(e.message)`. Not `e.data`, which is the frame the codec made of it (sending that
 * would encode it twice).
 */
export class DropEvent<Out = unknown> extends SocketchartEvent<'drop'> {
  /** The encoded frame (the codec's output; under the raw codec the very value sent). */
  readonly data: SendData;
  /**
   * The value passed to `send()` (or `subscribe()`, `request()`: then with its correlation id), the same object, not
   * a copy. Under the raw codec it is `data`.
   *
   * One case cannot carry it: a drop reported by a delivery layer of your own that calls `host.drop(data, reason)`
   * without the message it was given. Then it is `data`, the only thing that layer kept (`atLeastOnce()` keeps both).
   */
  readonly message: Out;
  readonly reason: DropReason;

  constructor(data: SendData, reason: DropReason, timeStamp: number, message: Out = data as Out) {
    super('drop', timeStamp);
    this.data = data;
    this.reason = reason;
    this.message = message;
  }
}

/** The connection stopped retrying (`backoff.maxAttempts` reached). A `close` follows. */
export class GiveupEvent extends SocketchartEvent<'giveup'> {
  readonly closedBy: ClosedReason;

  constructor(closedBy: ClosedReason, timeStamp: number) {
    super('giveup', timeStamp);
    this.closedBy = closedBy;
  }
}

/**
 * An inbound message the codec could not decode or the schema rejected. It is not delivered as a `message`;
 * `data` is the frame as received, `problem` the decode error or the schema's issues.
 */
export class InvalidMessageEvent extends SocketchartEvent<'invalid-message'> {
  readonly data: unknown;
  readonly problem: unknown;

  constructor(data: unknown, problem: unknown, timeStamp: number) {
    super('invalid-message', timeStamp);
    this.data = data;
    this.problem = problem;
  }
}

/** Backpressure is over: `bufferedAmount` fell below `flow.lowWaterMark` and the queue is empty. */
export class DrainEvent extends SocketchartEvent<'drain'> {
  readonly bufferedAmount: number;

  constructor(bufferedAmount: number, timeStamp: number) {
    super('drain', timeStamp);
    this.bufferedAmount = bufferedAmount;
  }
}

export interface ConnectionEventMap<In = unknown, Out = unknown> {
  drain: DrainEvent;
  'invalid-message': InvalidMessageEvent;
  open: OpenEvent;
  message: SocketMessageEvent<In>;
  close: SocketCloseEvent;
  error: SocketErrorEvent;
  statechange: StateChangeEvent;
  reconnecting: ReconnectingEvent;
  drop: DropEvent<Out>;
  giveup: GiveupEvent;
}

export type Listener<E> = ((event: E) => void) | { handleEvent(event: E): void };

export interface ListenerOptions {
  /** Remove the listener after its first call. */
  once?: boolean;
  /** Remove the listener when this signal aborts. */
  signal?: AbortSignal;
}

interface Registration {
  readonly listener: Listener<never>;
  readonly once: boolean;
  /** Set on removal, so a dispatch already iterating the old list skips it (the DOM's `removed` flag). */
  removed: boolean;
}

/**
 * Listener lists per event type, in registration order, as `EventTarget` keeps them. Lists are replaced (never
 * mutated) on change, so a dispatch iterates the list as it was when it began: a listener added during it is not
 * called for that event. A removed registration is flagged, so the dispatch in progress skips it, as the DOM does.
 * Nothing is allocated per dispatch.
 */
export class ListenerRegistry {
  /** Made on the first listener; many connections only ever use the `on*` properties. */
  #lists: Partial<Record<string, Registration[]>> | null = null;

  add(type: string, listener: Listener<never>, options?: ListenerOptions | boolean): void {
    if (listener == null) return;
    // No prototype: an event type such as 'constructor' or 'toString' is a list like any other, not Object's method.
    this.#lists ??= Object.create(null) as Partial<Record<string, Registration[]>>;
    const list = this.#lists[type] ?? [];
    if (list.some((entry) => entry.listener === listener)) return;
    const opts = typeof options === 'object' && options !== null ? options : {};
    if (opts.signal?.aborted) return;
    this.#lists[type] = [...list, { listener, once: opts.once === true, removed: false }];
    opts.signal?.addEventListener('abort', () => this.remove(type, listener), { once: true });
  }

  remove(type: string, listener: Listener<never>): void {
    const list = this.#lists?.[type];
    if (!list || !this.#lists) return;
    const index = list.findIndex((entry) => entry.listener === listener);
    if (index === -1) return;
    (list[index] as Registration).removed = true;
    const next = list.filter((_, i) => i !== index);
    if (next.length === 0) delete this.#lists[type];
    else this.#lists[type] = next;
  }

  has(type: string): boolean {
    return this.#lists?.[type] !== undefined;
  }

  dispatch(event: SocketchartEvent, handler: ((event: never) => void) | null | undefined): void {
    // An `on*` property is an event handler, not a listener: as the DOM's, it is called only when it holds a function
    // (an object's `handleEvent` is not used, a string or `{}` is ignored instead of throwing at every event).
    if (typeof handler === 'function') invoke(handler as Listener<never>, event);
    const list = this.#lists?.[event.type];
    if (!list) return;
    for (const entry of list) {
      if (entry.removed) continue;
      if (entry.once) this.remove(event.type, entry.listener);
      invoke(entry.listener, event);
    }
  }

  clear(): void {
    if (this.#lists) for (const list of Object.values(this.#lists)) for (const entry of list ?? []) entry.removed = true;
    this.#lists = null;
  }
}

/** An event an app dispatches itself: a DOM `Event`, or any object with a `type`. */
export interface AppEvent {
  readonly type: string;
  readonly defaultPrevented?: boolean;
}

/**
 * `dispatchEvent` of a connection (or a tab's shared connection): the app's event goes to the `on<type>` handler and
 * the listeners, as EventTarget's does, with `target` the connection. False when a listener prevented a cancelable
 * event.
 */
export function dispatchAppEvent(target: object, listeners: ListenerRegistry, event: AppEvent): boolean {
  if (typeof event !== 'object' || event === null || typeof event.type !== 'string') {
    throw invalidOption('dispatchEvent(event)', "an event object with a string `type` (new Event('open'), say)", event);
  }
  // A DOM Event's target is a read-only accessor the DOM sets while dispatching; an own property stands in for it.
  Object.defineProperty(event, 'target', { value: target, configurable: true, writable: true });
  // Only the `on*` properties are handlers (`once` is a method, not the handler of an event named 'ce').
  const slot = `on${event.type}`;
  const handler = Object.hasOwn(target, slot) ? (target as Record<string, unknown>)[slot] : null;
  listeners.dispatch(event as SocketchartEvent, handler as never);
  return event.defaultPrevented !== true;
}

function invoke(listener: Listener<never>, event: SocketchartEvent): void {
  try {
    if (typeof listener === 'function') listener(event as never);
    else listener.handleEvent(event as never);
  } catch (error) {
    // As EventTarget does: a throwing listener is reported, and the others still run.
    queueMicrotask(() => {
      throw error;
    });
  }
}
