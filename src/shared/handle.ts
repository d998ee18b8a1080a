/**
 * What a tab's handle offers besides its connection's commands: the `Connection` event API (listeners, `on*`
 * handlers, message routing by type, `onEveryOpen`, `subscribe`, `opened()`/`closed()`) over the events the tab
 * hears (view.ts), and the readyState constants.
 */
import type { ClosedReason } from '../../machines/connection.js';
import type { MessageOf, MessageType, OpenedOptions, Subscription } from '../connection.js';
import { SocketchartError, invalidOption, missingPlugin } from '../errors.js';
import { type AppEvent, type ConnectionEventMap, type Listener, type ListenerOptions, dispatchAppEvent } from '../events.js';
import { TabEvents, whenClosed, whenOpen } from './view.js';

type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'] | null;

export abstract class TabHandle<In, Out> {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  onopen: Handler<ConnectionEventMap<In>['open']> = null;
  onmessage: Handler<ConnectionEventMap<In>['message']> = null;
  onclose: Handler<ConnectionEventMap<In>['close']> = null;
  onerror: Handler<ConnectionEventMap<In>['error']> = null;

  /** What this tab's listeners hear. */
  protected readonly events: TabEvents;

  /** The field `on()` routes messages by: the router plug-in's; null without it (`on()` then throws, as on a connection). */
  readonly #typeField: string | null;

  constructor(typeField: string | null) {
    this.#typeField = typeField;
    this.events = new TabEvents(this, typeField ?? 'type');
  }

  #routed(): void {
    if (this.#typeField === null) throw missingPlugin('on/once/off(type, handler)', 'router', 'router()');
  }

  abstract get state(): string;
  abstract get readyState(): 0 | 1 | 2 | 3;
  abstract get closedBy(): ClosedReason | null;
  abstract send(message: Out): void;

  /** Handle decoded messages whose `typeField` is `type`, in every tab; handlers run before `message` listeners. */
  on<T extends MessageType<In>>(type: T, handler: (message: MessageOf<In, T>) => void): this {
    this.#routed();
    this.events.route(type, handler as (m: never) => void, false);
    return this;
  }

  once<T extends MessageType<In>>(type: T, handler: (message: MessageOf<In, T>) => void): this {
    this.#routed();
    this.events.route(type, handler as (m: never) => void, true);
    return this;
  }

  off<T extends MessageType<In>>(type: T, handler: (message: MessageOf<In, T>) => void): this {
    this.#routed();
    this.events.unroute(type, handler);
    return this;
  }

  /** Run `hook` on every open this tab sees (now too, if open). In a follower its sends go through the leader. */
  onEveryOpen(hook: () => void): () => void {
    return this.events.onEveryOpen(hook, this.state === 'open');
  }

  subscribe(message: Out, options: { unsubscribe?: Out } = {}): Subscription {
    const stop = this.onEveryOpen(() => this.send(message));
    return {
      unsubscribe: () => {
        stop();
        if (options.unsubscribe !== undefined && this.readyState === 1) this.send(options.unsubscribe);
      },
    };
  }

  opened(options: OpenedOptions = {}): Promise<void> {
    return whenOpen(this.events, this.state, options);
  }

  closed(): Promise<ClosedReason> {
    return whenClosed(this.events, this.state === 'closed' ? this.closedBy : null);
  }

  addEventListener<K extends keyof ConnectionEventMap<In, Out>>(type: K, listener: Listener<ConnectionEventMap<In, Out>[K]> | null, options?: ListenerOptions | boolean): void {
    if (listener == null) return;
    if (typeof listener !== 'function' && typeof (listener as { handleEvent?: unknown }).handleEvent !== 'function') {
      throw invalidOption(`addEventListener('${String(type)}', listener)`, 'a function or an object with handleEvent()', listener);
    }
    this.events.listeners.add(type, listener as Listener<never>, options);
  }

  removeEventListener<K extends keyof ConnectionEventMap<In, Out>>(type: K, listener: Listener<ConnectionEventMap<In, Out>[K]> | null): void {
    if (listener) this.events.listeners.remove(type, listener as Listener<never>);
  }

  /** As a connection's: the app's event to the `on<type>` handler and the listeners (see `Connection.dispatchEvent`). */
  dispatchEvent(event: AppEvent): boolean {
    return dispatchAppEvent(this, this.events.listeners, event);
  }
}

for (const [name, value] of [['CONNECTING', 0], ['OPEN', 1], ['CLOSING', 2], ['CLOSED', 3]] as const) {
  Object.defineProperty(TabHandle.prototype, name, { value, enumerable: true });
}

/** A closed handle left the shared session (or, alone, ended its connection): it does not come back. */
export function assertNotClosed(ended: boolean, call: string): void {
  if (ended) throw new SocketchartError('ERR_CONNECTION_CLOSED', `${call} on a shared connection this tab closed: a closed handle does not open again; make a new one with createSharedConnection().`);
}
