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

/** Never expected: a change of state is always some transition's. */
const UNKNOWN_CAUSE = Object.freeze({ type: 'unknown' });

/** The facade's `on*` properties, read at dispatch time. */
export interface HandlerSlots {
  onopen: Handler;
  onmessage: Handler;
  onclose: Handler;
  onerror: Handler;
}

/**
 * The connection's events and the chart state the facade shows. `readyState` and `state` are read from the chart's
 * snapshot, never kept beside it. Events are fired once the transition that caused them has committed its snapshot
 * (XState's `@xstate.snapshot` inspection, after the emitted events were handled and the observers told): the
 * transition's `statechange` first, then the rest in order. So a listener sees `readyState` and `state` as they are
 * after the transition, finds the host's part of it done, and may call back into the connection. What the data
 * plane reports between transitions fires at once.
 *
 * The base of `ConnectionRuntime` (one object per connection, so no extra object or hop per event).
 */
export abstract class ConnectionEvents {
  readonly listeners = new ListenerRegistry();
  /** Where the facade's events point (`event.target`) and its `on*` handlers. */
  protected readonly facade: HandlerSlots;
  /** The state path the listeners were last told of (a `statechange`'s `from`). */
  #announced: string | null = null;
  /** The event the transition in progress started with (a `statechange`'s cause); null between transitions. */
  #cause: { type: string } | null = null;
  /** Events waiting for the transition in progress to commit. */
  #pending: SocketchartEvent[] = NONE;
  /**
   * Where the next event to fire sits in `#pending`. Fired events are walked past, not shifted out: a shift copies
   * the rest of the list, so closing with 200,000 queued messages (one `drop` each) took 2.3-3 s instead of ~80 ms.
   */
  #next = 0;
  /** The snapshot `#path` and `#ready` were read from: they are recomputed only when the chart moved. */
  #readFrom: SnapshotFrom<ConnectionMachine> | null = null;
  #path = '';
  #ready: 0 | 1 | 2 | 3 = 0;

  constructor(facade: HandlerSlots) {
    this.facade = facade;
  }

  abstract now(): number;
  /** The chart's current snapshot. */
  protected abstract snapshot(): SnapshotFrom<ConnectionMachine>;
  /** Called as each event fires, just before its listeners. */
  protected abstract firing(event: SocketchartEvent): void;
  /** Called as each event fired, just after its listeners. */
  protected abstract fired(event: SocketchartEvent): void;

  #read(): void {
    const snapshot = this.snapshot();
    if (snapshot === this.#readFrom) return;
    this.#readFrom = snapshot;
    // A chart that failed, or was stopped because its host failed, is gone: the connection is closed (see
    // ConnectionRuntime's backstop).
    const failed = snapshot.status !== 'active';
    this.#path = failed ? 'closed' : statePathOf(snapshot);
    this.#ready = failed ? 3 : readyStateOf(snapshot);
  }

  /** The public state path, from the chart's snapshot. */
  get path(): string {
    this.#read();
    return this.#path;
  }

  get readyState(): 0 | 1 | 2 | 3 {
    this.#read();
    return this.#ready;
  }

  /** `readyState`, for the layers below. */
  protected get state(): 0 | 1 | 2 | 3 {
    this.#read();
    return this.#ready;
  }

  /** From now on the listeners hear of every change of state (from the chart's state now). */
  protected announceFromHere(): void {
    this.#announced = this.path;
  }

  /** The chart is gone (failed or stopped): no commit will come, so nothing waits for one any more. */
  protected abandoned(): void {
    this.#cause = null;
  }

  /** The chart took a step of a transition (XState's microstep inspection): what it causes waits for the commit. */
  protected stepping(event: { type: string }): void {
    this.#cause ??= event;
  }

  /** The transition committed its snapshot: fire its `statechange`, then what waited for it. */
  protected settled(): void {
    const cause = this.#cause;
    this.#cause = null;
    const to = this.path;
    const from = this.#announced;
    this.#announced = to;
    if (from !== null && from !== to) {
      // The transition's statechange fires ahead of what waited for the commit: in the slot of the last event fired.
      const change = new StateChangeEvent(from, to, cause ?? UNKNOWN_CAUSE, this.now());
      if (this.#pending === NONE) this.#pending = [change];
      else if (this.#next > 0) this.#pending[--this.#next] = change;
      else this.#pending.unshift(change);
    }
    this.flush();
  }

  protected queueEvent(event: SocketchartEvent): void {
    if (this.#pending === NONE) this.#pending = [];
    this.#pending.push(event);
  }

  /** Fire `event` now, or, while the chart is mid-transition, once its snapshot is committed. */
  protected emit(event: SocketchartEvent): void {
    this.queueEvent(event);
    if (this.#cause === null) this.flush();
  }

  protected flush(): void {
    const facade = this.facade as unknown as Record<string, Handler>;
    // A listener may emit (a nested flush goes on with the same walk) or end the connection: re-read every turn.
    while (this.#next < this.#pending.length) {
      const pending = this.#pending;
      const event = pending[this.#next] as SocketchartEvent;
      pending[this.#next++] = undefined as never;
      if (this.#next === pending.length) {
        this.#pending = NONE;
        this.#next = 0;
      }
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
    if (this.#cause === null) this.flush();
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
