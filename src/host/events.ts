import type { SnapshotFrom } from 'xstate';
import type { ConnectionMachine } from '../../machines/connection.js';
import type { SendData } from '../data.js';
import { SocketchartError } from '../errors.js';
import {
  DrainEvent,
  DropEvent,
  InvalidMessageEvent,
  ListenerRegistry,
  SocketErrorEvent,
  type SocketchartEvent,
  StateChangeEvent,
} from '../events.js';
import { BatchOrigin, type DropReason, type Dropped } from '../policies/queue.js';
import { readyStateOf, statePathOf } from '../statePath.js';

type Handler = ((event: never) => void) | null;

/** The shared empty list: the pending list is allocated only when an event waits. */
const NONE = Object.freeze([]) as never[];

/** The facade's `on*` properties, read at dispatch time. */
export interface HandlerSlots {
  onopen: Handler;
  onmessage: Handler;
  onclose: Handler;
  onerror: Handler;
}

/**
 * The connection's events and the chart state the facade shows. Events the machine causes are fired only after
 * the machine has committed its new snapshot, so a listener always sees `readyState` and `state` as they are after
 * the transition, and may call back into the connection; events the data plane causes fire at once.
 *
 * The base of `ConnectionRuntime` (one object per connection, so no extra object or hop per event).
 */
export abstract class ConnectionEvents {
  readonly listeners = new ListenerRegistry();
  /** Where the facade's events point (`event.target`) and its `on*` handlers. */
  protected readonly facade: HandlerSlots;
  /** The chart's state path and readyState as of the last committed snapshot. */
  protected statePath = '';
  protected state: 0 | 1 | 2 | 3 = 0;
  /** Events caused by the transition in progress, fired once its snapshot is committed. */
  #pending: SocketchartEvent[] = NONE;
  /** True between a machine action calling the host and the commit of that transition's snapshot. */
  #inTransition = false;

  constructor(facade: HandlerSlots) {
    this.facade = facade;
  }

  abstract now(): number;
  /** Called as each event fires, just before its listeners. */
  protected abstract firing(event: SocketchartEvent): void;
  /** Called as each event fired, just after its listeners. */
  protected abstract fired(event: SocketchartEvent): void;

  get path(): string {
    return this.statePath;
  }

  get readyState(): 0 | 1 | 2 | 3 {
    return this.state;
  }

  /** A machine action called the host: what it causes waits for the commit. */
  protected transitioning(): void {
    this.#inTransition = true;
  }

  /** The machine is gone (it failed): nothing will commit, so what waits must fire without it. */
  protected abandoned(): void {
    this.#inTransition = false;
    this.statePath = 'closed';
    this.state = 3;
  }

  protected queueEvent(event: SocketchartEvent): void {
    if (this.#pending === NONE) this.#pending = [];
    this.#pending.push(event);
  }

  /** Fire `event` now, or, while the machine is mid-transition, once its snapshot is committed. */
  protected emit(event: SocketchartEvent): void {
    this.queueEvent(event);
    if (!this.#inTransition) this.flush();
  }

  /** The machine committed `snapshot`: update what the facade shows, then fire what the transition caused. */
  protected committed(snapshot: SnapshotFrom<ConnectionMachine>, cause: { type: string }): void {
    this.#inTransition = false;
    const from = this.statePath;
    const to = statePathOf(snapshot);
    this.statePath = to;
    this.state = readyStateOf(snapshot);
    if (from !== to) {
      if (this.#pending === NONE) this.#pending = [];
      this.#pending.unshift(new StateChangeEvent(from, to, cause, this.now()));
    }
    this.flush();
  }

  protected flush(): void {
    const facade = this.facade as unknown as Record<string, Handler>;
    while (this.#pending.length > 0) {
      const event = this.#pending.shift() as SocketchartEvent;
      event.target = facade;
      this.firing(event);
      this.listeners.dispatch(event, facade[`on${event.type}`]);
      this.fired(event);
    }
  }

  reportCallbackError(name: string, error: unknown): void {
    const cause = error instanceof Error ? error : new Error(String(error));
    const reported = new SocketchartError('ERR_INVALID_OPTION', `Your \`${name}\` callback threw: ${cause.message}`, { cause });
    // Called from a guard or an action: the event goes out once the transition commits.
    this.queueEvent(new SocketErrorEvent(reported, this.now()));
  }

  /** The same, from the data plane (no transition in progress): fired now. */
  reportCallbackErrorNow(name: string, error: unknown): void {
    this.reportCallbackError(name, error);
    this.flush();
  }

  /** The queue reports what it drops here. */
  dropped({ data, reason, message }: Dropped): void {
    this.emit(new DropEvent(data, reason, this.now(), message));
  }

  /** Reports a frame that will not be delivered: each message of a batch, or the one message it carries. */
  reportDrop(data: SendData, origin: unknown, reason: DropReason): void {
    if (!(origin instanceof BatchOrigin)) this.emit(new DropEvent(data, reason, this.now(), origin));
    else for (let i = 0; i < origin.frames.length; i++) this.emit(new DropEvent(origin.frames[i] as SendData, reason, this.now(), origin.messages[i]));
  }

  /** Reports messages as dropped, after the transition in progress if there is one. */
  reportDrops(frames: readonly SendData[], messages: readonly unknown[], reason: DropReason): void {
    for (let i = 0; i < frames.length; i++) this.queueEvent(new DropEvent(frames[i] as SendData, reason, this.now(), messages[i]));
    if (!this.#inTransition) this.flush();
  }

  /** An `invalid-message` event, safe mid-transition: it waits for the commit like the chart's own. */
  reportInvalid(data: unknown, problem: unknown): void {
    this.emit(new InvalidMessageEvent(data, problem, this.now()));
  }

  /** Sends waited for the socket's buffer, and it is low again. */
  drained(bufferedAmount: number): void {
    this.emit(new DrainEvent(bufferedAmount, this.now()));
  }
}
