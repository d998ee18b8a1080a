/**
 * What a tab's listeners hear: the connection events of the shared session, dispatched with the tab's handle as
 * `target`, message routing by type (`on`/`once`/`off`), and `onEveryOpen` hooks. The leader feeds it from its
 * connection, followers from the channel; both hear the same events in the same order.
 */
import type { ClosedReason } from '../../machines/connection.js';
import {
  DrainEvent,
  GiveupEvent,
  InvalidMessageEvent,
  ListenerRegistry,
  OpenEvent,
  ReconnectingEvent,
  SocketCloseEvent,
  SocketErrorEvent,
  SocketMessageEvent,
  type SocketchartEvent,
} from '../events.js';
import type { OpenedOptions } from '../connection.js';
import { SocketchartError, invalidOption } from '../errors.js';
import { type WireEvent, fromWireClosedReason, fromWireError, fromWireProblem } from './protocol.js';

/** `opened()` of a tab, from the state it shows. */
export function whenOpen(events: TabEvents, state: string, options: OpenedOptions): Promise<void> {
  if (state === 'open') return Promise.resolve();
  if (state === 'closed') return Promise.reject(new SocketchartError('ERR_CONNECTION_CLOSED', 'The connection is closed.'));
  const { timeout, signal } = options;
  return new Promise((resolve, reject) => {
    const cleanup = new AbortController();
    const settle = (error?: unknown) => {
      cleanup.abort();
      clearTimeout(timer);
      if (error === undefined) resolve();
      else reject(error);
    };
    const timer = timeout === undefined ? undefined : setTimeout(() => settle(new SocketchartError('ERR_OPEN_TIMEOUT', `Not open after ${timeout} ms.`)), timeout);
    signal?.addEventListener('abort', () => settle(signal.reason), { signal: cleanup.signal });
    const onChange = (e: { to: string }) => {
      if (e.to === 'open') settle();
      else if (e.to === 'closed') settle(new SocketchartError('ERR_CONNECTION_CLOSED', 'The connection closed before it opened.'));
    };
    events.listeners.add('statechange', onChange as never, { signal: cleanup.signal });
  });
}

/** `closed()` of a tab: `closedBy` once the session it shows ended. */
export function whenClosed(events: TabEvents, closedBy: ClosedReason | null): Promise<ClosedReason> {
  if (closedBy) return Promise.resolve(closedBy);
  return new Promise((resolve) => {
    const onClose = (event: SocketCloseEvent) => {
      if (!event.closedBy) return;
      events.listeners.remove('close', onClose as never);
      resolve(event.closedBy);
    };
    events.listeners.add('close', onClose as never);
  });
}

type Route = { handler: (message: never) => void; once: boolean };

export class TabEvents {
  readonly listeners = new ListenerRegistry();
  readonly #target: object;
  readonly #typeField: string;
  readonly #routes = new Map<unknown, Route[]>();
  readonly #everyOpen = new Set<() => void>();

  constructor(target: object, typeField: string) {
    this.#target = target;
    this.#typeField = typeField;
  }

  dispatch(event: SocketchartEvent): void {
    event.target = this.#target;
    const slot = (this.#target as Record<string, unknown>)[`on${event.type}`];
    this.listeners.dispatch(event, typeof slot === 'function' ? (slot as (event: never) => void) : null);
  }

  /** A decoded message: type handlers first, then `message` listeners, as a connection does. */
  deliver(data: unknown, origin: string, timeStamp: number): void {
    if (this.#routes.size > 0 && typeof data === 'object' && data !== null) {
      const type = (data as Record<string, unknown>)[this.#typeField];
      const list = this.#routes.get(type);
      if (list) {
        if (list.some((entry) => entry.once)) this.#set(type, list.filter((entry) => !entry.once));
        for (const entry of list) guarded(() => entry.handler(data as never));
      }
    }
    this.dispatch(new SocketMessageEvent(data, origin, timeStamp));
  }

  /** An event the leader sent over the channel. */
  replay(event: WireEvent, t: number): void {
    switch (event.type) {
      case 'open':
        this.runEveryOpen();
        return this.dispatch(new OpenEvent(t));
      case 'close':
        return this.dispatch(new SocketCloseEvent(event, fromWireClosedReason(event.closedBy) ?? undefined, t));
      case 'error':
        return this.dispatch(new SocketErrorEvent(fromWireError(event.error), t));
      case 'reconnecting':
        return this.dispatch(new ReconnectingEvent(event.attempt, event.delay, t));
      case 'giveup':
        return this.dispatch(new GiveupEvent(fromWireClosedReason(event.closedBy) as ClosedReason, t));
      case 'drain':
        return this.dispatch(new DrainEvent(event.bufferedAmount, t));
      case 'invalid-message':
        return this.dispatch(new InvalidMessageEvent(event.data, fromWireProblem(event.problem), t));
    }
  }

  route(type: unknown, handler: (message: never) => void, once: boolean): void {
    if (typeof handler !== 'function') throw invalidOption(`on('${String(type)}', handler)`, 'a function', handler);
    this.#set(type, [...(this.#routes.get(type) ?? []), { handler, once }]);
  }

  unroute(type: unknown, handler: unknown): void {
    this.#set(type, (this.#routes.get(type) ?? []).filter((entry) => entry.handler !== handler));
  }

  onEveryOpen(hook: () => void, openNow: boolean): () => void {
    if (typeof hook !== 'function') throw invalidOption('onEveryOpen(hook)', 'a function', hook);
    this.#everyOpen.add(hook);
    if (openNow) hook();
    return () => this.#everyOpen.delete(hook);
  }

  runEveryOpen(): void {
    for (const hook of [...this.#everyOpen]) guarded(hook);
  }

  #set(type: unknown, list: Route[]): void {
    if (list.length > 0) this.#routes.set(type, list);
    else this.#routes.delete(type);
  }
}

/** As listeners are: a throwing handler is reported (rethrown in a microtask), and the others still run. */
function guarded(fn: () => void): void {
  try {
    fn();
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}
